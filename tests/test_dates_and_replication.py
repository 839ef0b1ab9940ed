"""start_date/end_date forms (dates, ISO 8601 date-times, relative days), and the replication
methods the tap honours: INCREMENTAL only, a FULL_TABLE request warned about and run
incrementally."""

from __future__ import annotations

import datetime
import json
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts.saved_state import parse_date
from tap_backstory_contacts.settings import parse_setting_date, semantic_errors
from tests.conftest import make_config
from tests.singer_run import bookmark_state, run_cli, sync

D = datetime.date


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-08-29", D(2026, 8, 29)),
        # What Meltano 4.4.1 hands the tap for `start_date: 90 days ago` (naive: UTC).
        ("2026-08-29T16:11:58.788263", D(2026, 8, 29)),
        ("2026-08-29T23:59", D(2026, 8, 29)),
        ("2026-08-29 23:59:59", D(2026, 8, 29)),
        ("2026-09-01T00:00:00+00:00", D(2026, 9, 1)),
        ("2026-09-01T00:00:00Z", D(2026, 9, 1)),
        ("2026-09-01t00:00:00z", D(2026, 9, 1)),
        ("2026-09-01T00:00:00.123456789Z", D(2026, 9, 1)),
        # A zone converts to the UTC calendar day, in both directions.
        ("2026-09-01T01:30:00+02:00", D(2026, 8, 31)),
        ("2026-08-31T20:00:00-0500", D(2026, 9, 1)),
        ("2026-12-31T23:30:00-01:00", D(2027, 1, 1)),
    ],
)
def test_setting_dates_accept_dates_and_iso_date_times(value: str, day: datetime.date) -> None:
    assert parse_setting_date(value) == day
    # end_date: a start_date after today is refused (issue 17.15), and one case is 2027.
    assert semantic_errors({"end_date": value}) == []


@pytest.mark.parametrize(
    "value",
    [
        # Typos that Meltano's lenient `date_iso8601` parser would have turned into dates.
        "2026-13-01",
        "01-10-2026",
        "Oct 1 2026",
        "2026-W01-1",
        "in 3 days",
        "3 days",
        "-3 days ago",
        "2026/08/29",
        "20260829",
        "2026-8-29",
        "2026-02-30",
        "2026-08-29T25:00:00",
        "2026-08-29T16:11:58+0",
        "2026-08-29Tnoon",
        "2026-08-29T16:11:58 UTC",
        "",
    ],
)
def test_other_setting_values_are_one_error_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="not a date, an ISO 8601 date-time or a relative date"):
        parse_setting_date(value)
    assert semantic_errors({"end_date": value}) == [
        f"end_date: {value!r} is not a date in YYYY-MM-DD form, an ISO 8601 date-time or a "
        "relative date (e.g. 2026-01-01, 2026-01-01T00:00:00Z, 30 days ago, yesterday, today)"
    ]


@pytest.mark.parametrize(
    ("value", "days_back"),
    [
        ("today", 0),
        ("yesterday", 1),
        ("Yesterday", 1),
        ("0 days ago", 0),
        ("1 day ago", 1),
        ("30 days ago", 30),
        (" 90  Days  Ago ", 90),
    ],
)
def test_relative_setting_dates_count_back_from_todays_utc_date(value: str, days_back: int) -> None:
    today = D(2026, 3, 1)
    assert parse_setting_date(value, today=today) == today - datetime.timedelta(days=days_back)
    assert semantic_errors({"start_date": value}) == []


def test_state_dates_stay_strict() -> None:
    """Bookmarks and ledger windows are written as YYYY-MM-DD; nothing else is read back."""
    assert parse_date("2026-01-05") == D(2026, 1, 5)
    with pytest.raises(ValueError, match="2026-01-05T00:00:00"):
        parse_date("2026-01-05T00:00:00")


def test_date_time_settings_extract_their_utc_days(api: FakeBackstory) -> None:
    """A naive date-time and a zoned one select the same UTC days as their dates."""
    config = make_config(
        api, start_date="2026-01-01T16:11:58.788263", end_date="2026-01-06T01:00:00+02:00"
    )
    out = sync(config)

    jobs = [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]
    assert jobs == [("2026-01-01", "2026-01-05")]
    assert len(out.records) == len(api.expected_records("2026-01-01", "2026-01-05")) > 0
    assert out.bookmark() == "2026-01-05"


def test_an_end_date_time_before_the_start_names_both_days(
    api: FakeBackstory, tmp_path: Path
) -> None:
    config = make_config(api, start_date="2026-01-03", end_date="2026-01-03T01:00:00+03:00")
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    assert "end_date: 2026-01-02 is before start_date 2026-01-03" in result.stderr
    assert api.requests == []


def catalog_with(tmp_path: Path, config: dict[str, t.Any], method: str) -> list[str]:
    """CLI arguments passing the discovered catalog, selected, with ``method`` forced."""
    discovered = run_cli(tmp_path, config, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    (stream,) = catalog["streams"]
    stream["replication_method"] = method
    root = next(m for m in stream["metadata"] if m["breadcrumb"] == [])
    root["metadata"]["selected"] = True
    root["metadata"]["forced-replication-method"] = method
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return ["--catalog", str(path)]


def test_full_table_is_warned_about_and_runs_incrementally(
    api: FakeBackstory, tmp_path: Path
) -> None:
    """FULL_TABLE resumes from the bookmark like INCREMENTAL, says so, and sends no
    ACTIVATE_VERSION (the tap does not advertise activate-version)."""
    config = make_config(api)
    args = catalog_with(tmp_path, config, "FULL_TABLE")
    result = run_cli(tmp_path, config, *args, state=bookmark_state("2026-01-05"))

    assert result.returncode == 0, result.stderr
    assert "replication method FULL_TABLE, which this tap does not support" in result.stderr
    assert "--full-refresh" in result.stderr
    jobs = [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]
    assert jobs == [("2026-01-06", "2026-01-10")]
    out = result.output
    assert {m["type"] for m in out.messages} == {"SCHEMA", "RECORD", "STATE"}
    assert len(out.records) == len(api.expected_records("2026-01-06", "2026-01-10")) > 0
    assert out.bookmark() == "2026-01-10"


def test_incremental_catalog_runs_without_the_warning(api: FakeBackstory, tmp_path: Path) -> None:
    config = make_config(api)
    args = catalog_with(tmp_path, config, "INCREMENTAL")
    result = run_cli(tmp_path, config, *args, state=bookmark_state("2026-01-05"))
    assert result.returncode == 0, result.stderr
    assert "FULL_TABLE" not in result.stderr
    assert result.output.bookmark() == "2026-01-10"


def test_about_lists_only_what_the_tap_does(tmp_path: Path) -> None:
    about = run_cli(tmp_path, {}, "--about", "--format=json")
    assert about.returncode == 0, about.stderr
    capabilities = json.loads(about.stdout)["capabilities"]
    assert "activate-version" not in capabilities
    assert {"catalog", "discover", "state", "about", "batch"} <= set(capabilities)
