"""start_date and end_date that cannot be meant (issue 17, item 15): a start_date in the future
(a typo such as 2062 for 2026) would make every run "up to date", and a year-1 date with
lookback_days crashed with OverflowError. Both are refused naming the setting, before any
request; a start_date of today is allowed, with a WARNING."""

from __future__ import annotations

import datetime
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts.settings import semantic_errors
from tests.conftest import make_config
from tests.singer_run import run_cli, sync


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@pytest.mark.parametrize("start_date", ["2062-01-01", "9999-12-31", "9999-12-31T23:59:59Z"])
def test_a_start_date_in_the_future_is_refused_naming_it(
    api: FakeBackstory, tmp_path: Path, start_date: str
) -> None:
    config = make_config(api, start_date=start_date)
    del config["end_date"]
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    day = start_date[:10]
    assert (
        f"start_date: {day} is in the future (today is {today()} UTC): every run would extract "
        "nothing until then. Check the year"
    ) in result.stderr
    assert "up to date" not in result.stderr
    assert api.count("token") == 0
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("overrides", "name", "day"),
    [
        ({"start_date": "0001-01-01", "lookback_days": 3}, "start_date", "0001-01-01"),
        ({"start_date": "1969-12-31"}, "start_date", "1969-12-31"),
        ({"start_date": "0001-01-01", "end_date": "0001-01-05"}, "end_date", "0001-01-05"),
    ],
)
def test_a_date_before_1970_is_refused_naming_the_setting(
    api: FakeBackstory, tmp_path: Path, overrides: dict[str, t.Any], name: str, day: str
) -> None:
    result = run_cli(tmp_path, make_config(api, **overrides))
    assert result.returncode == 1
    assert (
        f"{name}: {day} is before 1970-01-01, the earliest date the tap accepts; check the year"
    ) in result.stderr
    assert "OverflowError" not in result.stderr
    assert "unexpected error" not in result.stderr
    assert api.count("token") == 0


def test_a_start_date_of_today_runs_with_a_warning_and_creates_no_job(
    api: FakeBackstory, tmp_path: Path
) -> None:
    config = make_config(api, start_date=today().isoformat(), lookback_days=366)
    del config["end_date"]
    result = run_cli(tmp_path, config)
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "| WARNING" in line)
    assert f"start_date {today()} is today: its data is complete only tomorrow" in warning
    assert api.count("create") == 0


def test_the_latest_end_date_runs_capped_to_yesterday(api: FakeBackstory) -> None:
    yesterday = (today() - datetime.timedelta(days=1)).isoformat()
    config = make_config(api, start_date=yesterday, end_date="9999-12-31")
    assert semantic_errors(config) == []
    out = sync(config)
    assert len(out.records) == 5
    assert out.bookmark() == yesterday
