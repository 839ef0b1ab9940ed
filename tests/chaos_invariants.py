"""What must hold after every hostile run, whatever was drawn. Each check returns the
violations it found, worded for the report; an empty list means the run was sound."""

from __future__ import annotations

import json
import re
import signal
import typing as t
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

from tap_backstory_contacts.records import contact_key
from tests.chaos_run import NETRC_PASSWORD, ChaosOutcome, RunResult, scenario_run
from tests.chaos_scenarios import START, Scenario

STREAM = "enriched_contacts"
MESSAGE_TYPES = {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"}
#: Exit within this many seconds of a signal, or of the last answer before a fatal error.
#: A clean stop takes a second or two; the margin is for a loaded two-core machine.
PROMPT_EXIT_SECONDS = 20.0
INT64 = range(-(2**63), 2**63)
_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "enriched_contacts.json"
_INTEGER_FIELDS = tuple(
    name
    for name, spec in json.loads(_SCHEMA.read_text())["properties"].items()
    if "integer" in (spec.get("type") if isinstance(spec.get("type"), list) else [spec.get("type")])
)
_JOBS_PATH = "/pull/v1/export/contacts/jobs/"
_PARAMS = {"include_historical": True, "include_existing": True, "is_sourced_by_people_ai": False}


def violations(outcome: ChaosOutcome) -> list[str]:
    """Every invariant broken by the outcome (empty: all hold)."""
    found: list[str] = []
    for index, run in enumerate(outcome.runs):
        where = f"run {index + 1}"
        found += [f"{where}: {v}" for v in whole_lines(run)]
        found += [f"{where}: {v}" for v in prompt_exit(run, outcome.end_date)]
        found += [f"{where}: {v}" for v in nothing_left(run)]
        found += [f"{where}: {v}" for v in jobs_bounded(outcome, run)]
        found += [f"{where}: {v}" for v in bearer_only(outcome, run)]
        found += [f"{where}: {v}" for v in tokens_bounded(outcome, run)]
    if found:  # the rest reads the messages, which must parse
        return found
    found += no_secret(outcome)
    found += nothing_lost(outcome)
    found += integers_in_range(outcome)
    found += jobs_named_truly(outcome)
    if len(outcome.runs) > 1 and not _completed(outcome.runs[-1], outcome.end_date):
        found.append("the clean rerun from the last STATE did not complete the sync")
    return found


def whole_lines(run: RunResult) -> list[str]:
    """stdout is whole Singer JSON lines of known types."""
    found = []
    if run.stdout and not run.stdout.endswith(b"\n"):
        found.append(f"stdout ends inside a line: {run.stdout[-80:]!r}")
    for number, line in enumerate(run.stdout.splitlines(), 1):
        try:
            message = json.loads(line)
        except ValueError:
            found.append(f"stdout line {number} is not JSON: {line[:120]!r}")
            continue
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            found.append(f"stdout line {number} is not a Singer message: {line[:120]!r}")
        elif message["type"] == "RECORD" and not isinstance(message.get("record"), dict):
            found.append(f"stdout line {number} is a RECORD without a record")
        elif message["type"] == "STATE" and not isinstance(message.get("value"), dict):
            found.append(f"stdout line {number} is a STATE without a value")
    return found


def prompt_exit(run: RunResult, end: str) -> list[str]:
    """Exit codes mean what they say, and the tap exits promptly after a fatal error or a
    signal; a failure names its cause instead of a traceback."""
    if run.timed_out:
        return ["still running after the hard limit: killed"]
    found = []
    sigs = (int(signal.SIGTERM), int(signal.SIGINT))
    # Death by the signal itself (-N) is how a shell sees 128+N.
    signalled = {*(128 + s for s in sigs), *(-s for s in sigs)}
    if run.returncode not in {0, 1, *signalled}:
        found.append(f"exit code {run.returncode}")
    if run.returncode == 0 and not _completed(run, end):
        found.append(f"exit 0 but the final bookmark is not the end date {end}")
    if run.returncode == 0 and _ledger(run.last_state()):
        found.append(f"exit 0 but jobs left in the ledger: {_ledger(run.last_state())}")
    if run.returncode in signalled and run.signum not in (run.returncode - 128, -run.returncode):
        found.append(f"exit code {run.returncode} without that signal")
    if run.after_signal is not None and run.after_signal > PROMPT_EXIT_SECONDS:
        found.append(f"exited {run.after_signal:.1f}s after the signal")
    if run.returncode == 1 and run.after_last_request > PROMPT_EXIT_SECONDS:
        found.append(f"failed {run.after_last_request:.1f}s after the last request it made")
    # Ctrl-C while Python still imports the tap, before any request: the interpreter's own.
    startup = run.signum == signal.SIGINT and not run.requests and "KeyboardInterrupt" in run.stderr
    if "Traceback (most recent call last)" in run.stderr and not startup:
        found.append("a traceback on stderr")
    if "on an unexpected error" in run.stderr:
        line = next(x for x in run.stderr.splitlines() if "on an unexpected error" in x)
        found.append(f"an unexplained error: {line[-300:]}")
    return found


def nothing_left(run: RunResult) -> list[str]:
    """No contact-data file (spool) left in the tap's TMPDIR after it exited."""
    return [f"left in TMPDIR after exit: {run.spool_left}"] if run.spool_left else []


def _window_of(path: str, jobs: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    if not path.startswith(_JOBS_PATH):
        return None
    return jobs.get(unquote(path[len(_JOBS_PATH) :].split("/")[0]))


def jobs_bounded(outcome: ChaosOutcome, run: RunResult) -> list[str]:
    """No more export jobs per window than one, plus one per documented replacement: a job
    that ended Failed/Canceled (job_retries) or that the API refused to serve (4xx: gone,
    not trusted on re-attach). A window the API refuses as too large creates no job."""
    windows = {
        job.job_id: (job.params["start_date"], job.params["end_date"])
        for job in outcome.api.created_jobs()
    }
    created: Counter[tuple[str, str]] = Counter()
    allowed: Counter[tuple[str, str]] = Counter()
    for request in run.requests:
        window = _window_of(request.path, windows)
        if window and 400 <= request.status < 500 and request.status != 429:
            allowed[window] += 1
    for job in run.jobs:
        window = (job.params["start_date"], job.params["end_date"])
        created[window] += 1
        if job.final_state != "Completed":
            allowed[window] += 1
    return [
        f"{count} export jobs for window {w[0]}..{w[1]} (at most {1 + allowed[w]} allowed)"
        for w, count in sorted(created.items())
        if count > 1 + allowed[w]
    ]


def tokens_bounded(outcome: ChaosOutcome, run: RunResult) -> list[str]:
    """One token per run, plus one per answer that calls for a new one (a 401 from the API,
    a failed or faulted token request)."""
    tokens = [r for r in run.requests if r.endpoint == "token"]
    renewals = sum(1 for r in run.requests if r.endpoint != "token" and r.status == 401)
    failed = sum(1 for r in tokens if r.status != 200)
    faulted = sum(f.times for f in outcome.scenario.faults if f.endpoint == "token")
    limit = 1 + renewals + failed + faulted
    if len(tokens) > limit:
        return [f"{len(tokens)} token requests where {limit} would do"]
    return []


def bearer_only(outcome: ChaosOutcome, run: RunResult) -> list[str]:
    """Every API call carries a bearer token the API issued, and nothing else."""
    issued = set(outcome.api.tokens)
    found = []
    for request in run.requests:
        if request.endpoint in ("create", "status", "data"):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or token not in issued:
                shown = scheme if scheme != "Bearer" else f"Bearer {token[:12]!r}"
                found.append(f"{request.method} {request.path} carried {shown or 'nothing'}")
    return found[:3]


def no_secret(outcome: ChaosOutcome) -> list[str]:
    """Neither client_secret nor a bearer token in stdout or stderr, nor anywhere but the
    API (a redirect target, a proxy); and no plain-http loopback call through a proxy."""
    secrets = {"client_secret": outcome.api.config.client_secret, "netrc": NETRC_PASSWORD}
    secrets.update({f"token {i + 1}": tok for i, tok in enumerate(outcome.api.tokens)})
    found = []
    for index, run in enumerate(outcome.runs):
        for what, text in (
            ("stdout", run.stdout.decode("utf-8", "replace")),
            ("stderr", run.stderr),
        ):
            found += [
                f"run {index + 1}: {name} in {what}" for name, s in secrets.items() if s in text
            ]
    seen_elsewhere = b"".join(outcome.sink.received + outcome.proxy.received).decode("latin-1")
    found += [
        f"{name} sent to a non-API listener" for name, s in secrets.items() if s in seen_elsewhere
    ]
    if outcome.proxy.received:
        found.append("a plain-http loopback API call went through HTTP_PROXY")
    return found


def nothing_lost(outcome: ChaosOutcome) -> list[str]:
    """Every STATE vouches only for contacts already emitted: all contacts of every day up to
    its bookmark came before it (a target would have them all), across runs."""
    emitted: set[str] = set()
    checked: dict[str, set[str]] = {}
    found = []
    for index, run in enumerate(outcome.runs):
        for message in run.messages():
            if message["type"] == "RECORD":
                emitted.add(str(message["record"].get("contact_key")))
            elif message["type"] == "STATE":
                bookmark = _bookmark(message["value"])
                if not bookmark:
                    continue
                if bookmark not in checked:
                    expected = outcome.api.expected_records(START, bookmark, **_PARAMS)
                    checked[bookmark] = {contact_key(r) for r in expected}
                missing = checked[bookmark] - emitted
                if missing:
                    found.append(
                        f"run {index + 1}: STATE bookmarks {bookmark} but {len(missing)} of its "
                        f"{len(checked[bookmark])} contacts were never emitted"
                    )
                    return found
    return found


def integers_in_range(outcome: ChaosOutcome) -> list[str]:
    """Integer fields hold integers a warehouse BIGINT holds (or null)."""
    for run in outcome.runs:
        for message in run.messages():
            if message["type"] != "RECORD":
                continue
            for name in _INTEGER_FIELDS:
                value = message["record"].get(name)
                ok = value is None or (type(value) is int and value in INT64)
                if not ok:
                    return [f"RECORD {name}={str(value)[:40]!r} is not a 64-bit integer"]
    return []


_NAMED_JOB = re.compile(r"export job (\S+) \(window (\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)\)")


def jobs_named_truly(outcome: ChaosOutcome) -> list[str]:
    """A job is only ever taken for its own window: the lineage of every record and every
    job the logs name carry the window the job was created for."""
    windows = {
        job.job_id: (job.params["start_date"], job.params["end_date"])
        for job in outcome.api.created_jobs()
    }
    claims: set[tuple[str, str, str]] = set()
    for run in outcome.runs:
        claims |= set(_NAMED_JOB.findall(run.stderr))
        for message in run.messages():
            if message["type"] == "RECORD":
                record = message["record"]
                claim = ("export_job_id", "export_start_date", "export_end_date")
                claims.add(tuple(str(record.get(name)) for name in claim))  # type: ignore[arg-type]
    wrong = sorted(c for c in claims if windows.get(c[0], (c[1], c[2])) != (c[1], c[2]))
    return [f"job {j} taken for window {a}..{b}; it exports {windows[j]}" for j, a, b in wrong][:3]


def _bookmark(state: dict[str, t.Any]) -> str | None:
    stream = state.get("bookmarks", {}).get(STREAM, {})
    value = stream.get("replication_key_value") if isinstance(stream, dict) else None
    return value if isinstance(value, str) else None


def _ledger(state: dict[str, t.Any] | None) -> list[t.Any]:
    stream = (state or {}).get("bookmarks", {}).get(STREAM, {})
    jobs = stream.get("jobs") if isinstance(stream, dict) else None
    return [j.get("job_id") if isinstance(j, dict) else j for j in jobs or []]


def _completed(run: RunResult, end: str) -> bool:
    state = run.last_state()
    return run.returncode == 0 and state is not None and _bookmark(state) == end


def report(outcome: ChaosOutcome, problems: list[str]) -> str:
    """What a failing example shows: the violations, then each run's exit, requests and the
    end of its stderr."""
    lines = ["Invariants broken:", *(f"  - {p}" for p in problems)]
    for index, run in enumerate(outcome.runs):
        answered = " ".join(f"{r.endpoint}:{r.status}" for r in run.requests)
        lines += [
            f"run {index + 1}: exit {run.returncode} after {run.duration:.1f}s; "
            f"{len(run.jobs)} job(s) created; requests: {answered[:1500]}",
            *(f"  | {line}" for line in run.stderr.splitlines()[-(80 if run.timed_out else 12) :]),
        ]
    return "\n".join(lines)


def assert_sound(scenario: Scenario) -> list[RunResult]:
    """Run ``scenario``, fail with a report if any invariant breaks; return its runs."""
    with scenario_run(scenario) as outcome:
        problems = violations(outcome)
        assert not problems, report(outcome, problems)
        return outcome.runs
