"""One sync's export: windows → jobs (pipelined, re-attached from the ledger) → records."""

from __future__ import annotations

import logging
import time
import typing as t
from dataclasses import dataclass

from tap_backstory_contacts.errors import ApiError
from tap_backstory_contacts.formats import open_binary, read_csv, read_json
from tap_backstory_contacts.fragments import download_fragments
from tap_backstory_contacts.jobs import (
    ExportJob,
    JobState,
    PollSettings,
    create_job,
    fetch_status,
    fingerprint,
    wait_until_complete,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.fragments import Fragment
    from tap_backstory_contacts.ledger import Ledger
    from tap_backstory_contacts.records import RecordShaper
    from tap_backstory_contacts.windows import Window

logger = logging.getLogger("tap-backstory-contacts")
# A job id the API no longer knows: files are kept 10 days, then the job is gone.
GONE_STATUSES = (404, 410)


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """What the export asks of the API and how hard it works."""

    request: dict[str, t.Any]
    output_format: str
    max_concurrent_jobs: int
    max_parallel_downloads: int
    poll: PollSettings

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> ExportSettings:
        """Settings from the tap config (already validated, defaults applied)."""
        request: dict[str, t.Any] = {
            # All three booleans are always sent: the API documents no defaults for them.
            "include_historical": bool(config.get("include_historical", True)),
            "include_existing": bool(config.get("include_existing", True)),
            "is_sourced_by_people_ai": bool(config.get("is_sourced_by_people_ai", False)),
            "output_format": config.get("output_format", "JSON"),
        }
        for name in ("country", "state"):
            if config.get(name):
                request[name] = config[name]
        return cls(
            request=request,
            output_format=request["output_format"],
            max_concurrent_jobs=int(config.get("max_concurrent_jobs", 2)),
            max_parallel_downloads=int(config.get("max_parallel_downloads", 4)),
            poll=PollSettings(
                first_wait=float(config.get("poll_interval_seconds", 5)),
                max_wait=float(config.get("poll_max_interval_seconds", 60)),
                timeout=float(config.get("job_timeout_seconds", 21600)),
            ),
        )

    def job_params(self, window: Window) -> dict[str, t.Any]:
        """The job creation body for ``window``."""
        return {
            "start_date": window.start.isoformat(),
            "end_date": window.end.isoformat(),
            **self.request,
        }


class ContactsExport:
    """Runs the windows of one sync in order, keeping the next jobs running ahead."""

    def __init__(
        self,
        *,
        client: BackstoryClient,
        settings: ExportSettings,
        ledger: Ledger,
        shaper: RecordShaper,
        checkpoint: Callable[[], None],
        window_done: Callable[[Window], None],
    ) -> None:
        self._client = client
        self._settings = settings
        self._ledger = ledger
        self._shaper = shaper
        self._checkpoint = checkpoint
        self._window_done = window_done

    def records(self, windows: list[Window]) -> Iterator[dict[str, t.Any]]:
        """Every record of every window, window by window, fragment by fragment."""
        self._forget_unplanned(windows)
        jobs: dict[Window, ExportJob] = {}
        started = time.monotonic()
        total = 0
        for position, window in enumerate(windows):
            window_started = time.monotonic()
            ahead = windows[position : position + self._settings.max_concurrent_jobs]
            for upcoming in ahead:
                if upcoming not in jobs:
                    jobs[upcoming] = self._start_job(upcoming)
            job = wait_until_complete(self._client, jobs.pop(window), self._settings.poll)
            count = 0
            for record in self._job_records(job):
                count += 1
                yield record
            self._ledger.drop(job.job_id)
            self._window_done(window)
            total += count
            self._log_progress(window, count, window_started, started, position + 1, len(windows))
        logger.info(
            "Exported %d record(s) in %d window(s) in %.1fs",
            total,
            len(windows),
            time.monotonic() - started,
        )

    def _job_records(self, job: ExportJob) -> Iterator[dict[str, t.Any]]:
        entry = self._ledger.find(job.window)
        skip = entry.fragments_emitted if entry and job.fragments else 0
        if skip:
            logger.info("Skipping %d fragment(s) of %s already emitted", skip, job.describe())
        lineage = {
            "export_job_id": job.job_id,
            "export_start_date": job.window.start.isoformat(),
            "export_end_date": job.window.end.isoformat(),
        }
        fragments = download_fragments(
            self._client, job, max_parallel=self._settings.max_parallel_downloads, skip=skip
        )
        for fragment in fragments:
            count = 0
            position = f"{job.describe()}, {fragment.describe()}"
            for count, raw in enumerate(self._read(fragment, position), start=1):
                yield self._shaper.shape(raw, lineage, _Where(position, count))
            logger.info("Emitted %d record(s) from %s", count, position)
            if fragment.index is not None:
                self._ledger.fragments_emitted(job.job_id, fragment.index + 1)
                self._checkpoint()

    def _read(self, fragment: Fragment, position: str) -> Iterator[dict[str, t.Any]]:
        reader = read_csv if self._settings.output_format == "CSV" else read_json
        with open_binary(fragment.path) as stream:
            yield from reader(stream, position)

    def _start_job(self, window: Window) -> ExportJob:
        """Re-attach to the job recorded for ``window`` if still usable, else create one."""
        params = self._settings.job_params(window)
        digest = fingerprint(params)
        entry = self._ledger.find(window)
        if entry is not None:
            job = ExportJob(job_id=entry.job_id, window=window, state=JobState.QUEUED)
            reason = self._unusable(job, entry.fingerprint, digest)
            if reason is None:
                logger.info("Re-attached to %s recorded in state", job.describe())
                return job
            logger.info("Not reusing %s: %s; creating a new job", job.describe(), reason)
            self._ledger.drop(entry.job_id)
        job = create_job(self._client, window, params)
        self._ledger.add(job.job_id, window, digest)
        self._checkpoint()
        return job

    def _unusable(self, job: ExportJob, recorded: str, digest: str) -> str | None:
        if recorded != digest:
            return "it was created with other parameters (the config changed)"
        try:
            status = fetch_status(self._client, job)
        except ApiError as exc:
            if exc.status in GONE_STATUSES:
                return f"the API no longer knows it (HTTP {exc.status}; files live 10 days)"
            raise
        if status.state in (JobState.FAILED, JobState.CANCELED):
            return f"it ended {status.state}"
        return None

    def _forget_unplanned(self, windows: list[Window]) -> None:
        planned = set(windows)
        for entry in self._ledger.entries:
            if entry.window not in planned:
                logger.info(
                    "Dropping export job %s for window %s from state: not part of this run",
                    entry.job_id,
                    entry.window,
                )
                self._ledger.drop(entry.job_id)

    @staticmethod
    def _log_progress(
        window: Window, count: int, window_started: float, started: float, done: int, total: int
    ) -> None:
        now = time.monotonic()
        elapsed = now - window_started
        left = total - done
        eta = (now - started) / done * left
        logger.info(
            "Window %s done: %d record(s) in %.1fs (%.0f records/s); %d window(s) left%s",
            window,
            count,
            elapsed,
            count / elapsed if elapsed > 0 else 0.0,
            left,
            f", about {eta:.0f}s remaining" if left else "",
        )


@dataclass(frozen=True, slots=True)
class _Where:
    """Lazily formatted position of a record, for error messages."""

    position: str
    number: int

    def __call__(self) -> str:
        return f"{self.position}, record {self.number}"
