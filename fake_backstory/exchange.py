"""What a fault is and what its apply function works on: the phases, a queued fault, one
request's exchange, and a row of the table of kinds (the table itself is in faults.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from enum import Enum
from typing import Any

from fake_backstory.responses import Response
from fake_backstory.writer import Pause

ENDPOINTS = ("token", "create", "status", "data")
#: Endpoints a fault may be queued for ("*": the next request to any of them).
FAULT_ENDPOINTS = (*ENDPOINTS, "*")
#: Options every kind accepts: ``fragment`` (only that data fragment) and ``after``
#: (let that many matching requests pass first, then apply the fault); see fault_queue.py.
COMMON_OPTIONS = ("fragment", "after")


class Phase(Enum):
    """When a fault applies (see the module docstring)."""

    BEFORE = "before the answer"
    INSTEAD = "instead of the answer"
    BODY = "on the body before compression"
    SENT = "on the finished answer"


@dataclass
class Fault:
    """One queued fault; ``remaining`` counts the requests it still applies to."""

    endpoint: str
    kind: str
    #: The kind's row in the table (faults.KINDS).
    spec: FaultKind = field(repr=False)
    remaining: int
    opts: dict[str, Any] = field(default_factory=dict)
    skip: int = 0

    @property
    def fragment(self) -> int | None:
        """The data fragment this fault targets (None: any data request)."""
        value = self.opts.get("fragment")
        return None if value is None else int(value)

    def matches(self, endpoint: str, fragment: int | None) -> bool:
        """Whether a request to ``endpoint`` (for ``fragment``) triggers this fault."""
        if endpoint not in ENDPOINTS or self.endpoint not in ("*", endpoint):
            return False
        return self.fragment is None or (endpoint == "data" and self.fragment == fragment)

    def number(self, name: str, default: float) -> float:
        """A numeric option."""
        return float(self.opts.get(name, default))


@dataclass
class Exchange:
    """One request and its answer as a fault's apply function sees and changes them."""

    method: str
    target: str
    headers: Message
    request_body: bytes
    endpoint: str
    #: Set when the server stops: waits of "delay" and "stall" end at once.
    stopping: threading.Event
    fault: Fault | None = None
    response: Response | None = None
    reset: bool = False
    body: bytes = b""
    layout: str = "json"
    export: bool = False
    content_type: str = "application/json"
    cut_at: int | None = None
    pause: Pause | None = None

    def run(self, phase: Phase) -> None:
        """Apply the request's fault if it belongs to ``phase``."""
        if self.fault is not None and self.has(phase):
            self.fault.spec.apply(self.fault, self)

    def has(self, phase: Phase) -> bool:
        """Whether the request's fault belongs to ``phase``."""
        return self.fault is not None and self.fault.spec.phase is phase

    def alter_body(self, body: bytes, layout: str, content_type: str, export: bool) -> bytes:
        """Run a ``BODY`` fault on ``body``; returns the body it leaves."""
        self.body, self.layout, self.content_type, self.export = body, layout, content_type, export
        self.run(Phase.BODY)
        return self.body


Apply = Callable[[Fault, Exchange], None]


@dataclass(frozen=True)
class FaultKind:
    """One row of the table: where a kind applies, when, with which options, and how."""

    phase: Phase
    apply: Apply
    endpoints: tuple[str, ...] = ENDPOINTS
    options: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    #: What the kind does, with its options.
    doc: str = ""
