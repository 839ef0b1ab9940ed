"""The one owner of export jobs: it creates, re-attaches to, replaces and forgets them, and is
the only writer of the job ledger.

Each window's job is re-attached from the ledger when still usable, or created; a job that
ends Failed or Canceled, or whose files are gone (404/410), is replaced, and a ledger entry
that does not fit its job is not trusted.
"""

from __future__ import annotations

import typing as t

from tap_backstory_contacts import logger
from tap_backstory_contacts.errors import ApiError, ExportJobError, JobEndedError
from tap_backstory_contacts.jobs.api import create_job, fetch_status, wait_until_complete
from tap_backstory_contacts.jobs.ledger import Ledger
from tap_backstory_contacts.jobs.model import (
    GONE_STATUSES,
    ExportJob,
    JobState,
    fingerprint,
    job_params,
)

if t.TYPE_CHECKING:
    from tap_backstory_contacts.checkpoints import Checkpoints
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.settings import Settings
    from tap_backstory_contacts.windows import Window


class JobKeeper:
    """Export jobs of one sync, kept in step with the ledger in the stream's ``state``."""

    def __init__(
        self,
        client: BackstoryClient,
        settings: Settings,
        state: dict[str, t.Any],
        checkpoints: Checkpoints,
    ) -> None:
        self._client = client
        self._settings = settings
        self._ledger = Ledger(state)
        self._checkpoints = checkpoints
        self._replaced_gone: set[Window] = set()

    def plan(self, windows: list[Window]) -> None:
        """Forget the jobs recorded for windows this run does not export."""
        self._ledger.keep_only(windows)

    def start(self, window: Window, *, wait_for_slot: bool = True) -> ExportJob:
        """Re-attach to the job recorded for ``window`` if still usable, else create one."""
        params = job_params(self._settings, window)
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
        self._checkpoints.job_recorded()
        return job

    def completed(self, job: ExportJob) -> tuple[ExportJob, int]:
        """The window's job once Completed, and how many of its fragments were emitted by an
        earlier run. A job that fails is recreated up to ``job_retries`` times; a ledger
        entry that does not fit the completed job is not trusted: a new job replaces it."""
        ended: list[JobEndedError] = []
        while True:
            try:
                job = wait_until_complete(self._client, job, self._settings.poll)
            except JobEndedError as exc:
                ended.append(exc)
                self._ledger.drop(job.job_id)
                _give_up_after(ended, job.window, self._settings.job_retries)
                logger.warning(
                    "%s; creating a new job for the window (retry %d of %d)",
                    exc,
                    len(ended),
                    self._settings.job_retries,
                )
                job = self.start(job.window)
                continue
            emitted = self._fragments_emitted(job)
            if emitted is not None:
                return job, emitted
            self._ledger.drop(job.job_id)
            job = self.start(job.window)

    def replacement_for(self, job: ExportJob, error: ApiError, *, records: int) -> ExportJob:
        """A new job for the window of ``job``, whose download failed with ``error``.

        Only a job whose files are gone (404/410) before any of its window's ``records``
        was emitted is replaced, once; otherwise its ledger entry is dropped (when gone, so
        that the next run does not re-attach to it) and ``error`` is raised.
        """
        if error.status not in GONE_STATUSES:
            raise error
        self._ledger.drop(job.job_id)
        if records or job.window in self._replaced_gone:
            raise error
        self._replaced_gone.add(job.window)
        logger.warning(
            "The files of %s are gone (HTTP %d); creating a new job for its window",
            job.describe(),
            error.status,
        )
        return self.start(job.window)

    def fragments_emitted(self, job: ExportJob, count: int) -> None:
        """Record that the first ``count`` fragments of ``job`` are out in full."""
        self._ledger.fragments_emitted(job.job_id, count)

    def forget(self, job: ExportJob) -> None:
        """Forget ``job``: its window is bookmarked."""
        self._ledger.drop(job.job_id)

    def _fragments_emitted(self, job: ExportJob) -> int | None:
        """Fragments of ``job`` already emitted per the ledger; None if the entry cannot
        be right for this job (more fragments than it has, or any for a stitched export)."""
        entry = self._ledger.find(job.window)
        emitted = entry.fragments_emitted if entry and entry.job_id == job.job_id else 0
        if not emitted:
            return 0
        if job.fragments and emitted <= job.fragments:
            logger.info("Skipping %d fragment(s) of %s already emitted", emitted, job.describe())
            return emitted
        logger.warning(
            "The state says %d fragment(s) of %s were emitted, but the job has %s; not "
            "trusting that entry: creating a new job for the window",
            emitted,
            job.describe(),
            f"{job.fragments} fragment(s)" if job.fragments else "no fragments",
        )
        return None

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


def _give_up_after(ended: list[JobEndedError], window: Window, retries: int) -> None:
    """Raise once the window's jobs ended more often than ``job_retries`` allows."""
    if len(ended) > retries:
        history = "; ".join(str(e) for e in ended)
        raise ExportJobError(
            f"No export job for window {window} completed after {len(ended)} tries "
            f"(job_retries is {retries}): {history}. Backstory gives no reason for failed "
            "jobs; try again later, raise job_retries, or contact Backstory support with "
            "the job ids."
        ) from ended[-1]
