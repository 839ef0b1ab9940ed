"""One sync's export: windows → jobs (pipelined, re-attached from the ledger) → records."""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import time
import typing as t
from dataclasses import dataclass

from tap_backstory_contacts.errors import (
    ApiError,
    ExportJobError,
    JobEndedError,
    JobLimitError,
    UnreadableDataError,
    WindowTooLargeError,
)
from tap_backstory_contacts.formats import (
    open_binary,
    read_csv,
    read_json,
    verify_compression,
)
from tap_backstory_contacts.fragments import FragmentDownloader, download_fragment
from tap_backstory_contacts.jobs import (
    ExportJob,
    JobState,
    PollSettings,
    create_job,
    fetch_status,
    fingerprint,
    wait_until_complete,
)
from tap_backstory_contacts.windows import Window, split

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Mapping

    from tap_backstory_contacts.checkpoints import Checkpoints
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.fragments import Fragment
    from tap_backstory_contacts.ledger import Ledger
    from tap_backstory_contacts.records import RecordShaper

logger = logging.getLogger("tap-backstory-contacts")
# A job id the API no longer knows: files are kept 10 days, then the job is gone.
GONE_STATUSES = (404, 410)
# Downloads of one fragment whose content turns out damaged before it counts as bad data.
FRAGMENT_READ_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """What the export asks of the API and how hard it works."""

    request: dict[str, t.Any]
    output_format: str
    max_concurrent_jobs: int
    max_parallel_downloads: int
    job_retries: int
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
            job_retries=int(config.get("job_retries", 1)),
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
        checkpoints: Checkpoints,
        window_done: Callable[[Window], None],
    ) -> None:
        self._client = client
        self._settings = settings
        self._ledger = ledger
        self._shaper = shaper
        self._checkpoints = checkpoints
        self._window_done = window_done
        csv = settings.output_format == "CSV"
        self._reader = read_csv if csv else read_json
        self._unit = "CSV row" if csv else "record"

    def records(self, windows: list[Window]) -> Iterator[dict[str, t.Any]]:
        """Every record of every window, window by window, fragment by fragment."""
        self._forget_unplanned(windows)
        plan = collections.deque(windows)
        jobs: dict[Window, ExportJob] = {}
        started = time.monotonic()
        total = done = 0
        self._downloader = FragmentDownloader(self._client, self._settings.max_parallel_downloads)
        try:
            while plan:
                self._start_jobs_ahead(plan, jobs)
                window = plan.popleft()
                window_started = time.monotonic()
                counter = _Counter()
                job = yield from self._window_records(jobs.pop(window), counter)
                self._checkpoints.vouch(functools.partial(self._finish_window, job.job_id, window))
                total += counter.records
                done += 1
                self._log_progress(
                    window, counter.records, window_started, started, done, done + len(plan)
                )
        finally:
            self._downloader.close()
        logger.info(
            "Exported %d record(s) in %d window(s) in %.1fs",
            total,
            done,
            time.monotonic() - started,
        )

    def _window_records(
        self, job: ExportJob, counter: _Counter
    ) -> Generator[dict[str, t.Any], None, ExportJob]:
        """The window's records from its job; returns the job that delivered them.

        If the job's files are gone (404/410) before any of its records was emitted, a new
        job replaces it once; later, the ledger entry is dropped so the next run does not
        re-attach to it, and the run fails.
        """
        job = self._completed(job)
        for attempt in (1, 2):
            try:
                yield from self._job_records(job, counter)
            except ApiError as exc:
                if exc.status not in GONE_STATUSES:
                    raise
                self._ledger.drop(job.job_id)
                if counter.records or attempt == 2:
                    raise
                logger.warning(
                    "The files of %s are gone (HTTP %d); creating a new job for its window",
                    job.describe(),
                    exc.status,
                )
                job = self._completed(self._start_job(job.window))
            else:
                return job
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_jobs_ahead(
        self, plan: collections.deque[Window], jobs: dict[Window, ExportJob]
    ) -> None:
        """Make sure the next ``max_concurrent_jobs`` windows have a job, splitting refused ones.

        Only the current window waits for a job slot: a look-ahead job the API's limits
        refuse is simply created later, when its window comes up.
        """
        position = 0
        while position < min(self._settings.max_concurrent_jobs, len(plan)):
            window = plan[position]
            if window not in jobs:
                try:
                    jobs[window] = self._start_job(window, wait_for_slot=position == 0)
                except JobLimitError:
                    logger.info(
                        "Not starting window %s's job ahead: the API's job limits are reached",
                        window,
                    )
                    return
                except WindowTooLargeError as exc:
                    if window.days == 1:
                        raise ExportJobError(
                            f"The API refused window {window} as too large even for one day: "
                            f"{exc}. Check the API's limits with Backstory."
                        ) from exc
                    days = (window.days + 1) // 2
                    logger.warning(
                        "The API refused window %s as too large (%s); continuing with windows "
                        "of %d day(s). Set window_days to %d or less to skip this refusal.",
                        window,
                        exc,
                        days,
                        days,
                    )
                    # Windows from here on have no job yet: plan them again, smaller.
                    rest = Window(window.start, plan[-1].end)
                    for _ in range(len(plan) - position):
                        plan.pop()
                    plan.extend(split(rest, days))
                    continue
            position += 1

    def _finish_window(self, job_id: str, window: Window) -> None:
        self._ledger.drop(job_id)
        self._window_done(window)

    def _completed(self, job: ExportJob) -> ExportJob:
        """Wait for the job; recreate it up to ``job_retries`` times if it fails."""
        ended: list[JobEndedError] = []
        while True:
            try:
                return wait_until_complete(self._client, job, self._settings.poll)
            except JobEndedError as exc:
                ended.append(exc)
                self._ledger.drop(job.job_id)
                if len(ended) > self._settings.job_retries:
                    history = "; ".join(str(e) for e in ended)
                    raise ExportJobError(
                        f"No export job for window {job.window} completed after {len(ended)} "
                        f"tries (job_retries is {self._settings.job_retries}): {history}. "
                        "Backstory gives no reason for failed jobs; try again later, raise "
                        "job_retries, or contact Backstory support with the job ids."
                    ) from exc
                logger.warning(
                    "%s; creating a new job for the window (retry %d of %d)",
                    exc,
                    len(ended),
                    self._settings.job_retries,
                )
                job = self._start_job(job.window)

    def _job_records(self, job: ExportJob, counter: _Counter) -> Iterator[dict[str, t.Any]]:
        entry = self._ledger.find(job.window)
        skip = entry.fragments_emitted if entry and job.fragments else 0
        if skip:
            logger.info("Skipping %d fragment(s) of %s already emitted", skip, job.describe())
        lineage = {
            "export_job_id": job.job_id,
            "export_start_date": job.window.start.isoformat(),
            "export_end_date": job.window.end.isoformat(),
        }
        # Closed at once on an error, so that downloads still running stop.
        with contextlib.closing(self._downloader.fragments(job, skip)) as fragments:
            for fragment in fragments:
                yield from self._fragment_records(job, fragment, lineage, counter)
                if fragment.index is not None:
                    self._checkpoints.vouch(
                        functools.partial(
                            self._ledger.fragments_emitted, job.job_id, fragment.index + 1
                        )
                    )

    def _fragment_records(
        self, job: ExportJob, fragment: Fragment, lineage: dict[str, str], counter: _Counter
    ) -> Iterator[dict[str, t.Any]]:
        """The fragment's records; if it turns out damaged, fetch it again and go on from
        the first record not yet emitted, so that none is emitted twice."""
        position = f"{job.describe()}, {fragment.describe()}"
        emitted = 0
        where = _Where(position, self._unit)
        for attempt in range(1, FRAGMENT_READ_ATTEMPTS + 1):
            try:
                verify_compression(fragment.path, position)
                for number, raw in enumerate(self._read(fragment, position), start=1):
                    if number > emitted:
                        emitted = where.number = number
                        yield self._shaper.shape(raw, lineage, where)
                break
            except UnreadableDataError as exc:
                if attempt == FRAGMENT_READ_ATTEMPTS:
                    raise UnreadableDataError(
                        f"{exc} (the same after {attempt} downloads: the export itself is bad; "
                        "contact Backstory support with the job id)"
                    ) from exc
                logger.warning(
                    "%s; downloading it again (%d of %d), %d record(s) already emitted",
                    exc,
                    attempt,
                    FRAGMENT_READ_ATTEMPTS - 1,
                    emitted,
                )
                fragment = download_fragment(
                    self._client, job, fragment.index, fragment.count, fragment.path
                )
        counter.records += emitted
        logger.info("Emitted %d record(s) from %s (%d bytes)", emitted, position, fragment.size)

    def _read(self, fragment: Fragment, position: str) -> Iterator[dict[str, t.Any]]:
        with open_binary(fragment.path) as stream:
            yield from self._reader(stream, position)

    def _start_job(self, window: Window, *, wait_for_slot: bool = True) -> ExportJob:
        """Re-attach to the job recorded for ``window`` if still usable, else create one."""
        params = self._settings.job_params(window)
        digest = fingerprint(params)
        entry = self._ledger.find(window)
        if entry is not None:
            recorded = ExportJob(job_id=entry.job_id, window=window, state=JobState.QUEUED)
            job, reason = self._reusable(recorded, entry.fingerprint, digest)
            if job is not None:
                logger.info("Re-attached to %s recorded in state, %s", job.describe(), job.state)
                return job
            logger.info("Not reusing %s: %s; creating a new job", recorded.describe(), reason)
            self._ledger.drop(entry.job_id)
        job = create_job(
            self._client, window, params, self._settings.poll, wait_for_slot=wait_for_slot
        )
        self._ledger.add(job.job_id, window, digest)
        self._checkpoints.now()
        return job

    def _reusable(self, job: ExportJob, recorded: str, digest: str) -> tuple[ExportJob | None, str]:
        """The recorded job's current status if it can still serve, else why not."""
        if recorded != digest:
            return None, "it was created with other parameters (the config changed)"
        try:
            status = fetch_status(self._client, job)
        except ApiError as exc:
            if exc.status in GONE_STATUSES:
                return None, f"the API no longer knows it (HTTP {exc.status}; files live 10 days)"
            if 400 <= exc.status < 500:
                return None, f"the API refused its status (HTTP {exc.status}: {exc.server_message})"
            raise
        except ExportJobError as exc:  # e.g. an unknown state
            return None, str(exc)
        if status.state in (JobState.FAILED, JobState.CANCELED):
            return None, f"it ended {status.state}"
        return status, ""

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


@dataclass(slots=True)
class _Counter:
    """Records emitted for the current window, counted per fragment read in full."""

    records: int = 0


@dataclass(slots=True)
class _Where:
    """The current record's position, formatted only for an error message."""

    position: str
    unit: str
    number: int = 0

    def __call__(self) -> str:
        return f"{self.position}, {self.unit} {self.number}"
