"""Awkward and hostile fragment bodies over real HTTP: the format is decided robustly, and the
documented limits (lowered here so the data stays small) end the run clearly and in bounded
memory."""

from __future__ import annotations

import tracemalloc
import typing as t

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts import limits
from tap_backstory_contacts.errors import DataFormatError
from tap_backstory_contacts.limits import LimitExceededError
from tap_backstory_contacts.records import TAP_FIELDS
from tests.conftest import make_config
from tests.singer_run import sync

END = "2026-01-05"  # one window: 25 contacts in 7 fragments of at most 4
SHAPES = [
    ("array", False),
    ("array", True),
    ("lines", False),
    ("wrapper", False),
    ("wrapper", True),
]
AWKWARD_FIELDS = {
    "nested value": (("tags", ["vip", {"since": 2019}]), ("address", {"city": "Zürich"})),
    "wrapper-named keys": (("data", ["x"]), ("items", None), ("contacts", {"n": 1})),
    "first record over 64 KiB": (("notes", "é}" * 40_000),),
}
MIB = 1 << 20


def _api_part(record: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in record.items() if k not in TAP_FIELDS}


def _fragment_downloads(api: FakeBackstory, fragment: int) -> int:
    return sum(
        1 for r in api.requests if r.endpoint == "data" and r.query.get("fragment") == str(fragment)
    )


@pytest.mark.parametrize("fields", list(AWKWARD_FIELDS))
def test_every_shape_gives_the_same_records_whatever_the_first_record_holds(
    api: FakeBackstory, fields: str
) -> None:
    expected = [_api_part(r) for r in sync(make_config(api, end_date=END)).records]
    api.config.added_fields = AWKWARD_FIELDS[fields]
    for shape, pretty in SHAPES:
        api.config.json_shape = shape
        api.config.json_pretty = pretty
        api.reset()
        records = sync(make_config(api, end_date=END)).records
        assert [_api_part(r) for r in records] == expected, (shape, pretty)
        # Read right the first time: no fragment fetched twice.
        assert api.count("data") == 7, (shape, pretty)


def test_csv_header_naming_a_column_twice_is_an_error(api: FakeBackstory) -> None:
    api.config.csv_header_names = (("phone", "Email "),)
    with pytest.raises(DataFormatError) as caught:
        sync(make_config(api, end_date=END, output_format="CSV"))
    job = api.created_jobs()[0]
    assert str(caught.value).startswith(
        f"export job {job.job_id} (window 2026-01-01..2026-01-05), fragment 0 of 7: "
        "the CSV header names the column 'email' more than once (columns 3 'email', 4 'Email ')"
    )
    assert _fragment_downloads(api, 0) == 1


def _failed_sync_peak(config: dict[str, t.Any]) -> tuple[LimitExceededError, int]:
    """The limit error a sync ends with, and the peak of memory allocated during it."""
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as caught:
            sync(config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, peak


@pytest.mark.parametrize("gzip", ["magic", "header"])
def test_fragment_expanding_past_the_limit_fails_in_bounded_memory(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch, gzip: str
) -> None:
    monkeypatch.setattr(limits, "MAX_FRAGMENT_BYTES", 4 * MIB)
    api.config.gzip = gzip
    api.config.hostile_body = "whitespace"
    api.config.hostile_bytes = 32 * MIB  # about 32 KiB of gzip
    error, peak = _failed_sync_peak(make_config(api, end_date=END, max_parallel_downloads=1))
    job = api.created_jobs()[0]
    assert str(error).startswith(
        f"export job {job.job_id} (window 2026-01-01..2026-01-05), fragment 0 of 7: the "
    )
    assert "more than the limit of 4 MiB (4194304 bytes)" in str(error)
    assert _fragment_downloads(api, 0) == 1
    assert peak < 12 * MIB


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("lines", "JSON line 1: longer than the limit of 1 MiB (1048576 bytes)"),
        ("array", "does not end within the limit of 1 MiB (1048576 bytes) for one record"),
        ("wrapper", "does not end within the limit of 1 MiB (1048576 bytes) for one record"),
    ],
)
def test_record_longer_than_the_limit_fails_in_bounded_memory(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch, shape: str, message: str
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", MIB)
    api.config.json_shape = shape
    api.config.gzip = "magic"
    api.config.hostile_body = "long_value"
    api.config.hostile_bytes = 32 * MIB
    error, peak = _failed_sync_peak(make_config(api, end_date=END, max_parallel_downloads=1))
    job = api.created_jobs()[0]
    assert str(error).startswith(f"export job {job.job_id} (window 2026-01-01..2026-01-05), ")
    assert "fragment 0 of 7" in str(error)
    assert message in str(error)
    assert _fragment_downloads(api, 0) == 1
    assert peak < 12 * MIB


@pytest.mark.parametrize("shape", ["array", "wrapper", "lines"])
def test_whitespace_runs_within_the_limits_are_skipped(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setattr(limits, "MAX_RECORD_BYTES", MIB)
    expected = [_api_part(r) for r in sync(make_config(api, end_date=END)).records]
    api.config.json_shape = shape
    api.config.hostile_body = "whitespace"
    api.config.hostile_bytes = 4 * MIB
    records = sync(make_config(api, end_date=END)).records
    assert [_api_part(r) for r in records] == expected
