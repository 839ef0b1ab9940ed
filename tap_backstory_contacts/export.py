"""One sync's export, read top to bottom: windows → completed jobs → fragments → records.

Windows go in order while the next jobs run ahead (``jobs.planner``); every decision about a
job is its keeper's (``jobs.keeper``). A window is bookmarked once all its records are out.
"""

from __future__ import annotations

import contextlib
import functools
import typing as t
from dataclasses import dataclass

from tap_backstory_contacts.errors import ApiError
from tap_backstory_contacts.fragment_reader import FragmentReader
from tap_backstory_contacts.fragments import FragmentDownloader
from tap_backstory_contacts.jobs.planner import WindowPlan
from tap_backstory_contacts.progress import Progress

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from tap_backstory_contacts.checkpoints import Checkpoints
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.jobs.keeper import JobKeeper
    from tap_backstory_contacts.jobs.model import ExportJob
    from tap_backstory_contacts.records import RecordShaper
    from tap_backstory_contacts.settings import Settings
    from tap_backstory_contacts.shutdown import Shutdown
    from tap_backstory_contacts.windows import Window

Record = dict[str, t.Any]


class ContactsExport:
    """Exports the windows of one sync in order."""

    def __init__(
        self,
        *,
        client: BackstoryClient,
        settings: Settings,
        jobs: JobKeeper,
        shaper: RecordShaper,
        checkpoints: Checkpoints,
        window_done: Callable[[Window], None],
        shutdown: Shutdown,
    ) -> None:
        self._client = client
        self._settings = settings
        self._jobs = jobs
        self._shaper = shaper
        self._checkpoints = checkpoints
        self._window_done = window_done
        self._shutdown = shutdown

    def records(self, windows: list[Window]) -> Iterator[Record]:
        """Every record of every window, window by window, fragment by fragment."""
        plan = WindowPlan(windows, self._jobs, ahead=self._settings.max_concurrent_jobs)
        progress = Progress()
        settings = self._settings
        downloader = FragmentDownloader(
            self._client, settings.max_parallel_downloads, settings.max_spool_bytes
        )
        # A signal stops the downloads at once; the end of the sync, whatever it is, too.
        with downloader.stopped_by(self._shutdown):
            reader = FragmentReader(
                self._settings.output_format, self._shaper, downloader.download_again
            )
            for window, job in plan:
                progress.window_started()
                done_by, count = yield from self._window_records(job, downloader, reader)
                self._checkpoints.window_end(functools.partial(self._finish, done_by, window))
                progress.window_done(window, count, plan.remaining)
        progress.finished()

    def _window_records(
        self, job: ExportJob, downloader: FragmentDownloader, reader: FragmentReader
    ) -> Generator[Record, None, tuple[ExportJob, int]]:
        """The window's records; returns the job that delivered them and their count.

        A job whose download fails is handed back to the keeper, which replaces it (its
        files are gone before any record was emitted) or raises.
        """
        tally = _Tally()
        while True:
            job, skip = self._jobs.completed(job)
            try:
                yield from self._job_records(job, skip, downloader, reader, tally)
            except ApiError as exc:
                job = self._jobs.replacement_for(job, exc, records=tally.records)
            else:
                return job, tally.records

    def _job_records(
        self,
        job: ExportJob,
        skip: int,
        downloader: FragmentDownloader,
        reader: FragmentReader,
        tally: _Tally,
    ) -> Iterator[Record]:
        """The job's records from fragment ``skip`` on; each fragment read in full is
        counted and recorded in the ledger, so a rerun skips it."""
        lineage = {
            "export_job_id": job.job_id,
            "export_start_date": job.window.start.isoformat(),
            "export_end_date": job.window.end.isoformat(),
        }
        # Closed at once on an error, so that downloads still queued are dropped.
        with contextlib.closing(downloader.fragments(job, skip)) as fragments:
            for fragment in fragments:
                tally.records += yield from reader.records(job, fragment, lineage)
                if fragment.index is not None:
                    self._checkpoints.vouch(
                        functools.partial(self._jobs.fragments_emitted, job, fragment.index + 1)
                    )

    def _finish(self, job: ExportJob, window: Window) -> None:
        """The window's records are out: its job is done with, and the window bookmarked."""
        self._jobs.forget(job)
        self._window_done(window)


@dataclass(slots=True)
class _Tally:
    """Records of the current window from fragments read in full."""

    records: int = 0
