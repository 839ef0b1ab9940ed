"""A SIGTERM/SIGINT handler runs on the main thread wherever the signal lands, and stops the
downloads from there: it must not wait for a lock the interrupted code holds (found by the
chaos harness: SIGTERM as a fragment download was being submitted hung the tap for good)."""

from __future__ import annotations

import tempfile
import threading
import types
import typing as t
from pathlib import Path

import pytest

from tap_backstory_contacts import clock, spool
from tap_backstory_contacts.fragments import DownloadCancelledError, FragmentDownloader


def _returns_within(seconds: float, action: t.Callable[[], None]) -> bool:
    """Run ``action`` in a daemon thread: False if it is still blocked after ``seconds``."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def test_a_signal_while_a_download_is_submitted_stops_without_deadlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    downloader = FragmentDownloader(None, max_parallel=2, max_spool_bytes=1 << 20)  # type: ignore[arg-type]
    pool = downloader._pool
    start_worker = pool._adjust_thread_count

    def signal_lands_here() -> None:  # inside submit(), which holds the pool's lock
        downloader.close()  # what the tap's handler does (Shutdown.stop)
        start_worker()

    monkeypatch.setattr(pool, "_adjust_thread_count", signal_lands_here)
    job = types.SimpleNamespace(fragments=2, describe=lambda: "export job j1", path="/jobs/j1")

    def sync() -> None:
        with downloader, pytest.raises((clock.CancelledError, DownloadCancelledError)):
            next(downloader.fragments(job))  # type: ignore[arg-type]

    assert _returns_within(10, sync), "stopping the downloads deadlocked"
    assert list(tmp_path.iterdir()) == []


def test_a_signal_while_the_spool_is_locked_removes_it_without_deadlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = spool.Spool()
    folder.new_file()

    def interrupted_release() -> None:
        with folder._lock:  # the main thread was in release() when the signal came
            folder.remove()

    assert _returns_within(10, interrupted_release), "removing the spool deadlocked"
    assert list(tmp_path.iterdir()) == []
