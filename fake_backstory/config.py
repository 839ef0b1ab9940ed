"""Configuration and request-log records of the fake Backstory API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Endpoint = Literal["token", "create", "status", "data", "other"]

JSON_SHAPES = ("array", "lines", "wrapper")
GZIP_MODES = ("none", "header", "magic", "deflate")
CSV_BOOLS = ("true", "True", "1", "yes")
EMPTY_FRAGMENTS = ("zero", "missing")
JOB_ID_TYPES = ("string", "int")
HOSTILE_BODIES = ("whitespace", "long_value")


@dataclass
class FakeConfig:
    """Behaviour switches of the fake API; mutable while the server runs.

    Fields that shape a job's data, format and timing (``contacts_per_day``, ``seed``,
    ``data_last_day``, ``extra_fields``, ``added_fields``, ``fragment_size``, ``json_shape``,
    ``json_pretty``, ``hostile_*``, ``csv_*``, ``polls_*``, ``job_seconds``, ``bad_value*``)
    are copied into each job when it is created. Everything else (credentials, token TTL,
    ``gzip``, throttling, ``status_override``, ``empty_fragments``, ``report_fragments``,
    ``empty_data_status``, ``expired_status``, limits) is read live on every request.
    """

    port: int = 0
    client_id: str = "test-client"
    client_secret: str = "test-secret"  # noqa: S105 - fake credentials
    token_ttl_seconds: float = 7200
    contacts_per_day: int = 20
    seed: int = 7
    data_last_day: str | None = None
    polls_queued: int = 1
    polls_running: int = 1
    job_seconds: float = 0.0
    fragment_size: int = 1000
    empty_fragments: str = "zero"
    json_shape: str = "array"
    #: JSON arrays and wrappers pretty-printed: 2-space indent, one field per line.
    json_pretty: bool = False
    #: "header": Content-Encoding gzip; "magic": gzip bytes as octet-stream;
    #: "deflate": Content-Encoding deflate (a zlib stream).
    gzip: str = "none"
    csv_bool: str = "true"
    csv_bom: bool = False
    csv_line_terminator: str = "\r\n"
    #: (field, header text) pairs: the CSV header row shows this text for the field.
    csv_header_names: tuple[tuple[str, str], ...] = ()
    job_id_type: str = "string"
    extra_fields: bool = False
    #: (name, value) pairs added to every JSON record, e.g. a nested list or a key "data".
    added_fields: tuple[tuple[str, Any], ...] = ()
    #: Hostile JSON fragments: ``hostile_bytes`` of whitespace before the first record, or a
    #: first record (an extra one) whose "notes" value is that many characters long.
    hostile_body: str | None = None
    hostile_bytes: int = 0
    max_window_days: int | None = None
    enforce_job_limits: bool = False
    throttle_bytes_per_second: int | None = None
    fail_jobs: int = 0
    cancel_jobs: int = 0
    status_override: str | None = None
    expired_status: int = 404
    log_requests: bool = False
    #: False: status responses never carry ``fragments``, so clients must read the stitched file.
    report_fragments: bool = True
    #: How /data answers for an empty export: 200 (an empty file), 204 or 404.
    empty_data_status: int = 200
    #: Export position (0-based) of a record whose ``total_inbound`` is the untypable text "n/a".
    bad_value_at: int | None = None
    #: The value ``bad_value_at`` puts there (e.g. "1_000" or 2**63 for integer checks).
    bad_value: Any = "n/a"
    #: Status responses of Completed jobs report this fragment count instead of the real one.
    fragments_override: int | None = None
    #: Ids given to the next created jobs, in order (str or int; e.g. "a/b", "x#frag");
    #: then the usual ids. Status and data find such a job only under its percent-encoded id.
    job_ids: tuple[str | int, ...] = ()

    def validate(self) -> None:
        """Raise ValueError when an enumerated field holds an unknown value."""
        choices = {
            "json_shape": JSON_SHAPES,
            "gzip": GZIP_MODES,
            "csv_bool": CSV_BOOLS,
            "empty_fragments": EMPTY_FRAGMENTS,
            "job_id_type": JOB_ID_TYPES,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"FakeConfig.{name}={value!r}; expected one of {allowed}")
        if self.hostile_body not in (None, *HOSTILE_BODIES):
            raise ValueError(f"FakeConfig.hostile_body: expected one of {HOSTILE_BODIES} or None")
        if self.fragment_size < 1:
            raise ValueError("FakeConfig.fragment_size must be >= 1")
        if self.expired_status not in (404, 410):
            raise ValueError("FakeConfig.expired_status must be 404 or 410")

    def snapshot(self) -> FakeConfig:
        """Return an independent copy (a job's frozen view of the settings)."""
        return dataclasses.replace(self)


@dataclass(frozen=True)
class RequestLog:
    """One request as the fake saw it; ``status`` is 0 when the connection was reset."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    endpoint: str
    #: The request target exactly as received (path and query, percent-encoding intact).
    target: str = ""
