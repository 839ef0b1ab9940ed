"""The export engine's units on their own: planner, progress logs and fragment reader."""

from __future__ import annotations

import datetime
import json
import logging
import typing as t
from importlib import resources
from pathlib import Path

import pytest

from tap_backstory_contacts import schemas
from tap_backstory_contacts.errors import (
    ExportJobError,
    JobLimitError,
    UnreadableDataError,
    WindowTooLargeError,
)
from tap_backstory_contacts.fragment_reader import FragmentReader
from tap_backstory_contacts.fragments import Fragment
from tap_backstory_contacts.jobs.model import ExportJob, JobState
from tap_backstory_contacts.jobs.planner import WindowPlan
from tap_backstory_contacts.progress import Progress
from tap_backstory_contacts.records import RecordShaper
from tap_backstory_contacts.windows import Window, split

D = datetime.date


class StubJobs:
    """Starts jobs instantly; refuses windows longer than ``max_days`` and, when asked,
    look-ahead jobs (as the API's job limits would)."""

    def __init__(self, max_days: int = 366, refuse_ahead: bool = False) -> None:
        self.max_days = max_days
        self.refuse_ahead = refuse_ahead
        self.calls: list[tuple[Window, bool]] = []

    def start(self, window: Window, *, wait_for_slot: bool = True) -> ExportJob:
        self.calls.append((window, wait_for_slot))
        if window.days > self.max_days:
            raise WindowTooLargeError(f"HTTP 400: range of {window.days} days exceeds the limit")
        if self.refuse_ahead and not wait_for_slot:
            raise JobLimitError("HTTP 429: too many jobs")
        return ExportJob(job_id=f"job-{window}", window=window, state=JobState.QUEUED)


def _plan(windows: list[Window], jobs: StubJobs, ahead: int) -> WindowPlan:
    return WindowPlan(windows, t.cast("t.Any", jobs), ahead=ahead)


def test_the_planner_keeps_the_next_job_running_ahead() -> None:
    windows = split(Window(D(2026, 1, 1), D(2026, 1, 9)), 3)
    jobs = StubJobs()
    plan = iter(_plan(windows, jobs, ahead=2))
    window, job = next(plan)
    assert window == windows[0]
    assert job.job_id == f"job-{windows[0]}"
    assert jobs.calls == [(windows[0], True), (windows[1], False)]
    assert [w for w, _ in plan] == windows[1:]
    assert [w for w, _ in jobs.calls] == windows  # each window's job started once


def test_a_refused_look_ahead_job_is_created_when_its_window_comes_up() -> None:
    windows = split(Window(D(2026, 1, 1), D(2026, 1, 6)), 3)
    jobs = StubJobs(refuse_ahead=True)
    handed_out = [(w, j.job_id) for w, j in _plan(windows, jobs, ahead=2)]
    assert [w for w, _ in handed_out] == windows
    assert jobs.calls == [(windows[0], True), (windows[1], False), (windows[1], True)]


def test_a_window_refused_as_too_large_is_split_with_every_later_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    windows = split(Window(D(2026, 1, 1), D(2026, 1, 12)), 6)
    jobs = StubJobs(max_days=3)
    with caplog.at_level(logging.WARNING):
        handed_out = [w for w, _ in _plan(windows, jobs, ahead=1)]
    assert handed_out == split(Window(D(2026, 1, 1), D(2026, 1, 12)), 3)
    assert "Set window_days to 3 or less" in caplog.text


def test_a_one_day_window_refused_as_too_large_ends_the_run() -> None:
    jobs = StubJobs(max_days=0)
    with pytest.raises(ExportJobError, match=r"refused window 2026-01-01..2026-01-01 .* one day"):
        list(_plan([Window(D(2026, 1, 1), D(2026, 1, 2))], jobs, ahead=1))


def test_progress_logs_each_window_and_the_run(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress()
    window = Window(D(2026, 1, 1), D(2026, 1, 5))
    with caplog.at_level(logging.INFO):
        progress.window_started()
        progress.window_done(window, 40, windows_left=2)
        progress.window_started()
        progress.window_done(window, 2, windows_left=0)
        progress.finished()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("Window 2026-01-01..2026-01-05 done: 40 record(s) in ")
    assert lines[0].endswith("s remaining")
    assert "0 window(s) left" in lines[1]
    assert "remaining" not in lines[1]
    assert lines[2].startswith("Exported 42 record(s) in 2 window(s) in ")


@pytest.fixture
def shaper() -> RecordShaper:
    schema_file = resources.files(schemas).joinpath("enriched_contacts.json")
    return RecordShaper(json.loads(schema_file.read_text(encoding="utf-8")))


def test_a_damaged_fragment_is_read_again_from_the_first_record_not_yet_emitted(
    tmp_path: Path, shaper: RecordShaper, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [{"email": f"c{i}@x.example", "total_inbound": i} for i in range(5)]
    good = json.dumps(rows).encode()
    path = tmp_path / "fragment"
    path.write_bytes(good[: good.index(b"c3@")])  # cut inside the fourth record
    job = ExportJob("j1", Window(D(2026, 1, 1), D(2026, 1, 1)), JobState.COMPLETED, fragments=1)
    fragment = Fragment(index=0, count=1, path=path, size=path.stat().st_size)
    downloads: list[Fragment] = []

    def redownload(job: ExportJob, damaged: Fragment) -> Fragment:
        damaged.path.write_bytes(good)
        downloads.append(damaged)
        return Fragment(damaged.index, damaged.count, damaged.path, len(good))

    reader = FragmentReader("JSON", shaper, redownload)
    records = []
    generator = reader.records(job, fragment, {"export_job_id": "j1"})
    with caplog.at_level(logging.WARNING):
        while True:
            try:
                records.append(next(generator))
            except StopIteration as done:
                count = done.value
                break
    assert [r["email"] for r in records] == [row["email"] for row in rows]
    assert count == 5
    assert len(downloads) == 1
    assert "downloading it again (1 of 2), 3 record(s) already emitted" in caplog.text


def test_a_fragment_damaged_on_every_download_is_an_error_naming_it(
    tmp_path: Path, shaper: RecordShaper
) -> None:
    path = tmp_path / "fragment"
    path.write_bytes(b'[{"email": "a@x.example"}, {"email": ')
    job = ExportJob("j9", Window(D(2026, 1, 1), D(2026, 1, 1)), JobState.COMPLETED, fragments=2)
    fragment = Fragment(index=1, count=2, path=path, size=10)
    reader = FragmentReader("JSON", shaper, lambda job, damaged: damaged)
    with pytest.raises(UnreadableDataError) as caught:
        list(reader.records(job, fragment, {}))
    message = str(caught.value)
    assert "export job j9 (window 2026-01-01..2026-01-01), fragment 1 of 2" in message
    assert "the same after 3 downloads" in message
