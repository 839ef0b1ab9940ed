"""Incremental and resumable syncs: kill at any phase, rerun with the last state, lose nothing."""

from __future__ import annotations

import datetime
import time
import typing as t
from pathlib import Path

import pytest
import requests

from fake_backstory import FakeBackstory
from tap_backstory_contacts import clock
from tests.conftest import END, START, make_config
from tests.singer_run import STREAM, SyncOutput, bookmark_state, run_until_killed, sync

WINDOWS = [("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-10")]


def _stream_state(message: dict[str, t.Any]) -> dict[str, t.Any]:
    if message["type"] != "STATE":
        return {}
    return dict(message["value"].get("bookmarks", {}).get(STREAM, {}))


def _job_in_ledger(message: dict[str, t.Any]) -> bool:
    return bool(_stream_state(message).get("jobs"))


def _both_jobs_in_ledger(message: dict[str, t.Any]) -> bool:
    """Both windows' jobs are recorded (the second one runs ahead): the tap now polls.

    Killing at the first job's STATE would race the look-ahead POST of the second job,
    which may reach the server before the kill but never reach the state.
    """
    return len(_stream_state(message).get("jobs", [])) == 2


def _fragment_in_ledger(message: dict[str, t.Any]) -> bool:
    return any(j["fragments_emitted"] > 0 for j in _stream_state(message).get("jobs", []))


def _first_window_bookmarked(message: dict[str, t.Any]) -> bool:
    return _stream_state(message).get("replication_key_value") == WINDOWS[0][1]


def _assert_complete_and_ordered(api: FakeBackstory, *runs: SyncOutput) -> None:
    """Every record arrived; no STATE bookmarked a window before all its records."""
    delivered = {(r["export_end_date"], r["contact_key"]) for run in runs for r in run.records}
    for start, end in WINDOWS:
        expected = api.expected_records(start, end)
        assert len({k for w, k in delivered if w == end}) == len(expected)
    # What the target saw, in order: no bookmark before all its window's records.
    seen: dict[str, set[str]] = {}
    for message in (m for run in runs for m in run.messages):
        if message["type"] == "RECORD":
            record = message["record"]
            seen.setdefault(record["export_end_date"], set()).add(record["contact_key"])
        bookmark = _stream_state(message).get("replication_key_value")
        for start, end in WINDOWS:
            if bookmark and end <= bookmark:
                assert len(seen.get(end, ())) == len(api.expected_records(start, end))


def _windows_created(api: FakeBackstory) -> list[tuple[str, str]]:
    return [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]


@pytest.mark.parametrize(
    ("phase", "kill_when"),
    [
        ("polling", _both_jobs_in_ledger),
        ("mid-download", _fragment_in_ledger),
        ("between windows", _first_window_bookmarked),
    ],
)
def test_killed_run_resumes_without_losing_records_or_recreating_jobs(
    api: FakeBackstory, tmp_path: Path, phase: str, kill_when: t.Callable[[dict[str, t.Any]], bool]
) -> None:
    api.config.job_seconds = 0.6
    api.config.fragment_size = 3
    if phase == "mid-download":
        api.config.throttle_bytes_per_second = 4000
    config = make_config(api, max_parallel_downloads=1, poll_interval_seconds=0.05)

    killed = run_until_killed(tmp_path, config, kill_when)
    last_state = killed.states[-1]
    data_before = [(r.path, r.query.get("fragment")) for r in api.requests if r.endpoint == "data"]
    api.config.throttle_bytes_per_second = None
    resumed = sync(config, last_state)

    _assert_complete_and_ordered(api, killed, resumed)
    assert resumed.bookmark() == END
    assert sorted(_windows_created(api)) == WINDOWS  # each window's job created once
    assert resumed.final_state["bookmarks"][STREAM]["jobs"] == []
    if phase == "mid-download":
        data_after = [
            (r.path, r.query.get("fragment")) for r in api.requests if r.endpoint == "data"
        ][len(data_before) :]
        emitted = next(j for j in _stream_state({"type": "STATE", "value": last_state})["jobs"])
        assert emitted["fragments_emitted"] > 0
        skipped = {(p, str(i)) for p, _ in data_before for i in range(emitted["fragments_emitted"])}
        assert not skipped & set(data_after), "fragments already emitted were fetched again"


def _ledger_state(job_id: str, start: str, end: str, fingerprint: str) -> dict[str, t.Any]:
    return {
        "bookmarks": {
            STREAM: {
                "jobs": [
                    {
                        "job_id": job_id,
                        "start_date": start,
                        "end_date": end,
                        "fingerprint": fingerprint,
                        "fragments_emitted": 0,
                    }
                ]
            }
        }
    }


def _fingerprint_after_kill(
    api: FakeBackstory, tmp_path: Path, config: dict[str, t.Any]
) -> dict[str, t.Any]:
    killed = run_until_killed(tmp_path, config, _job_in_ledger)
    return killed.states[-1]


def test_changed_parameters_create_a_new_job(api: FakeBackstory, tmp_path: Path) -> None:
    api.config.job_seconds = 0.5
    state = _fingerprint_after_kill(api, tmp_path, make_config(api, end_date="2026-01-05"))
    old_job = api.created_jobs()[0].job_id
    before = len(api.requests)
    out = sync(make_config(api, end_date="2026-01-05", include_existing=False), state)
    jobs = api.created_jobs()
    assert len(jobs) == 2
    assert jobs[1].params["include_existing"] is False
    assert {r["export_job_id"] for r in out.records} == {jobs[1].job_id}
    rerun = api.requests[before:]
    # The recorded job is not even polled: its parameters differ, so it cannot serve.
    assert not any(old_job in r.path for r in rerun)
    assert sum(r.endpoint == "status" for r in rerun) >= 1


def test_expired_job_is_dropped_and_recreated(api: FakeBackstory, tmp_path: Path) -> None:
    api.config.job_seconds = 0.5
    config = make_config(api, end_date="2026-01-05")
    state = _fingerprint_after_kill(api, tmp_path, config)
    api.expire_job(api.created_jobs()[0].job_id)
    out = sync(config, state)
    jobs = api.created_jobs()
    assert len(jobs) == 2
    assert {r["export_job_id"] for r in out.records} == {jobs[1].job_id}
    assert len(out.records) == len(api.expected_records(START, "2026-01-05"))


def test_failed_job_in_ledger_is_recreated(api: FakeBackstory, tmp_path: Path) -> None:
    api.config.job_seconds = 0.5
    api.config.fail_jobs = 1
    config = make_config(api, end_date="2026-01-05")
    state = _fingerprint_after_kill(api, tmp_path, config)
    failed = api.created_jobs()[0]
    deadline = time.monotonic() + 10
    while failed.state != "Failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    out = sync(config, state)
    assert len(api.created_jobs()) == 2
    assert out.bookmark() == "2026-01-05"


def test_unusable_ledger_entries_cost_only_a_new_job(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    state = _ledger_state("no-such-job", "2026-01-01", "2026-01-05", "0" * 16)
    state["bookmarks"][STREAM]["jobs"].append({"garbage": True})
    out = sync(config, state)
    assert len(out.records) == 50
    assert len(api.created_jobs()) == 2


def test_bookmark_never_passes_yesterday(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utc_today", lambda: datetime.date(2026, 1, 8))
    out = sync(make_config(api, end_date="2026-03-01"))
    assert out.bookmark() == "2026-01-07"
    assert _windows_created(api) == [("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-07")]


def test_second_run_extracts_only_new_days(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utc_today", lambda: datetime.date(2026, 1, 10))
    first = sync(make_config(api, end_date=None))
    assert first.bookmark() == "2026-01-09"
    monkeypatch.setattr(clock, "utc_today", lambda: datetime.date(2026, 1, 11))
    second = sync(make_config(api, end_date=None), first.final_state)
    assert _windows_created(api)[-1] == ("2026-01-10", "2026-01-10")
    assert len(api.created_jobs()) == 3
    assert {r["export_end_date"] for r in second.records} == {"2026-01-10"}
    assert second.bookmark() == "2026-01-10"


def test_lookback_extracts_recent_days_again(api: FakeBackstory) -> None:
    state = bookmark_state("2026-01-08")
    out = sync(make_config(api, lookback_days=3), state)
    assert _windows_created(api) == [("2026-01-06", "2026-01-10")]
    assert len(out.records) == 25
    assert out.bookmark() == END


def test_two_jobs_in_flight_keep_window_order(api: FakeBackstory) -> None:
    api.config.job_seconds = 0.3
    out = sync(make_config(api, window_days=2, max_concurrent_jobs=2, poll_interval_seconds=0.02))
    ends = [r["export_end_date"] for r in out.records]
    assert ends == sorted(ends)
    bookmarks = [b for b in out.bookmarks_in_order() if b]
    assert bookmarks == sorted(bookmarks)
    assert bookmarks[-1] == END
    # The next window's job was created before the current window's data was fetched.
    order = [(r.endpoint, r.path) for r in api.requests if r.endpoint in ("create", "data")]
    first_data = next(i for i, (endpoint, _) in enumerate(order) if endpoint == "data")
    assert [e for e, _ in order[:first_data]].count("create") == 2


def test_one_job_at_a_time_when_configured(api: FakeBackstory) -> None:
    sync(make_config(api, window_days=2, max_concurrent_jobs=1))
    order = [r.endpoint for r in api.requests if r.endpoint in ("create", "data")]
    first_data = order.index("data")
    assert order[:first_data].count("create") == 1


@pytest.mark.parametrize("status", [404, 410])
def test_job_whose_files_are_gone_is_replaced_once(
    api: FakeBackstory, config: dict[str, t.Any], status: int
) -> None:
    api.faults.add("data", str(status), fragment=0)
    out = sync({**config, "end_date": "2026-01-05"})
    jobs = api.created_jobs()
    assert len(jobs) == 2
    assert {r["export_job_id"] for r in out.records} == {jobs[1].job_id}
    assert len(out.records) == 25
    assert out.bookmark() == "2026-01-05"


def test_recorded_job_the_api_refuses_is_replaced(api: FakeBackstory, tmp_path: Path) -> None:
    api.config.job_seconds = 0.5
    config = make_config(api, end_date="2026-01-05")
    state = _fingerprint_after_kill(api, tmp_path, config)
    api.faults.add("status", "409")  # an unexpected 4xx for the recorded job
    out = sync(config, state)
    assert len(api.created_jobs()) == 2
    assert len(out.records) == 25


def test_a_refused_look_ahead_job_does_not_hold_up_the_current_window(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    api.config.enforce_job_limits = True
    _hold_one_job_slot(api)  # another pipeline's job: with the tap's first, the org is full
    out = sync(config)
    assert len(out.records) == 50
    assert out.bookmark() == "2026-01-10"
    order = [(r.endpoint, r.status) for r in api.requests if r.endpoint in ("create", "data")]
    refused = order.index(("create", 429))
    assert ("data", 200) in order[refused:], "window 1 went on while window 2 waited"
    assert order.count(("create", 200)) == 3  # the holder, window 1, then window 2


def _hold_one_job_slot(api: FakeBackstory) -> None:
    with requests.Session() as session:
        token = session.post(
            f"{api.url}/auth/v1/tokens",
            data={
                "grant_type": "client_credentials",
                "client_id": api.config.client_id,
                "client_secret": api.config.client_secret,
            },
            timeout=30,
        ).json()["access_token"]
        created = session.post(
            f"{api.url}/pull/v1/export/contacts/jobs",
            json={"start_date": "2025-01-01", "end_date": "2025-01-01"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert created.status_code == 200
