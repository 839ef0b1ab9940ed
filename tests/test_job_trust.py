"""Answers about export jobs are not trusted blindly: a lost job-creation answer never creates a
second job for the window, and a status answer about another job is never followed."""

from __future__ import annotations

import logging
import typing as t

import pytest

from fake_backstory import FakeBackstory
from fake_backstory.recorder import RecordingServer
from tap_backstory_contacts.errors import ApiError, JobCreationUnknownError, JobMismatchError
from tests.singer_run import run_cli, sync


@pytest.mark.parametrize("status", [None, 500, 502, 504])
def test_a_lost_creation_answer_ends_the_run_without_a_second_job(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], status: int | None
) -> None:
    # The backend creates window 2's job; the gateway's answer (or the connection) is lost.
    api.faults.add("create", "lost_answer", after=1, status=0 if status is None else status)
    with pytest.raises(JobCreationUnknownError) as raised:
        sync({**config, "max_concurrent_jobs": 1})

    message = str(raised.value)
    assert "window 2026-01-06..2026-01-10" in message
    assert "may or may not have created the job" in message
    assert "holds one of the org's 2 running / 10 queued job slots" in message
    assert "Run again" in message
    assert api.count("create") == 2  # never retried
    assert [job.start.isoformat() for job in api.created_jobs()] == ["2026-01-01", "2026-01-06"]


def test_a_lost_creation_answer_keeps_earlier_windows_bookmarked_and_exits_1(
    api: FakeBackstory, config: dict[str, t.Any], tmp_path: t.Any
) -> None:
    api.faults.add("create", "lost_answer", after=1, status=504)
    result = run_cli(tmp_path, {**config, "max_concurrent_jobs": 1})
    assert result.returncode == 1
    assert "Creating the export job for window 2026-01-06..2026-01-10" in result.stderr
    assert result.output.bookmark() == "2026-01-05"
    assert len(api.created_jobs()) == 2


@pytest.mark.parametrize("kind", ["503", "429", "409"])
def test_a_clear_refusal_of_a_creation_is_waited_out_with_one_job_per_window(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], kind: str
) -> None:
    api.faults.add("create", kind, times=2)
    out = sync(config)
    assert out.bookmark() == "2026-01-10"
    assert len(out.records) == 50
    assert api.count("create", status=int(kind)) == 2
    assert len(api.created_jobs()) == 2


def test_a_status_answer_about_another_job_is_an_error_naming_both_ids(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], caplog: t.Any
) -> None:
    caplog.set_level(logging.INFO)
    api.config.polls_queued = 1
    # Polling ce-000001 answers with ce-000002's status (the look-ahead job, window 2).
    api.faults.add("status", "patch_json", fields={"job_id": "ce-000002"})
    with pytest.raises(JobMismatchError) as raised:
        sync(config)

    message = str(raised.value)
    assert "export job ce-000001 (window 2026-01-01..2026-01-05)" in message
    assert "answered about export job ce-000002 instead" in message
    assert api.count("data") == 0  # no file of the other job was read as window 1


def test_a_status_answer_about_another_job_stops_the_cli_before_any_record(
    api: FakeBackstory, config: dict[str, t.Any], tmp_path: t.Any
) -> None:
    api.config.polls_queued = 1
    api.faults.add("status", "patch_json", fields={"job_id": "ce-000002"})
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    assert "answered about export job ce-000002 instead" in result.stderr
    assert result.output.records == []
    assert all(
        state.get("bookmarks", {}).get("enriched_contacts", {}).get("replication_key_value") is None
        for state in result.output.states
    )


def test_a_redirected_creation_is_not_sent_again_elsewhere(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    # requests re-sends a POST on a 307/308: a second job, created at another address.
    with RecordingServer({"job_id": "elsewhere"}) as elsewhere:
        api.faults.add("create", "redirect", times=5, location=f"{elsewhere.url}/moved")
        with pytest.raises(ApiError, match=r"HTTP 307: a redirect to '.*/moved', not followed"):
            sync({**config, "max_retries": 0})
    assert elsewhere.received == []
    assert api.count("create") == 1
