"""A SIGTERM/SIGINT handler runs on the main thread wherever the signal lands, and stops the
downloads from there: it must not wait for a lock the interrupted code holds (found by the
chaos harness: SIGTERM as a fragment download was being submitted hung the tap for good)."""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import types
import typing as t
from pathlib import Path

import pytest
from typing_extensions import override

from tap_backstory_contacts import clock, spool
from tap_backstory_contacts.fragments import DownloadCancelledError, FragmentDownloader
from tap_backstory_contacts.shutdown import Shutdown


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


@pytest.mark.parametrize("lands_in", ["the pool's shutdown", "the spool's removal"])
def test_a_signal_while_the_sync_closes_its_downloads_still_removes_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lands_in: str
) -> None:
    # Found by the harness under load: SIGTERM right as the last window ended left the spool
    # folder behind, since the handler's stop was no longer registered while close() ran.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shutdown = Shutdown()
    downloader = FragmentDownloader(None, max_parallel=2, max_spool_bytes=1 << 20)  # type: ignore[arg-type]
    landed: list[bool] = []

    def signal_lands_here() -> None:
        if not landed:
            landed.append(True)
            shutdown.stop()  # what the tap's handler does first
            raise SystemExit(143)  # ... and last: the interrupted call never goes on

    if lands_in == "the pool's shutdown":

        class Queue(queue.SimpleQueue[t.Any]):
            @override
            def put(self, item: t.Any, block: bool = True, timeout: float | None = None) -> None:
                signal_lands_here()  # inside shutdown(), holding the pool's lock
                super().put(item, block, timeout)

        downloader._pool._work_queue = Queue()
    else:
        rmtree = shutil.rmtree

        def interrupted_rmtree(*args: t.Any, **kwargs: t.Any) -> None:
            signal_lands_here()
            rmtree(*args, **kwargs)

        monkeypatch.setattr(shutil, "rmtree", interrupted_rmtree)

    def sync() -> None:
        with pytest.raises(SystemExit), downloader.stopped_by(shutdown):
            downloader._spool.new_file()

    assert _returns_within(10, sync), "closing the downloads deadlocked"
    assert landed
    assert list(tmp_path.iterdir()) == []
