"""The job calls: create (waiting out job limits), fetch the status, poll until final."""

from __future__ import annotations

import re
import typing as t

import requests
import urllib3.exceptions

from tap_backstory_contacts import clock, logger
from tap_backstory_contacts.errors import (
    ApiError,
    ExportJobError,
    JobCreationUnknownError,
    JobEndedError,
    JobLimitError,
    JobMismatchError,
    WindowTooLargeError,
)
from tap_backstory_contacts.jobs.model import (
    JOBS_PATH,
    MAX_QUEUED_JOBS,
    MAX_RUNNING_JOBS,
    ExportJob,
    JobState,
    job_from_body,
)
from tap_backstory_contacts.retry import (
    TransientError,
    doubling_waits,
    honoured_retry_after,
)

if t.TYPE_CHECKING:
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.settings import PollSettings
    from tap_backstory_contacts.windows import Window

HEARTBEAT_SECONDS = 60.0
# The API's answers when its job limits are reached are undocumented; both seen
# forms mean "wait for a slot", not "give up".
LIMIT_STATUSES = frozenset({409, 429})
# Answers after which the API may have created the job all the same: its own error (500), a
# gateway's that gave up waiting for it (502, 504). 503 and 429 say the request was refused.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
# A 400 whose message is about the date range (the API caps a job at 14 days or 1 year).
RANGE_REFUSAL = re.compile(r"range|too (large|long|many)|at most \d+ days|exceed", re.IGNORECASE)


def create_job(
    client: BackstoryClient,
    window: Window,
    params: dict[str, t.Any],
    poll: PollSettings,
    *,
    wait_for_slot: bool = True,
) -> ExportJob:
    """POST a new export job for ``window``; wait (within the job timeout) while the API's
    job limits refuse it, or raise ``JobLimitError`` at once unless ``wait_for_slot``;
    raise ``WindowTooLargeError`` if its date range is refused.

    The POST is not idempotent: an answer lost after the request reached the API (see
    ``_answer_lost``) raises ``JobCreationUnknownError`` instead of creating another job.
    """
    what = f"Creating the export job for window {window}"
    started = clock.monotonic()
    waits = doubling_waits(poll.first_wait, poll.max_wait)
    while True:
        try:
            body = client.post_json(
                JOBS_PATH,
                params,
                what=what,
                giveup=lambda exc: exc.status in LIMIT_STATUSES or _answer_lost(exc),
            )
            break
        except (ApiError, TransientError) as exc:
            if isinstance(exc, TransientError) and _answer_lost(exc):
                raise _creation_unknown(window, exc) from exc
            status, message, retry_after = _refusal(exc)
            if status == 400 and RANGE_REFUSAL.search(message):
                raise WindowTooLargeError(str(exc)) from exc
            if status not in LIMIT_STATUSES:
                raise
            if not wait_for_slot:
                raise JobLimitError(str(exc)) from exc
            # Retry-After may ask for more; never less than the poll wait (a 0 would spin).
            delay = max(next(waits), honoured_retry_after(retry_after, what=what) or 0.0)
            waited = clock.monotonic() - started
            if waited + delay > poll.timeout:
                raise ExportJobError(
                    f"{what}: the API still refused it after {waited:.0f}s ({message}); "
                    f"job_timeout_seconds is {poll.timeout:g}. An org runs at most "
                    f"{MAX_RUNNING_JOBS} export jobs and queues {MAX_QUEUED_JOBS}: other jobs "
                    "on this org may hold the slots; try again later or raise "
                    "job_timeout_seconds."
                ) from exc
            logger.info(
                "%s: the API is at its job limit (%s); trying again in %.1fs", what, message, delay
            )
            clock.sleep(delay)
    job = job_from_body(body, window, what=f"creating the export job for window {window}")
    logger.info("Created %s, state %s", job.describe(), job.state)
    return job


def _answer_lost(exc: TransientError) -> bool:
    """Whether the request may have reached the API (unlike a refused connection or a
    connect timeout) and may have been served, though no usable answer came back."""
    if exc.status is not None:
        return exc.status in AMBIGUOUS_STATUSES
    cause = exc.__cause__
    if isinstance(cause, requests.ConnectTimeout):
        return False
    reason = getattr(cause.args[0], "reason", None) if cause and cause.args else None
    return not isinstance(reason, urllib3.exceptions.NewConnectionError)


def _creation_unknown(window: Window, exc: TransientError) -> JobCreationUnknownError:
    return JobCreationUnknownError(
        f"Creating the export job for window {window}: the answer was lost ({exc.reason}), "
        "so the API may or may not have created the job. The tap does not create another "
        "blindly: the API has no call to find or cancel a contacts export job, so a second "
        "job would run beside one nobody reads. If a job was created, it holds one of the "
        f"org's {MAX_RUNNING_JOBS} running / {MAX_QUEUED_JOBS} queued job slots until it "
        "finishes. Run again: earlier windows stay bookmarked and the next run starts at "
        "this window (if the API reports its job limits, it waits for a free slot). If this "
        "keeps happening, check the network path to api_url (a proxy or gateway timing out)."
    )


def _refusal(exc: ApiError | TransientError) -> tuple[int | None, str, float | None]:
    """Status, message and Retry-After of a refused creation, whichever way it came."""
    if isinstance(exc, ApiError):
        return exc.status, f"HTTP {exc.status}: {exc.server_message}", exc.retry_after
    return exc.status, exc.reason, exc.retry_after


def fetch_status(client: BackstoryClient, job: ExportJob) -> ExportJob:
    """GET the job's current status."""
    body = client.get_json(job.path, what=f"Polling the status of {job.describe()}")
    status = job_from_body(body, job.window, what=f"polling {job.describe()}", job_id=job.job_id)
    if status.job_id != job.job_id:
        raise JobMismatchError(
            f"Polling the status of {job.describe()}: the API answered about export job "
            f"{status.job_id} instead. Not trusting that answer (following it would read "
            f"another job's files as window {job.window}). Run again later; if it persists, "
            f"a proxy or cache may be mixing up answers: contact Backstory support with both "
            "job ids."
        )
    return status


def wait_until_complete(client: BackstoryClient, job: ExportJob, poll: PollSettings) -> ExportJob:
    """Poll until the job is Completed; raise ``JobEndedError`` if it fails, and
    ``ExportJobError`` if it is not final within the job timeout."""
    started = clock.monotonic()
    waits = doubling_waits(poll.first_wait, poll.max_wait)
    next(waits)  # the first wait: the job's age counts towards it
    # A job that has run ahead (pipelined) is polled at once, not after a first full wait.
    wait = max(0.0, poll.first_wait - (started - job.seen_at))
    last_heartbeat = started
    while job.state.in_progress:
        elapsed = clock.monotonic() - started
        if elapsed >= poll.timeout:
            raise ExportJobError(
                f"{job.describe()} was still {job.state} after {elapsed:.0f}s; "
                f"job_timeout_seconds is {poll.timeout:g}. The API runs at most "
                f"{MAX_RUNNING_JOBS} jobs at once and queues {MAX_QUEUED_JOBS}; raise "
                "job_timeout_seconds or try again later."
            )
        clock.sleep(min(wait, poll.timeout - elapsed))
        wait = next(waits)
        previous = job.state
        job = fetch_status(client, job)
        now = clock.monotonic()
        if job.state != previous:
            logger.info("%s is %s after %.0fs", job.describe(), job.state, now - started)
            last_heartbeat = now
        elif now - last_heartbeat >= HEARTBEAT_SECONDS:
            logger.info("%s still %s after %.0fs", job.describe(), job.state, now - started)
            last_heartbeat = now
    if job.state is not JobState.COMPLETED:
        said = f" (server: {job.server_message})" if job.server_message else ""
        raise JobEndedError(
            f"{job.describe()} ended {job.state}{said}", job_id=job.job_id, state=job.state
        )
    logger.info(
        "%s completed: %s fragment(s), results_size %s",  # its unit is undocumented
        job.describe(),
        "no" if job.fragments is None else job.fragments,
        "not given" if job.results_size is None else job.results_size,
    )
    return job
