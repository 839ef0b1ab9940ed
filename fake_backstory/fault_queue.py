"""The queue of injected faults: checked against the table in faults.py when added, consumed
by the requests they match."""

from __future__ import annotations

import threading
from typing import Any

from fake_backstory.faults import (
    COMMON_OPTIONS,
    ENDPOINTS,
    FAULT_ENDPOINTS,
    FAULT_KINDS,
    KINDS,
    Fault,
)


def check(endpoint: str, kind: str, opts: dict[str, Any]) -> None:
    """Raise ValueError unless ``kind`` may be queued for ``endpoint`` with ``opts``."""
    if endpoint not in FAULT_ENDPOINTS:
        raise ValueError(f"unknown fault endpoint {endpoint!r}; use one of {FAULT_ENDPOINTS}")
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
    unknown = set(opts) - set(spec.options) - set(COMMON_OPTIONS)
    if unknown:
        raise ValueError(f"unknown options for fault {kind!r}: {sorted(unknown)}")
    missing = set(spec.required) - set(opts)
    if missing:
        raise ValueError(f"fault {kind!r} needs options {sorted(missing)}")
    if spec.endpoints != ENDPOINTS and endpoint not in spec.endpoints:
        names = ", ".join(spec.endpoints)
        raise ValueError(f"fault {kind!r} applies to the {names} endpoint only")


class FaultQueue:
    """Thread-safe FIFO of faults, consumed by matching requests."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, endpoint: str, kind: str, times: int = 1, **opts: Any) -> Fault:
        """Queue ``kind`` (a key of ``KINDS``, whose row lists its options) for the next
        ``times`` requests to ``endpoint`` (or "*"); every kind also takes ``fragment=i``
        (that data fragment only) and ``after=n`` (let n matching requests pass first)."""
        check(endpoint, kind, opts)
        if times < 1:
            raise ValueError("times must be >= 1")
        skip = int(opts.pop("after", 0))
        fault = Fault(endpoint, kind, KINDS[kind], times, dict(opts), skip)
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
