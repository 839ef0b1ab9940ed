"""A fragment body is checked against what the job status promised, a CSV header against the
schema, and integers against what a warehouse column holds (issue 17, items 1, 2 and 4): a
contact is never dropped, nor a window bookmarked, on data the API's own answers contradict."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts.errors import DataFormatError, UnreadableDataError
from tests.conftest import make_config
from tests.singer_run import run_cli, sync

WINDOW = "window 2026-01-01..2026-01-05"


def one_window(api: FakeBackstory, **overrides: t.Any) -> dict[str, t.Any]:
    """One 5-day window: 25 contacts in 7 fragments (the ``api`` fixture's data)."""
    return make_config(api, end_date="2026-01-05", max_concurrent_jobs=1, **overrides)


def data_requests(api: FakeBackstory, fragment: str | None) -> int:
    """Downloads of one fragment (None: the stitched export)."""
    return sum(
        1 for r in api.requests if r.endpoint == "data" and r.query.get("fragment") == fragment
    )


@pytest.mark.parametrize("whitespace", [0, 64])
def test_an_empty_fragment_of_several_is_fetched_again_and_nothing_is_lost(
    api: FakeBackstory, whitespace: int
) -> None:
    api.faults.add("data", "empty_body", fragment=1, whitespace=whitespace)
    out = sync(one_window(api))
    assert len(out.records) == 25
    assert len({r["contact_key"] for r in out.records}) == 25
    assert out.bookmark() == "2026-01-05"
    assert data_requests(api, "1") == 2


def test_a_fragment_empty_on_every_download_fails_naming_it_and_bookmarks_nothing(
    api: FakeBackstory, tmp_path: Path
) -> None:
    api.faults.add("data", "empty_body", times=3, fragment=1)
    result = run_cli(tmp_path, one_window(api))
    assert result.returncode == 1
    assert (
        f"export job ce-000001 ({WINDOW}), fragment 1 of 7: the body is empty (0 bytes), but "
        "the job status reports 7 fragments: the download is damaged"
    ) in result.stderr
    assert "(the same after 3 downloads" in result.stderr
    assert "unexpected error" not in result.stderr
    assert all(
        state["bookmarks"]["enriched_contacts"].get("replication_key_value") is None
        for state in result.output.states
    )
    assert data_requests(api, "1") == 3


@pytest.fixture
def stitched_api() -> t.Iterator[FakeBackstory]:
    """Status answers without ``fragments``: the tap downloads the stitched export."""
    config = FakeConfig(contacts_per_day=5, fragment_size=4, report_fragments=False)
    with FakeBackstory(config) as server:
        yield server


def test_an_empty_stitched_download_of_a_job_with_results_is_fetched_again(
    stitched_api: FakeBackstory,
) -> None:
    stitched_api.faults.add("data", "empty_body")
    out = sync(one_window(stitched_api))
    assert len(out.records) == 25
    assert out.bookmark() == "2026-01-05"
    assert data_requests(stitched_api, None) == 2


def test_an_empty_stitched_download_every_time_is_an_error_naming_results_size(
    stitched_api: FakeBackstory,
) -> None:
    stitched_api.faults.add("data", "empty_body", times=3)
    with pytest.raises(UnreadableDataError) as caught:
        sync(one_window(stitched_api))
    message = str(caught.value)
    assert f"export job ce-000001 ({WINDOW}), the stitched export" in message
    assert "the body is empty (0 bytes), but the job status reports results_size " in message
    assert data_requests(stitched_api, None) == 3


@pytest.mark.parametrize("empty_fragments", ["zero", "missing"])
def test_an_honest_empty_export_with_an_empty_body_still_advances(
    api: FakeBackstory, empty_fragments: str
) -> None:
    # JSON Lines: the export of no contact is a body of 0 bytes, and results_size is 0.
    api.config.json_shape = "lines"
    api.config.data_last_day = "2025-12-31"
    api.config.empty_fragments = empty_fragments
    out = sync(one_window(api))
    assert out.records == []
    assert out.bookmark() == "2026-01-05"
    assert data_requests(api, None) == 1


def test_a_csv_fragment_without_its_header_row_is_an_error_not_a_lost_contact(
    tmp_path: Path,
) -> None:
    # One contact per fragment: without the header, its row would be read as the header.
    # Fragment 4's contact has no empty cell, so no duplicate header name gives it away.
    with FakeBackstory(FakeConfig(contacts_per_day=1, fragment_size=1)) as api:
        api.faults.add("data", "no_header", fragment=4)
        result = run_cli(tmp_path, one_window(api, output_format="CSV"))
    assert result.returncode == 1
    assert (
        f"export job ce-000001 ({WINDOW}), fragment 4 of 5, CSV line 1: the header row names "
        "none of the schema's fields ("
    ) in result.stderr
    assert "a CSV fragment must start with its header row" in result.stderr
    assert len(result.output.records) == 4  # fragments 0 to 3
    assert all(
        state["bookmarks"]["enriched_contacts"].get("replication_key_value") is None
        for state in result.output.states
    )


INVALID_INTEGERS = ["1_000", "\u0661\u0662\u0663", 1e300, 2**63, 2**64 - 1, "1e3", "9" * 30, -1e19]


@pytest.mark.parametrize("value", INVALID_INTEGERS, ids=repr)
def test_an_integer_outside_ascii_decimal_and_64_bits_is_a_data_error_naming_the_field(
    api: FakeBackstory, value: t.Any
) -> None:
    api.config.added_fields = (("total_inbound", value),)
    with pytest.raises(DataFormatError) as caught:
        sync(one_window(api))
    assert (
        f"export job ce-000001 ({WINDOW}), fragment 0 of 7, record 1, field 'total_inbound': "
        f"cannot read {value!r} as an integer"
    ) in str(caught.value)


@pytest.mark.parametrize("value", INVALID_INTEGERS[:2], ids=repr)
def test_csv_integers_are_ascii_decimal_too(tmp_path: Path, value: str) -> None:
    config = FakeConfig(contacts_per_day=5, fragment_size=4, bad_value_at=5, bad_value=value)
    with FakeBackstory(config) as api:
        result = run_cli(tmp_path, one_window(api, output_format="CSV"))
    assert result.returncode == 1
    assert (
        f"fragment 1 of 7, CSV row 2, field 'total_inbound': cannot read {value!r} as an integer"
    ) in result.stderr
    assert len(result.output.records) == 5
    assert all(
        state["bookmarks"]["enriched_contacts"].get("replication_key_value") is None
        for state in result.output.states
    )


@pytest.mark.parametrize(
    ("value", "read"),
    [(2**63 - 1, 2**63 - 1), (-(2**63), -(2**63)), ("-12", -12), (" 7 ", 7), (3.0, 3)],
)
def test_integers_within_64_bits_are_read(api: FakeBackstory, value: t.Any, read: int) -> None:
    api.config.added_fields = (("total_inbound", value),)
    out = sync(one_window(api))
    assert [r["total_inbound"] for r in out.records] == [read] * 25
