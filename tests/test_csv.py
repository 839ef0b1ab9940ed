"""CSV exports deliver exactly the records JSON exports do, whatever the CSV's dialect."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts.errors import DataFormatError
from tests.conftest import make_config
from tests.singer_run import run_cli, sync

LINEAGE = ("export_job_id",)


def _comparable(records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Records without the job id, which differs between the two syncs."""
    return [{k: v for k, v in r.items() if k not in LINEAGE} for r in records]


@pytest.fixture
def json_records(api: FakeBackstory) -> list[dict[str, t.Any]]:
    """The JSON sync of the default range, to compare CSV syncs against."""
    records = sync(make_config(api)).records
    api.reset()
    return records


@pytest.mark.parametrize(
    "dialect",
    [
        {},
        {"csv_bool": "True"},
        {"csv_bool": "1"},
        {"csv_bool": "yes"},
        {"csv_bom": True},
        {"csv_line_terminator": "\n"},
        {"gzip": "header"},
        {"gzip": "magic", "csv_bom": True},
        {"report_fragments": False},
        {"report_fragments": False, "gzip": "header", "csv_line_terminator": "\n"},
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()) or "default",
)
def test_csv_sync_equals_json_sync(
    api: FakeBackstory, json_records: list[dict[str, t.Any]], dialect: dict[str, t.Any]
) -> None:
    for name, value in dialect.items():
        setattr(api.config, name, value)
    csv_records = sync(make_config(api, output_format="CSV")).records
    assert _comparable(csv_records) == _comparable(json_records)
    assert len(csv_records) == 50
    data = [r for r in api.requests if r.endpoint == "data"]
    if dialect.get("report_fragments") is False:
        assert len(data) == 2  # one stitched download per window
        assert all("fragment" not in r.query for r in data)
    else:
        assert len(data) == 14


def test_csv_has_the_nasty_values_the_fake_generates(json_records: list[dict[str, t.Any]]) -> None:
    """The parity above is meaningful: the data has quotes, commas, newlines, non-ASCII."""
    values = [str(v) for r in json_records for v in r.values() if isinstance(v, str)]
    assert any("," in v for v in values)
    assert any('"' in v for v in values)
    assert any("\n" in v for v in values)
    assert any(not v.isascii() for v in values)
    assert any(r["phone"] is None for r in json_records)


def test_extra_csv_columns_are_logged_once(
    api: FakeBackstory, caplog: pytest.LogCaptureFixture
) -> None:
    api.config.extra_fields = True
    out = sync(make_config(api, output_format="CSV"))
    assert len(out.records) == 50
    assert all("linkedin_url" not in r for r in out.records)
    logged = [r.getMessage() for r in caplog.records if "not in the schema" in r.getMessage()]
    assert len(logged) == 1


@pytest.mark.parametrize(("output_format", "unit"), [("CSV", "CSV row 3"), ("JSON", "record 3")])
def test_untypable_value_fails_naming_job_fragment_row_and_column(
    api: FakeBackstory, output_format: str, unit: str
) -> None:
    api.config.bad_value_at = 6  # fragment 1 (4 records per fragment), its third record
    with pytest.raises(DataFormatError) as caught:
        sync(make_config(api, output_format=output_format))
    job = api.created_jobs()[0]
    assert str(caught.value).startswith(
        f"export job {job.job_id} (window 2026-01-01..2026-01-05), fragment 1 of 7, {unit}, "
        "field 'total_inbound': cannot read 'n/a' as an integer"
    )


def test_run_stops_at_the_bad_value_without_skipping_or_bookmarking(
    api: FakeBackstory, tmp_path: Path
) -> None:
    api.config.bad_value_at = 6
    result = run_cli(tmp_path, make_config(api, output_format="CSV"))
    assert result.returncode != 0
    assert "cannot read 'n/a' as an integer" in result.stderr
    expected = api.expected_records("2026-01-01", "2026-01-05")
    # Everything before the bad record arrived in order, nothing after it, and no bookmark.
    assert [r["email"] for r in result.output.records] == [r["email"] for r in expected[:6]]
    assert all(result.output.bookmark(s) is None for s in result.output.states)
