"""The export job lifecycle: create, poll with capped backoff until final, report failures."""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import re
import typing as t
from dataclasses import dataclass, field

from tap_backstory_contacts import clock
from tap_backstory_contacts.errors import (
    ApiError,
    ExportJobError,
    JobEndedError,
    JobLimitError,
    TapBackstoryError,
    WindowTooLargeError,
)

if t.TYPE_CHECKING:
    from tap_backstory_contacts.client import BackstoryClient
    from tap_backstory_contacts.windows import Window

JOBS_PATH = "/pull/v1/export/contacts/jobs"
HEARTBEAT_SECONDS = 60.0
# The API's answers when 2 jobs already run or 10 are queued are undocumented; both seen
# forms mean "wait for a slot", not "give up".
LIMIT_STATUSES = frozenset({409, 429})
# A 400 whose message is about the date range (the API caps a job at 14 days or 1 year).
RANGE_REFUSAL = re.compile(r"range|too (large|long|many)|at most \d+ days|exceed", re.IGNORECASE)
logger = logging.getLogger("tap-backstory-contacts")


class JobState(enum.StrEnum):
    """The five documented job states."""

    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CANCELED = "Canceled"
    FAILED = "Failed"

    @property
    def in_progress(self) -> bool:
        """Whether the job may still change state."""
        return self in (JobState.QUEUED, JobState.RUNNING)


@dataclass(slots=True)
class ExportJob:
    """One export job for one window, as last seen on the server."""

    job_id: str
    window: Window
    state: JobState
    fragments: int | None = None
    results_size: int | None = None
    server_message: str | None = None
    seen_at: float = field(default_factory=clock.monotonic)

    def describe(self) -> str:
        """``job <id> (window a..b)``, for messages."""
        return f"export job {self.job_id} (window {self.window})"


@dataclass(frozen=True, slots=True)
class PollSettings:
    """How to wait for a job: first and largest wait between polls, and the total."""

    first_wait: float
    max_wait: float
    timeout: float


def fingerprint(params: dict[str, t.Any]) -> str:
    """A short stable digest of a job's request parameters."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


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
    raise ``WindowTooLargeError`` if its date range is refused."""
    what = f"Creating the export job for window {window}"
    started = clock.monotonic()
    wait = poll.first_wait
    while True:
        try:
            body = client.post_json(JOBS_PATH, params, what=what, give_up_on=LIMIT_STATUSES)
            break
        except ApiError as exc:
            if exc.status == 400 and RANGE_REFUSAL.search(exc.server_message):
                raise WindowTooLargeError(str(exc)) from exc
            if exc.status not in LIMIT_STATUSES:
                raise
            if not wait_for_slot:
                raise JobLimitError(str(exc)) from exc
            # Retry-After may ask for more; never less than the poll wait (a 0 would spin).
            delay = max(wait, exc.retry_after or 0.0)
            waited = clock.monotonic() - started
            if waited + delay > poll.timeout:
                raise ExportJobError(
                    f"{what}: the API still refused it after {waited:.0f}s (HTTP {exc.status}: "
                    f"{exc.server_message}); job_timeout_seconds is {poll.timeout:g}. An org runs "
                    "at most 2 export jobs and queues 10: other jobs on this org may hold the "
                    "slots; try again later or raise job_timeout_seconds."
                ) from exc
            logger.info(
                "%s: the API is at its job limit (HTTP %d: %s); trying again in %.1fs",
                what,
                exc.status,
                exc.server_message,
                delay,
            )
            clock.sleep(delay)
            wait = min(wait * 2, poll.max_wait)
    job = _job_from_body(body, window, what=f"creating the export job for window {window}")
    logger.info("Created %s, state %s", job.describe(), job.state)
    return job


def fetch_status(client: BackstoryClient, job: ExportJob) -> ExportJob:
    """GET the job's current status."""
    body = client.get_json(
        f"{JOBS_PATH}/{job.job_id}", what=f"Polling the status of {job.describe()}"
    )
    return _job_from_body(body, job.window, what=f"polling {job.describe()}", job_id=job.job_id)


def wait_until_complete(client: BackstoryClient, job: ExportJob, poll: PollSettings) -> ExportJob:
    """Poll until the job is Completed; raise ``ExportJobError`` if it fails or times out."""
    started = clock.monotonic()
    # A job that has run ahead (pipelined) is polled at once, not after a first full wait.
    wait = max(0.0, poll.first_wait - (started - job.seen_at))
    last_heartbeat = started
    while job.state.in_progress:
        elapsed = clock.monotonic() - started
        if elapsed >= poll.timeout:
            raise ExportJobError(
                f"{job.describe()} was still {job.state} after {elapsed:.0f}s; "
                f"job_timeout_seconds is {poll.timeout:g}. The API runs at most 2 jobs at once "
                "and queues 10; raise job_timeout_seconds or try again later."
            )
        clock.sleep(min(wait, poll.timeout - elapsed))
        wait = min(max(wait * 2, poll.first_wait), poll.max_wait)
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


def _job_from_body(
    body: dict[str, t.Any], window: Window, *, what: str, job_id: str | None = None
) -> ExportJob:
    raw_id = body.get("job_id", job_id)
    if raw_id is None or isinstance(raw_id, bool) or str(raw_id).strip() == "":
        raise TapBackstoryError(f"The API's answer when {what} has no job_id: {body}")
    # Docs say string; mocks and comments show integers. Always a string from here on.
    job_id = str(raw_id)
    raw_state = body.get("state")
    state = _parse_state(raw_state)
    if state is None:
        raise ExportJobError(
            f"export job {job_id} (window {window}) reported an unknown state {raw_state!r}; "
            f"expected one of {', '.join(s.value for s in JobState)}."
        )
    return ExportJob(
        job_id=job_id,
        window=window,
        state=state,
        fragments=_optional_count(body.get("fragments"), "fragments", job_id),
        results_size=_lenient_count(body.get("results_size")),
        server_message=_server_message(body),
    )


def _server_message(body: dict[str, t.Any]) -> str | None:
    """Any explanation the status carries (none is documented; some APIs add one)."""
    parts = [str(body[k]) for k in ("error", "message", "failure_reason", "reason") if body.get(k)]
    return ": ".join(parts) or None


def _parse_state(raw: object) -> JobState | None:
    if not isinstance(raw, str):
        return None
    for state in JobState:
        if state.value.lower() == raw.strip().lower():
            return state
    return None


def _lenient_count(raw: object) -> int | None:
    """``results_size`` is only reported and its unit is undocumented: odd values are None."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = int(float(raw))
    except ValueError:
        return None
    return value if value >= 0 else None


def _optional_count(raw: object, field: str, job_id: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TapBackstoryError(f"export job {job_id}: '{field}' is not a count: {raw!r}")
    try:
        value = int(raw)
    except ValueError as exc:
        raise TapBackstoryError(f"export job {job_id}: '{field}' is not a count: {raw!r}") from exc
    if value < 0:
        raise TapBackstoryError(f"export job {job_id}: '{field}' is negative: {value}")
    return value
