"""Export jobs as the API describes them: states, ids, paths, request body, status body, and
the API's limits on jobs."""

from __future__ import annotations

import enum
import hashlib
import json
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from tap_backstory_contacts import clock
from tap_backstory_contacts.errors import ExportJobError, TapBackstoryError

if t.TYPE_CHECKING:
    from tap_backstory_contacts.settings import Settings
    from tap_backstory_contacts.windows import Window

JOBS_PATH = "/pull/v1/export/contacts/jobs"
# The API runs at most this many export jobs of an org at once and queues this many more.
MAX_RUNNING_JOBS = 2
MAX_QUEUED_JOBS = 10
# A job id the API no longer knows: files are kept 10 days, then the job is gone.
GONE_STATUSES = (404, 410)
# More fragments than this for one job is taken for a broken status, not a real export:
# each fragment is one request, and the tap never builds the list of indices.
MAX_FRAGMENTS = 100_000


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
        """``export job <id> (window a..b)``, for messages."""
        return f"export job {self.job_id} (window {self.window})"

    @property
    def path(self) -> str:
        """The job's status path; the id percent-encoded, whatever the API sent."""
        return job_path(self.job_id)


def job_path(job_id: str) -> str:
    """``/pull/v1/export/contacts/jobs/<id>`` with every reserved character of the id
    encoded, so that an id such as ``../x`` or ``a?b`` stays one path segment."""
    return f"{JOBS_PATH}/{urllib.parse.quote(job_id, safe='')}"


def job_params(settings: Settings, window: Window) -> dict[str, t.Any]:
    """The job creation body for ``window``.

    All three booleans are always sent: the API documents no defaults for them.
    ``country`` and ``state`` are sent only when set.
    """
    params: dict[str, t.Any] = {
        "start_date": window.start.isoformat(),
        "end_date": window.end.isoformat(),
        "include_historical": settings.include_historical,
        "include_existing": settings.include_existing,
        "is_sourced_by_people_ai": settings.is_sourced_by_people_ai,
        "output_format": settings.output_format,
    }
    if settings.country:
        params["country"] = settings.country
    if settings.state:
        params["state"] = settings.state
    return params


def fingerprint(params: dict[str, t.Any]) -> str:
    """A short stable digest of a job's request parameters."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def job_from_body(
    body: dict[str, t.Any], window: Window, *, what: str, job_id: str | None = None
) -> ExportJob:
    """The job an API answer (creation or status) describes; raises on what cannot be one."""
    raw_id = body.get("job_id", job_id)
    # Docs say string; mocks and comments show integers. Always a string from here on.
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id).strip() == "":
        raise TapBackstoryError(
            f"The API's answer when {what} has no usable job_id (a string or an integer): "
            f"{str(body)[:200]}"
        )
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
        fragments=_fragment_count(body.get("fragments"), job_id),
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
    except (ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def _fragment_count(raw: object, job_id: str) -> int | None:
    if raw is None:
        return None
    problem = f"export job {job_id}: 'fragments' is not a count: {str(raw)[:40]!r}"
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TapBackstoryError(problem)
    try:
        value = int(raw)
    except ValueError as exc:
        raise TapBackstoryError(problem) from exc
    if value < 0:
        raise TapBackstoryError(f"export job {job_id}: 'fragments' is negative: {value}")
    if value > MAX_FRAGMENTS:
        raise TapBackstoryError(
            f"export job {job_id}: the API reports {value} fragments, more than the "
            f"{MAX_FRAGMENTS} the tap accepts for one job; the job status looks broken. "
            "Try again later, or contact Backstory support with the job id."
        )
    return value
