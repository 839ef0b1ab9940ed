"""Queued fault injection: which request misbehaves, and how."""

from __future__ import annotations

import email.utils
import functools
import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

import orjson

from fake_backstory.responses import ERROR_NAMES, ApiError, Response

FAULT_ENDPOINTS = ("token", "create", "status", "data", "*")
#: Faults answered instead of the normal response.
ERROR_KINDS = ("429", "429_retry_after", "500", "502", "503", "504", "401", "404", "409", "410")
#: Faults that damage the normal response's body or connection.
BODY_KINDS = ("drop_mid_body", "short_body", "truncate", "corrupt", "bad_crc")
#: Faults of a hostile or misconfigured server, answered instead of the normal response:
#: an error whose text echoes the request (secrets included), a redirect elsewhere.
HOSTILE_KINDS = ("echo", "redirect")
#: Faults that replace the data body with hostile content (see ``data_fault_body``):
#: "empty_body" is a 200 with no body (Content-Length: 0, as a proxy on a backend timeout
#: sends) or only whitespace; "no_header" is a CSV body without its header row.
DATA_KINDS = ("long_line", "deflate_bomb", "empty_body", "no_header")
FAULT_KINDS = (*ERROR_KINDS, *BODY_KINDS, *HOSTILE_KINDS, *DATA_KINDS, "reset", "delay", "stall")
_RETRY_AFTER_OPTS = {"retry_after", "retry_after_http_date"}
_ALLOWED_OPTS = {
    **{kind: _RETRY_AFTER_OPTS for kind in ERROR_KINDS},
    "delay": {"seconds"},
    "echo": {"status", "plain", *_RETRY_AFTER_OPTS},
    "redirect": {"location", "status"},
    "stall": {"seconds", "after_bytes"},
    "long_line": {"length"},
    "deflate_bomb": {"decoded_bytes"},
    "empty_body": {"whitespace"},
}
#: Options every kind accepts: ``fragment`` (only that data fragment) and ``after``
#: (let that many matching requests pass first, then apply the fault).
_COMMON_OPTS = {"fragment", "after"}
_REQUIRED_OPTS = {"redirect": {"location"}}
LONG_LINE_LENGTH = 16 * 1024 * 1024
DEFLATE_BOMB_BYTES = 1024 * 1024 * 1024
_GARBAGE = b'"{{{garbage"{{{garbage'


@dataclass
class Fault:
    """One queued fault; ``remaining`` counts the requests it still applies to."""

    endpoint: str
    kind: str
    remaining: int
    opts: dict[str, Any] = field(default_factory=dict)
    skip: int = 0

    @property
    def fragment(self) -> int | None:
        """The data fragment this fault targets (None: any data request)."""
        value = self.opts.get("fragment")
        return None if value is None else int(value)

    @property
    def seconds(self) -> float:
        """Sleep time of a "delay" fault."""
        return float(self.opts.get("seconds", 1.0))

    @property
    def stall_seconds(self) -> float | None:
        """How long a "stall" fault stalls (None: until the server stops)."""
        value = self.opts.get("seconds")
        return None if value is None else float(value)

    def stall_at(self, length: int) -> int:
        """Body bytes a "stall" fault sends before stalling (default: half the body)."""
        return min(length, int(self.opts.get("after_bytes", length // 2)))

    def matches(self, endpoint: str, fragment: int | None) -> bool:
        """Whether a request to ``endpoint`` (for ``fragment``) triggers this fault."""
        if endpoint == "other" or self.endpoint not in ("*", endpoint):
            return False
        return self.fragment is None or (endpoint == "data" and self.fragment == fragment)

    def error(self) -> ApiError:
        """The error answered by an ERROR_KINDS fault (with Retry-After when asked for)."""
        if self.kind == "401":
            error = ApiError(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
        elif self.kind == "409":
            error = ApiError(409, "Too many queued export jobs")
        elif self.kind.startswith("429"):
            error = ApiError(429, "Rate limit exceeded")
        else:
            error = ApiError(int(self.kind))
        if self.kind == "429_retry_after" or _RETRY_AFTER_OPTS & set(self.opts):
            error.headers["Retry-After"] = self._retry_after()
        return error

    def hostile(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        """The response of a HOSTILE_KINDS fault to this request."""
        status = int(self.opts.get("status", 307 if self.kind == "redirect" else 500))
        if self.kind == "redirect":
            location = str(self.opts["location"])
            return Response(status, [b""], "text/plain", {"Location": location})
        text = echo_text(method, target, headers, body)
        extra = {"Retry-After": self._retry_after()} if _RETRY_AFTER_OPTS & set(self.opts) else {}
        if self.opts.get("plain"):
            return Response(status, [text.encode()], "text/plain; charset=utf-8", extra)
        payload = {"error": ERROR_NAMES.get(status, "HttpException"), "message": text}
        return Response(status, [orjson.dumps(payload)], headers=extra)

    def _retry_after(self) -> str:
        """Retry-After value: delta seconds, or an HTTP-date when asked for."""
        seconds = float(self.opts.get("retry_after", 1))
        if self.opts.get("retry_after_http_date"):
            return email.utils.formatdate(time.time() + seconds, usegmt=True)
        return str(int(seconds)) if seconds.is_integer() else str(seconds)


class FaultQueue:
    """Thread-safe FIFO of faults, consumed by matching requests."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, endpoint: str, kind: str, times: int = 1, **opts: Any) -> Fault:
        """Queue ``kind`` for the next ``times`` requests to ``endpoint`` (or "*").

        Every kind takes ``fragment=i`` (that data fragment only) and ``after=n`` (let n
        matching requests pass first). Kind-specific options:

        - ERROR_KINDS: ``retry_after`` (seconds) / ``retry_after_http_date`` add Retry-After.
        - "delay": ``seconds`` before answering at all.
        - "stall": send the headers and ``after_bytes`` (default: half) of the body, then
          stall for ``seconds`` (default: until the server stops) and send the rest.
        - "echo": error ``status`` (default 500) whose text repeats the request (the
          Authorization header, the body, the decoded form); ``plain=True`` for text/plain;
          ``retry_after`` as for ERROR_KINDS.
        - "redirect": ``status`` (default 307) to ``location`` (required).
        - "long_line" (data): a first record of ``length`` bytes (JSON Lines or array).
        - "deflate_bomb" (data): a deflate body of ``decoded_bytes`` of whitespace in an array.
        - "empty_body" (data): a 200 whose body is empty, or ``whitespace`` bytes of it.
        - "no_header" (data): a CSV body without its header row.
        """
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {endpoint!r}; use one of {FAULT_ENDPOINTS}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        unknown = set(opts) - _ALLOWED_OPTS.get(kind, set()) - _COMMON_OPTS
        if unknown:
            raise ValueError(f"unknown options for fault {kind!r}: {sorted(unknown)}")
        missing = _REQUIRED_OPTS.get(kind, set()) - set(opts)
        if missing:
            raise ValueError(f"fault {kind!r} needs options {sorted(missing)}")
        if kind in DATA_KINDS and endpoint != "data":
            raise ValueError(f"fault {kind!r} applies to the data endpoint only")
        if times < 1:
            raise ValueError("times must be >= 1")
        skip = int(opts.pop("after", 0))
        fault = Fault(endpoint, kind, times, dict(opts), skip)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Drop all queued faults."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """Faults not yet used up, in queue order."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        """Number of queued faults."""
        with self._lock:
            return len(self._faults)

    def take(self, endpoint: str, fragment: int | None = None) -> Fault | None:
        """Consume one use of the first fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(endpoint, fragment):
                    if fault.skip > 0:  # this request passes the fault; it may match another
                        fault.skip -= 1
                        continue
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def corrupt_bytes(data: bytes, layout: str) -> bytes:
    """Damage a body so that it is no longer valid JSON / CSV.

    JSON layouts get a quote-and-brace sequence inserted mid-body (invalid whether it lands
    inside a string or not); CSV loses the rest of the middle line (wrong column count).
    """
    mid = len(data) // 2
    while mid < len(data) and 0x80 <= data[mid] < 0xC0:  # stay on a UTF-8 boundary
        mid += 1
    if layout != "csv":
        return data[:mid] + _GARBAGE + data[mid:]
    ends = [pos for pos in (data.find(b"\n", mid), data.find(b"\r", mid)) if pos >= 0]
    end = min(ends) if ends else len(data)
    return data[:mid] + b"{{{garbage" + data[end:]


def truncate_response(response: Response) -> Response:
    """Keep only the first half of the (possibly compressed) body; headers stay valid."""
    data = b"".join(response.body)
    return Response(
        response.status, [data[: len(data) // 2]], response.content_type, dict(response.headers)
    )


def bad_crc_response(response: Response) -> Response:
    """A gzip body whose content was altered in transit (one '@' became '#') but whose
    trailer still carries the original CRC: it decompresses to well-formed, wrong records
    and only the CRC check at its very end tells. Bodies that are not gzip pass unchanged."""
    data = b"".join(response.body)
    if not data.startswith(b"\x1f\x8b"):
        return response
    original = gzip.decompress(data)
    damaged = bytearray(gzip.compress(original.replace(b"@", b"#", 1), compresslevel=1))
    damaged[-8:-4] = zlib.crc32(original).to_bytes(4, "little")
    return Response(
        response.status, [bytes(damaged)], response.content_type, dict(response.headers)
    )


def echo_text(method: str, target: str, headers: Message, body: bytes) -> str:
    """An error text that repeats the request, as careless servers and proxies do: the
    Authorization header, the raw body and the decoded form fields (client_secret too)."""
    raw = body.decode("utf-8", "replace")
    form = dict(parse_qsl(raw, keep_blank_values=True)) if "=" in raw else {}
    return (
        f"Cannot process {method} {target}; Authorization: {headers.get('Authorization')}; "
        f"body: {raw}; form: {form}"
    )


def long_line_body(body: bytes, layout: str, length: int) -> bytes:
    """``body`` with one valid record of ``length`` bytes first (JSON Lines or JSON array)."""
    prefix = b'{"email":"long-line@example.com","first_name":"'
    pad = length - len(prefix) - 2
    if pad < 0:
        raise ValueError(f"long_line length must be at least {len(prefix) + 2}")
    record = prefix + b"x" * pad + b'"}'
    if layout == "lines":
        return record + b"\n" + body
    if layout == "array":
        rest = body[1:]
        return b"[" + record + (b"" if rest.lstrip().startswith(b"]") else b",") + rest
    raise ValueError(f"long_line needs a JSON array or JSON Lines export, not {layout!r}")


@functools.lru_cache(maxsize=2)
def deflate_bomb(decoded_bytes: int) -> bytes:
    """A zlib ("Content-Encoding: deflate") stream of a JSON array holding ``decoded_bytes``
    bytes of whitespace: about a thousandth of that on the wire."""
    compressor = zlib.compressobj(9)
    block = b" " * (1 << 20)
    out = [compressor.compress(b"[")]
    left = max(0, decoded_bytes - 2)
    while left > 0:
        size = min(left, len(block))
        out.append(compressor.compress(block if size == len(block) else block[:size]))
        left -= size
    out.append(compressor.compress(b"]"))
    out.append(compressor.flush())
    return b"".join(out)
