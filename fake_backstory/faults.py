"""Queued fault injection: which request misbehaves, and how."""

from __future__ import annotations

import email.utils
import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from fake_backstory.responses import ApiError, Response

FAULT_ENDPOINTS = ("token", "create", "status", "data", "*")
#: Faults answered instead of the normal response.
ERROR_KINDS = ("429", "429_retry_after", "500", "502", "503", "504", "401", "404", "409", "410")
#: Faults that damage the normal response's body or connection.
BODY_KINDS = ("drop_mid_body", "short_body", "truncate", "corrupt", "bad_crc")
FAULT_KINDS = (*ERROR_KINDS, *BODY_KINDS, "reset", "delay")
_ALLOWED_OPTS = {
    "429_retry_after": {"retry_after", "retry_after_http_date"},
    "delay": {"seconds"},
}
_GARBAGE = b'"{{{garbage"{{{garbage'


@dataclass
class Fault:
    """One queued fault; ``remaining`` counts the requests it still applies to."""

    endpoint: str
    kind: str
    remaining: int
    opts: dict[str, Any] = field(default_factory=dict)

    @property
    def fragment(self) -> int | None:
        """The data fragment this fault targets (None: any data request)."""
        value = self.opts.get("fragment")
        return None if value is None else int(value)

    @property
    def seconds(self) -> float:
        """Sleep time of a "delay" fault."""
        return float(self.opts.get("seconds", 1.0))

    def matches(self, endpoint: str, fragment: int | None) -> bool:
        """Whether a request to ``endpoint`` (for ``fragment``) triggers this fault."""
        if endpoint == "other" or self.endpoint not in ("*", endpoint):
            return False
        return self.fragment is None or (endpoint == "data" and self.fragment == fragment)

    def error(self) -> ApiError:
        """The error answered by an ERROR_KINDS fault."""
        if self.kind == "401":
            return ApiError(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
        if self.kind == "409":
            return ApiError(409, "Too many queued export jobs")
        if self.kind == "429_retry_after":
            return ApiError(429, "Rate limit exceeded", {"Retry-After": self._retry_after()})
        if self.kind == "429":
            return ApiError(429, "Rate limit exceeded")
        return ApiError(int(self.kind))

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
        """Queue ``kind`` for the next ``times`` requests to ``endpoint`` (or "*")."""
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {endpoint!r}; use one of {FAULT_ENDPOINTS}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        unknown = set(opts) - _ALLOWED_OPTS.get(kind, set()) - {"fragment"}
        if unknown:
            raise ValueError(f"unknown options for fault {kind!r}: {sorted(unknown)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = Fault(endpoint, kind, times, dict(opts))
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
