"""A damaged or hand-edited state is a WARNING and a fresh start at start_date: never a
crash, never a silent skip; stale ledger entries cost one line, however many."""

from __future__ import annotations

import datetime
import logging
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts import clock
from tests.singer_run import STREAM, bookmark_state, run_cli, sync

ALL_RECORDS = 50  # conftest: 5 contacts a day, 2026-01-01..2026-01-10


def stream_state(**values: t.Any) -> dict[str, t.Any]:
    """A state whose stream state is ``values``."""
    return {"bookmarks": {STREAM: values}}


def ledger_entry(job_id: str, day: datetime.date) -> dict[str, t.Any]:
    """A well-formed ledger entry for a one-day window."""
    return {
        "job_id": job_id,
        "start_date": day.isoformat(),
        "end_date": day.isoformat(),
        "fingerprint": "0123456789abcdef",
        "fragments_emitted": 0,
    }


MALFORMED = [
    ({"bookmarks": []}, "The state's 'bookmarks' is a JSON array, not an object"),
    ({"bookmarks": None}, "The state's 'bookmarks' is a JSON null, not an object"),
    ([{"bookmarks": {}}], "The state is a JSON array, not an object"),
    ({"bookmarks": {STREAM: []}}, f"The state of stream '{STREAM}' is a JSON array"),
    ({"bookmarks": {STREAM: "2026-01-03"}}, f"The state of stream '{STREAM}' is a JSON string"),
    (bookmark_state("9999-12-31"), "The bookmark '9999-12-31' in the state is after today"),
    (bookmark_state("2030-01-01"), "The bookmark '2030-01-01' in the state is after today"),
    (bookmark_state("2026-02-30"), "The bookmark '2026-02-30' in the state is not a YYYY-MM-DD"),
    (
        stream_state(replication_key="export_end_date", replication_key_value=20260103),
        "The bookmark 20260103 in the state is not a YYYY-MM-DD date",
    ),
    (
        stream_state(replication_key="updated_at", replication_key_value="2026-01-03"),
        "belongs to replication key 'updated_at', not 'export_end_date'",
    ),
    (stream_state(jobs={"job_id": "x"}), "Ignoring 1 unreadable job ledger entry in the state"),
    (stream_state(jobs=[1, {"job_id": 5}, None]), "Ignoring 3 unreadable job ledger entries"),
]


@pytest.mark.parametrize(("state", "warning"), MALFORMED)
def test_malformed_state_warns_and_starts_at_start_date(
    api: FakeBackstory,
    config: dict[str, t.Any],
    caplog: pytest.LogCaptureFixture,
    state: t.Any,
    warning: str,
) -> None:
    out = sync(config, state)
    assert len(out.records) == ALL_RECORDS
    assert {r["export_start_date"] for r in out.records} >= {"2026-01-01"}
    assert out.bookmark() == "2026-01-10"
    assert out.final_state["bookmarks"][STREAM]["jobs"] == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if warning in w]) == 1, warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("state", "warning"), MALFORMED[:5:2])
def test_malformed_state_file_on_the_command_line(
    api: FakeBackstory,
    config: dict[str, t.Any],
    tmp_path: Path,
    state: t.Any,
    warning: str,
) -> None:
    result = run_cli(tmp_path, config, state=state)
    assert result.returncode == 0, result.stderr
    assert len(result.output.records) == ALL_RECORDS
    assert result.output.bookmark() == "2026-01-10"
    assert f"WARNING  | tap-backstory-contacts         | {warning}" in result.stderr
    assert "Traceback" not in result.stderr


def test_todays_bookmark_counts_as_up_to_date_with_one_warning(
    api: FakeBackstory,
    config: dict[str, t.Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The clock of the run that wrote it was ahead: it is already 2026-01-12 there.
    monkeypatch.setattr(clock, "utc_today", lambda: datetime.date(2026, 1, 11))
    out = sync({**config, "end_date": None}, bookmark_state("2026-01-11"))
    assert out.records == []
    assert api.requests == []
    assert out.bookmark() == "2026-01-11"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "is today's date, after the last complete UTC day 2026-01-10" in warnings[0]

    caplog.clear()
    again = sync({**config, "end_date": None, "lookback_days": 2}, bookmark_state("2026-01-11"))
    assert {r["export_start_date"] for r in again.records} == {"2026-01-09"}
    assert again.bookmark() == "2026-01-11"  # never moved back
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_a_bookmark_before_start_date_with_lookback_starts_at_start_date(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    out = sync({**config, "lookback_days": 366}, bookmark_state("0001-01-01"))
    assert len(out.records) == ALL_RECORDS
    assert out.bookmark() == "2026-01-10"


def test_ten_thousand_stale_ledger_entries_are_dropped_in_one_line(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = datetime.date(2000, 1, 1)
    stale = [ledger_entry(f"old-{i}", first + datetime.timedelta(days=i)) for i in range(10_000)]
    out = sync(config, stream_state(jobs=stale))
    assert len(out.records) == ALL_RECORDS
    assert out.final_state["bookmarks"][STREAM]["jobs"] == []
    polled = {r.path.rsplit("/", 1)[1] for r in api.requests if r.endpoint == "status"}
    assert polled == {"ce-000001", "ce-000002"}  # no stale job was looked up
    dropped = [r.getMessage() for r in caplog.records if "export job" in r.getMessage()]
    dropped = [m for m in dropped if "not part of this run" in m]
    assert dropped == [
        "Dropped 10000 export job(s) from state whose window is not part of this run "
        "(2000-01-01..2000-01-01, 2000-01-02..2000-01-02, 2000-01-03..2000-01-03, …); "
        "a later run that needs one of these windows creates a new job"
    ]


def test_an_up_to_date_run_drops_stale_ledger_entries(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stale = [ledger_entry("old", datetime.date(2025, 1, 1))]
    state = stream_state(
        replication_key="export_end_date", replication_key_value="2026-01-10", jobs=stale
    )
    out = sync(config, state)
    assert out.records == []
    assert api.requests == []
    assert out.final_state["bookmarks"][STREAM]["jobs"] == []
    assert any("Dropped 1 export job(s)" in r.getMessage() for r in caplog.records)
