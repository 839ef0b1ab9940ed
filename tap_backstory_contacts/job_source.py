"""Each window's export job: re-attached from the ledger, or created; replaced if it fails.

A job whose files are gone (404/410) is replaced too, and a ledger entry that does not fit
its job is not trusted.
"""

from __future__ import annotations

import logging
import typing as t

from tap_backstory_contacts.errors import ApiError, ExportJobError, JobEndedError
from tap_backstory_contacts.job_api import create_job, fetch_status, wait_until_complete
from tap_backstory_contacts.jobs import ExportJob, JobState, fingerprint

if t.TYPE_CHECKING:
    from tap_backstory_contacts.checkpoints import Checkpoints
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.ledger import Ledger
    from tap_backstory_contacts.settings import Settings
    from tap_backstory_contacts.windows import Window

# A job id the API no longer knows: files are kept 10 days, then the job is gone.
GONE_STATUSES = (404, 410)
logger = logging.getLogger("tap-backstory-contacts")


class JobSource:
    """Starts, re-attaches to and waits for export jobs, keeping the ledger in step."""

    def __init__(
        self,
        client: BackstoryClient,
        settings: Settings,
        ledger: Ledger,
        checkpoints: Checkpoints,
    ) -> None:
        self._client = client
        self._settings = settings
        self._ledger = ledger
        self._checkpoints = checkpoints

    def start(self, window: Window, *, wait_for_slot: bool = True) -> ExportJob:
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
                self._give_up_after(ended, job.window)
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

    def replace_gone(self, job: ExportJob, status: int) -> ExportJob:
        """A new job for the window of ``job``, whose files the API no longer has."""
        logger.warning(
            "The files of %s are gone (HTTP %d); creating a new job for its window",
            job.describe(),
            status,
        )
        return self.start(job.window)

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

    def _give_up_after(self, ended: list[JobEndedError], window: Window) -> None:
        retries = self._settings.job_retries
        if len(ended) > retries:
            history = "; ".join(str(e) for e in ended)
            raise ExportJobError(
                f"No export job for window {window} completed after {len(ended)} tries "
                f"(job_retries is {retries}): {history}. Backstory gives no reason for failed "
                "jobs; try again later, raise job_retries, or contact Backstory support with "
                "the job ids."
            ) from ended[-1]

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
