"""Export jobs: parameter validation, the Queued/Running/final state machine, rendering."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from fake_backstory.config import FakeConfig
from fake_backstory.data import API_FIELDS, EXTRA_FIELDS, ContactFilter, iter_records
from fake_backstory.render import (
    RenderedExport,
    RenderOptions,
    gzip_bytes,
    layout_for,
    render_export,
)
from fake_backstory.responses import ApiError

FINAL_STATES = ("Completed", "Failed", "Canceled")
OUTPUT_FORMATS = ("JSON", "CSV", "JSONLines")
BOOL_PARAMS = ("include_historical", "include_existing", "is_sourced_by_people_ai")
STRING_PARAMS = ("country", "state")
KNOWN_PARAMS = ("start_date", "end_date", "output_format", *BOOL_PARAMS, *STRING_PARAMS)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(value: Any, name: str) -> date:
    """Parse a strict ``YYYY-MM-DD`` job parameter."""
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ApiError(400, f"Invalid parameter format: {name}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"Invalid parameter format: {name}") from None


def validate_job_params(body: Any, max_window_days: int | None) -> tuple[date, date]:
    """Check a job-creation body like the API does; returns the window."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    for key in body:
        if key not in KNOWN_PARAMS:
            raise ApiError(400, f"Invalid parameter format: {key}")
    for name in ("start_date", "end_date"):
        if name not in body:
            raise ApiError(400, f"Missing required parameter: {name}")
    start = parse_day(body["start_date"], "start_date")
    end = parse_day(body["end_date"], "end_date")
    if start > end:
        raise ApiError(400, "start_date must not be after end_date")
    for name in BOOL_PARAMS:
        if name in body and not isinstance(body[name], bool):
            raise ApiError(400, f"Invalid parameter format: {name}")
    for name in STRING_PARAMS:
        if name in body and not isinstance(body[name], str):
            raise ApiError(400, f"Invalid parameter format: {name}")
    if "output_format" in body and body["output_format"] not in OUTPUT_FORMATS:
        raise ApiError(400, "Invalid parameter format: output_format")
    if max_window_days is not None and (end - start).days + 1 > max_window_days:
        raise ApiError(400, f"Date range too large: at most {max_window_days} days")
    return start, end


def format_time(epoch: float | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) or None."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def job_records(
    settings: FakeConfig, start: date, end: date, params: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The records a job with ``params`` exports under ``settings``, in export order."""
    last = date.fromisoformat(settings.data_last_day) if settings.data_last_day else None
    records = iter_records(
        start,
        end,
        ContactFilter.from_params(params),
        contacts_per_day=settings.contacts_per_day,
        seed=settings.seed,
        data_last_day=last,
        extra_fields=settings.extra_fields,
    )
    if settings.bad_value_at is None:
        return records
    return _with_bad_value(records, settings.bad_value_at, settings.bad_value)


def _with_bad_value(
    records: Iterator[dict[str, Any]], position: int, value: str
) -> Iterator[dict[str, Any]]:
    """The records, with an integer field of one of them turned into ``value``."""
    for index, record in enumerate(records):
        if index == position:
            record = {**record, "total_inbound": value}
        yield record


@dataclass(eq=False)
class FakeJob:
    """One export job. ``settings`` is the config snapshot taken at creation."""

    job_id: str
    wire_id: str | int
    params: dict[str, Any]
    settings: FakeConfig
    start: date
    end: date
    final_state: str = "Completed"
    created_at: float = field(default_factory=time.time)
    created_mono: float = field(default_factory=time.monotonic)
    polls: int = 0
    expired: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    _export: RenderedExport | None = field(default=None, repr=False)
    _gzip: dict[int, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _render_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def output_format(self) -> str:
        """Requested output format (CSV when absent, as the real API)."""
        return str(self.params.get("output_format", "CSV"))

    @property
    def state(self) -> str:
        """Current state (does not count as a poll)."""
        with self._lock:
            return self._observe()

    def poll(self) -> str:
        """Count one status GET and return the state it sees."""
        with self._lock:
            self.polls += 1
            return self._observe()

    def _phase(self) -> str:
        """ "Queued", "Running" or "Done", by polls or (if job_seconds > 0) by time."""
        settings = self.settings
        if settings.job_seconds > 0:
            age = time.monotonic() - self.created_mono
            if age < settings.job_seconds * 0.1:
                return "Queued"
            return "Running" if age < settings.job_seconds else "Done"
        if self.polls <= settings.polls_queued:
            return "Queued"
        if self.polls <= settings.polls_queued + settings.polls_running:
            return "Running"
        return "Done"

    def _observe(self) -> str:
        """Compute the state and record start/end times the first time they are reached."""
        phase = self._phase()
        if phase == "Queued":
            return "Queued"
        seconds = self.settings.job_seconds
        now = time.time()
        if self.started_at is None:
            self.started_at = self.created_at + seconds * 0.1 if seconds > 0 else now
        if phase == "Running":
            return "Running"
        if self.ended_at is None:
            self.ended_at = self.created_at + seconds if seconds > 0 else now
        return self.final_state

    @property
    def fragments(self) -> int | None:
        """Fragment count once Completed (renders the export if needed), else None."""
        if self.state != "Completed":
            return None
        return self.export().fragments

    def export(self) -> RenderedExport:
        """The rendered export (rendered once, on first use; shared by identical jobs)."""
        with self._render_lock:
            if self._export is None:
                self._export = _RENDERS.get(self._render_key(), self._render)
            return self._export

    def _render_key(self) -> tuple[Any, ...]:
        s = self.settings
        return (
            orjson.dumps(self.params, option=orjson.OPT_SORT_KEYS),
            self.start,
            self.end,
            s.contacts_per_day,
            s.seed,
            s.data_last_day,
            s.extra_fields,
            orjson.dumps(s.added_fields),  # values may be lists (unhashable)
            s.fragment_size,
            s.json_shape,
            s.json_pretty,
            s.hostile_body,
            s.hostile_bytes,
            s.csv_bool,
            s.csv_bom,
            s.csv_line_terminator,
            s.csv_header_names,
            s.bad_value_at,
            s.bad_value,
        )

    def gzipped(self, fragment: int | None) -> bytes:
        """Gzip bytes of one fragment (or of the stitched file when None); cached."""
        export = self.export()
        key = -1 if fragment is None else fragment
        with self._lock:
            cached = self._gzip.get(key)
        if cached is None:
            body = export.stitched() if fragment is None else export.fragment(fragment)
            cached = gzip_bytes(body)
            with self._lock:
                self._gzip[key] = cached
        return cached

    def _render(self) -> RenderedExport:
        """Render the job's records with its settings snapshot."""
        settings = self.settings
        fields = API_FIELDS + (EXTRA_FIELDS if settings.extra_fields else ())
        opts = RenderOptions(
            layout=layout_for(self.output_format, settings.json_shape),
            fields=fields,
            fragment_size=settings.fragment_size,
            csv_bool=settings.csv_bool,
            csv_bom=settings.csv_bom,
            csv_line_terminator=settings.csv_line_terminator,
            csv_header_names=settings.csv_header_names,
            pretty=settings.json_pretty,
            added_fields=settings.added_fields,
            hostile_body=settings.hostile_body,
            hostile_bytes=settings.hostile_bytes,
        )
        return render_export(job_records(settings, self.start, self.end, self.params), opts)

    def describe(self, state: str) -> dict[str, Any]:
        """Status fields common to creation and status responses."""
        return {
            "job_id": self.wire_id,
            "state": state,
            "output_format": self.output_format,
            "job_created_time": format_time(self.created_at),
            "job_start_time": format_time(self.started_at) if state != "Queued" else None,
            "job_end_time": format_time(self.ended_at) if state in FINAL_STATES else None,
        }


class _RenderCache:
    """The last few rendered exports, so that a benchmark's repeated identical jobs (and
    tests that sync the same range twice) do not pay for rendering again."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: dict[tuple[Any, ...], RenderedExport] = {}

    def get(self, key: tuple[Any, ...], render: Callable[[], RenderedExport]) -> RenderedExport:
        with self._lock:
            found = self._items.pop(key, None)
            if found is None:
                found = render()
            self._items[key] = found
            while len(self._items) > self._size:
                del self._items[next(iter(self._items))]
            return found


_RENDERS = _RenderCache(size=3)
