"""Configuration and request-log records of the fake Backstory API."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Endpoint = Literal["token", "create", "status", "data", "other"]

JSON_SHAPES = ("array", "lines", "wrapper")
GZIP_MODES = ("none", "header", "magic", "deflate")
CSV_BOOLS = ("true", "True", "1", "yes")
EMPTY_FRAGMENTS = ("zero", "missing")
JOB_ID_TYPES = ("string", "int")
HOSTILE_BODIES = ("whitespace", "long_value")


def setting(
    default: Any,
    help: str,
    choices: tuple[Any, ...] = (),
    cli_words: Mapping[str, Any] | None = None,
) -> Any:
    """A FakeConfig field: its default, what it does (the command line's help), the values
    it allows (checked by validate) and, when the command line spells values as words,
    the words."""
    return field(
        default=default, metadata={"help": help, "choices": choices, "cli_words": cli_words}
    )


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

    port: int = setting(0, "port on 127.0.0.1 (0: pick a free one)")
    client_id: str = setting("test-client", "the client id accepted")
    client_secret: str = setting("test-secret", "the client secret accepted")
    token_ttl_seconds: float = setting(7200, "token lifetime, seconds")
    contacts_per_day: int = setting(20, "contacts created per UTC day")
    seed: int = setting(7, "seed of the generated data")
    data_last_day: str | None = setting(None, "YYYY-MM-DD: no contacts after it")
    polls_queued: int = setting(1, "status polls a job answers Queued")
    polls_running: int = setting(1, "status polls a job then answers Running")
    job_seconds: float = setting(0.0, "when > 0: jobs run this long (by time, not polls)")
    fragment_size: int = setting(1000, "records per fragment")
    empty_fragments: str = setting(
        "zero", "an empty export's status: fragments 0 or no fragments field", EMPTY_FRAGMENTS
    )
    json_shape: str = setting("array", "JSON export layout", JSON_SHAPES)
    json_pretty: bool = setting(False, "JSON arrays and wrappers with one field per line")
    gzip: str = setting(
        "none",
        "header: Content-Encoding gzip; magic: gzip bytes as octet-stream; "
        "deflate: Content-Encoding deflate (a zlib stream)",
        GZIP_MODES,
    )
    csv_bool: str = setting("true", "CSV word for true", CSV_BOOLS)
    csv_bom: bool = setting(False, "CSV starts with a byte order mark")
    csv_line_terminator: str = setting(
        "\r\n", "CSV line end", cli_words={"crlf": "\r\n", "lf": "\n"}
    )
    csv_header_names: tuple[tuple[str, str], ...] = setting(
        (), "JSON [field, header text] pairs: the CSV header shows this text for the field"
    )
    job_id_type: str = setting("string", "job ids as JSON strings or integers", JOB_ID_TYPES)
    extra_fields: bool = setting(False, "records carry fields the tap's schema lacks")
    added_fields: tuple[tuple[str, Any], ...] = setting(
        (), 'JSON [name, value] pairs added to every JSON record (e.g. a nested list, a key "data")'
    )
    hostile_body: str | None = setting(
        None,
        "hostile JSON fragments: hostile-bytes of whitespace before the first record, or a "
        'first (extra) record whose "notes" value is that many characters long',
        (None, *HOSTILE_BODIES),
    )
    hostile_bytes: int = setting(0, "size of the hostile body")
    max_window_days: int | None = setting(None, "longer job windows are refused (400)")
    enforce_job_limits: bool = setting(False, "a third running job is refused (429)")
    throttle_bytes_per_second: int | None = setting(None, "data bodies paced to this rate")
    fail_jobs: int = setting(0, "the next N jobs end Failed")
    cancel_jobs: int = setting(0, "the next N jobs end Canceled")
    status_override: str | None = setting(None, "every status answer shows this state")
    expired_status: int = setting(404, "status of an expired job's answers", (404, 410))
    log_requests: bool = setting(False, "print one line per request to stderr")
    report_fragments: bool = setting(
        True, "false: status answers never carry fragments (clients read the stitched file)"
    )
    empty_data_status: int = setting(200, "how /data answers an empty export: 200, 204 or 404")
    bad_value_at: int | None = setting(
        None, "export position (0-based) of a record whose total_inbound is bad-value's text"
    )
    bad_value: str = setting("n/a", 'the text bad-value-at puts there (e.g. "1_000")')
    fragments_override: int | None = setting(
        None, "Completed jobs' status answers report this fragment count instead"
    )
    job_ids: tuple[str | int, ...] = setting(
        (),
        'JSON list of ids for the next created jobs (e.g. "a/b", "x#frag"), then the usual '
        "ids; status and data find such a job only under its percent-encoded id",
    )

    def validate(self) -> None:
        """Raise ValueError when an enumerated field holds an unknown value."""
        for spec in dataclasses.fields(self):
            allowed = spec.metadata["choices"]
            value = getattr(self, spec.name)
            if allowed and value not in allowed:
                raise ValueError(f"FakeConfig.{spec.name}={value!r}; expected one of {allowed}")
        if self.fragment_size < 1:
            raise ValueError("FakeConfig.fragment_size must be >= 1")

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
    #: The request's headers as received (Authorization included).
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
