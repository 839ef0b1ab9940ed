"""What one randomized hostile run is made of (a Scenario), and the Hypothesis strategies
drawing it: the fake's behaviour, the tap's settings, faults queued per request (which
request, what answer), the environment, and a signal at a random moment.

A Scenario is a plain frozen value: Hypothesis prints a failing one in full, and a
regression test replays it as written (tests/test_chaos_regressions.py).
"""

from __future__ import annotations

import os
import signal
import typing as t
from dataclasses import dataclass, field

from hypothesis import strategies as st

START = "2026-01-01"

#: Hostile answers that reach a defect known to be open (issue 17), by tag. `make test`'s
#: budget draws none of them until its fix is on main (then the entry goes); `make chaos`
#: with CHAOS_PENDING=1 draws them all. Each entry: the issue item and the branch fixing it.
PENDING_DEFECTS: dict[str, str] = {}


def pending() -> frozenset[str]:
    """Tags not drawn in this run: the open defects, unless CHAOS_PENDING=1 asks for them."""
    return frozenset() if os.environ.get("CHAOS_PENDING") == "1" else frozenset(PENDING_DEFECTS)


@dataclass(frozen=True)
class FaultSpec:
    """``api.faults.add(endpoint, kind, times=times, after=after, **opts)``."""

    endpoint: str
    kind: str
    times: int = 1
    after: int = 0
    opts: tuple[tuple[str, t.Any], ...] = ()
    tag: str = ""


@dataclass(frozen=True)
class SignalSpec:
    """Send ``signum`` once the fake has logged ``after_requests`` requests, plus ``delay``
    seconds; ``stalled_target``: stdout is not read until then (a full pipe)."""

    signum: int
    after_requests: int
    delay: float = 0.0
    stalled_target: bool = False


@dataclass(frozen=True)
class Scenario:
    """One hostile run (and, with ``resume``, a clean rerun from its last STATE)."""

    days: int = 5
    fake: tuple[tuple[str, t.Any], ...] = ()
    tap: tuple[tuple[str, t.Any], ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    signal: SignalSpec | None = None
    resume: bool = False
    env: tuple[str, ...] = field(default=())

    @property
    def tags(self) -> frozenset[str]:
        """The pending-defect tags this scenario reaches."""
        tags = {f.tag for f in self.faults if f.tag}
        tags |= set(self.env)
        if self.signal is not None and self.signal.stalled_target:
            tags.add("signal_full_pipe")
        return frozenset(tags)


_ANY = ("token", "create", "status", "data")
_TRANSIENT = ("429", "500", "502", "503", "504", "reset", "drop_mid_body", "short_body")
_REFUSALS = ("401", "404", "410", "409")
_DAMAGED = ("truncate", "corrupt", "echo", "redirect", "delay")
#: Faults that damage a create answer after the fake created the job.
_AFTER_CREATION = ("drop_mid_body", "short_body", "truncate", "corrupt")
_WRONG_STATUS_FIELDS: tuple[dict[str, t.Any], ...] = (
    {"state": 7},
    {"state": None},
    {"state": "Bogus"},
    {"fragments": "2"},
    {"fragments": -1},
    {"fragments": 1.5},
    {"fragments": []},
    {"results_size": "many"},
    {"results_size": -5},
    {"job_id": None},
)
_RAW_BODIES = ("[]", "null", '"Completed"', "<html><body>Sign in</body></html>", "{", "")
_TOKEN_FIELDS: tuple[dict[str, t.Any], ...] = (
    {"access_token": None},
    {"access_token": ""},
    {"access_token": 42},
    {"expires_in": 0},
    {"expires_in": -60},
    {"expires_in": "soon"},
)
_BAD_INTEGERS = ('"1_000"', '"\u0661\u0662\u0663"', "1e300", "9223372036854775808", "1.5")
_CREATE_FIELDS: tuple[dict[str, t.Any], ...] = (
    {"job_id": "a/b"},
    {"job_id": 976511},
    {"job_id": ""},
    {"job_id": None},
    {"job_id": ["x"]},
)


@st.composite
def fault_specs(draw: st.DrawFn, blocked: frozenset[str]) -> FaultSpec:
    """One queued fault: which endpoint, which answer, for which of its requests."""
    endpoint = draw(st.sampled_from(_ANY))
    choices: list[tuple[str, dict[str, t.Any], str]] = []
    for kind in (*_TRANSIENT, *_REFUSALS, *_DAMAGED):
        choices.append((kind, {}, ""))
    if endpoint == "token":
        choices += [("patch_json", {"fields": f}, "token_answer") for f in _TOKEN_FIELDS]
    if endpoint == "create":
        choices += [("lost_answer", {"status": s}, "create_lost_answer") for s in (502, 504, 0)]
        choices += [("patch_json", {"fields": f}, "") for f in _CREATE_FIELDS]
    if endpoint == "status":
        other = {"job_id": draw(st.sampled_from(("ce-000001", "ce-000002", "j99")))}
        choices.append(("patch_json", {"fields": other}, "status_other_job"))
        choices += [("patch_json", {"fields": f}, "") for f in _WRONG_STATUS_FIELDS]
        choices += [("patch_json", {"body": b}, "") for b in _RAW_BODIES]
    if endpoint == "data":
        choices += [("bad_crc", {}, ""), ("no_header", {}, "csv_no_header")]
        choices += [
            ("empty_body", {}, "empty_body"),
            ("empty_body", {"whitespace": 3}, "empty_body"),
        ]
        choices += [("bad_integer", {"value": v}, "bad_integer") for v in _BAD_INTEGERS]
        choices.append(("stall", {"seconds": 0.3, "after_bytes": 10}, ""))
    if endpoint == "create":  # the job exists, its answer is damaged: #17.11's ambiguity
        choices = [
            (k, o, "create_lost_answer" if k in _AFTER_CREATION else g) for k, o, g in choices
        ]
    kind, opts, tag = draw(st.sampled_from([c for c in choices if c[2] not in blocked]))
    opts = dict(opts)
    if kind in ("429", "503"):
        opts["retry_after"] = draw(st.sampled_from((0, 1)))
    if kind == "delay":
        opts["seconds"] = draw(st.sampled_from((0.1, 0.5)))
    if kind == "echo":
        opts["status"] = draw(st.sampled_from((500, 400, 401)))
        opts["plain"] = draw(st.booleans())
    if kind == "redirect":
        opts["location"] = "SINK"  # the runner's listener, a different origin
    times = draw(st.integers(1, 3))
    after = draw(st.integers(0, 4))
    return FaultSpec(endpoint, kind, times, after, tuple(sorted(opts.items())), tag)


_FAKE = {
    "contacts_per_day": st.integers(0, 8),
    "fragment_size": st.integers(1, 12),
    "json_shape": st.sampled_from(("array", "lines", "wrapper")),
    "json_pretty": st.booleans(),
    "gzip": st.sampled_from(("none", "header", "magic", "deflate")),
    "csv_bom": st.booleans(),
    "job_id_type": st.sampled_from(("string", "int")),
    "report_fragments": st.booleans(),
    "empty_fragments": st.sampled_from(("zero", "missing")),
    "empty_data_status": st.sampled_from((200, 204, 404)),
    "polls_queued": st.integers(0, 2),
    "polls_running": st.integers(0, 2),
    "fail_jobs": st.integers(0, 2),
    "cancel_jobs": st.integers(0, 1),
    "max_window_days": st.one_of(st.none(), st.integers(1, 3)),
    "enforce_job_limits": st.booleans(),
}
_TAP = {
    "window_days": st.integers(1, 4),
    "output_format": st.sampled_from(("JSON", "CSV")),
    "max_concurrent_jobs": st.integers(1, 2),
    "max_parallel_downloads": st.integers(1, 4),
    "job_retries": st.integers(0, 2),
    "max_retries": st.integers(0, 2),
}


def _subset(draw: st.DrawFn, choices: dict[str, st.SearchStrategy[t.Any]]) -> tuple[t.Any, ...]:
    """Some of ``choices`` drawn (the rest keep their defaults), sorted by name."""
    names = draw(st.sets(st.sampled_from(sorted(choices))))
    return tuple((name, draw(choices[name])) for name in sorted(names))


@st.composite
def scenarios(draw: st.DrawFn, blocked: frozenset[str] | None = None) -> Scenario:
    """A whole hostile run; ``blocked`` tags (default: the pending defects) are not drawn."""
    blocked = pending() if blocked is None else blocked
    faults = tuple(draw(st.lists(fault_specs(blocked), max_size=5)))
    sig = None
    if draw(st.booleans()):
        stalled = "signal_full_pipe" not in blocked and draw(st.booleans())
        sig = SignalSpec(
            draw(st.sampled_from((int(signal.SIGTERM), int(signal.SIGINT)))),
            draw(st.integers(0, 20)),
            draw(st.sampled_from((0.0, 0.05, 0.2))),
            stalled,
        )
    hostile_env = [name for name in ("proxy_env", "netrc") if name not in blocked]
    env = tuple(sorted(draw(st.sets(st.sampled_from(hostile_env))))) if hostile_env else ()
    return Scenario(
        days=draw(st.integers(1, 6)),
        fake=_subset(draw, _FAKE),
        tap=_subset(draw, _TAP),
        faults=faults,
        signal=sig,
        resume=draw(st.booleans()),
        env=env,
    )
