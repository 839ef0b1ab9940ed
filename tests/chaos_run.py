"""Run one Scenario: the fake API with its faults queued, the tap CLI as its own process over
real HTTP, a signal at the drawn moment, and everything the invariants look at recorded."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from fake_backstory import FakeBackstory, FakeConfig
from fake_backstory.config import RequestLog
from fake_backstory.jobs import FakeJob
from tests.chaos_scenarios import START, Scenario, SignalSpec

#: A run that has not ended by then is killed and reported: no scenario waits this long.
HARD_LIMIT_SECONDS = 120.0
NETRC_PASSWORD = "netrc-password-chaos"
_ENV_DROPPED = ("proxy", "netrc", "tap_backstory_contacts_", "meltano_")


class Sink:
    """A listener standing for anything that is not the API (a proxy, a redirect target):
    it keeps every byte it receives and answers 502."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="chaos-sink")
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                data = b""
                with contextlib.suppress(OSError):
                    while chunk := conn.recv(65536):
                        data += chunk
                        if b"\r\n\r\n" in data:
                            break
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                self.received.append(data)

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._socket.close()
        self._thread.join(2)


@dataclass
class RunResult:
    """One tap process and what the fake saw of it."""

    returncode: int
    stdout: bytes
    stderr: str
    requests: list[RequestLog]
    #: The export jobs this run created, in order.
    jobs: list[FakeJob]
    duration: float
    #: Seconds from the signal (None: none sent) or from the last request the fake logged
    #: to the process's exit.
    after_signal: float | None
    after_last_request: float
    timed_out: bool
    spool_left: list[str]
    config: dict[str, t.Any]
    state_in: dict[str, t.Any] | None = None
    signum: int | None = None

    def messages(self) -> list[dict[str, t.Any]]:
        """The Singer messages (the invariants have checked that every line parses)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def last_state(self) -> dict[str, t.Any] | None:
        """The value of the last STATE message, if any."""
        states = [m["value"] for m in self.messages() if m.get("type") == "STATE"]
        return states[-1] if states else None


@dataclass
class ChaosOutcome:
    """Everything one scenario produced."""

    scenario: Scenario
    api: FakeBackstory
    #: Where redirects point (another origin).
    sink: Sink
    #: What HTTP_PROXY and friends name.
    proxy: Sink
    end_date: str
    runs: list[RunResult] = field(default_factory=list)


def end_date(scenario: Scenario) -> str:
    """The last day the scenario extracts."""
    start = datetime.date.fromisoformat(START)
    return (start + datetime.timedelta(days=scenario.days - 1)).isoformat()


def tap_config(api: FakeBackstory, scenario: Scenario) -> dict[str, t.Any]:
    """The tap's config: fast polls, bounded retries, then the scenario's settings."""
    config: dict[str, t.Any] = {
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
        "api_url": api.url,
        "start_date": START,
        "end_date": end_date(scenario),
        "window_days": 2,
        "poll_interval_seconds": 0.01,
        "poll_max_interval_seconds": 0.05,
        "job_timeout_seconds": 60,
        "max_retries": 1,
        "max_retry_seconds": 10,
    }
    config.update(dict(scenario.tap))
    return config


def _environment(folder: Path, scenario: Scenario | None, proxy: Sink) -> dict[str, str]:
    """The tap's environment: nothing of the caller's proxies, netrc or tap settings; a
    TMPDIR of its own (checked empty after exit) and the scenario's hostile variables."""
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith(_ENV_DROPPED)}
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    home = folder / "home"
    home.mkdir(exist_ok=True)
    spool = folder / "tmp"
    spool.mkdir(exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(spool), PYTHONFAULTHANDLER="1")
    hostile = scenario.env if scenario is not None else ()
    if "proxy_env" in hostile:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            env[name] = proxy.url
    if "netrc" in hostile:
        netrc = home / ".netrc"
        netrc.write_text(f"machine 127.0.0.1 login chaos password {NETRC_PASSWORD}\n")
        netrc.chmod(0o600)
    else:
        (home / ".netrc").unlink(missing_ok=True)
    return env


@contextlib.contextmanager
def scenario_run(scenario: Scenario) -> t.Iterator[ChaosOutcome]:
    """Run the scenario (and its clean rerun when ``resume``) in a folder of its own; the
    fake API and the listeners stop when the block ends."""
    fake = FakeConfig(contacts_per_day=4, fragment_size=5)
    for name, value in scenario.fake:
        setattr(fake, name, value)
    with (
        tempfile.TemporaryDirectory(prefix="chaos-") as name,
        FakeBackstory(fake) as api,
        contextlib.closing(Sink()) as sink,
        contextlib.closing(Sink()) as proxy,
    ):
        folder = Path(name)
        outcome = ChaosOutcome(scenario, api, sink, proxy, end_date(scenario))
        for spec in scenario.faults:
            opts = {k: (sink.url + "/elsewhere" if v == "SINK" else v) for k, v in spec.opts}
            api.faults.add(spec.endpoint, spec.kind, times=spec.times, after=spec.after, **opts)
        config = tap_config(api, scenario)
        env = _environment(folder, scenario, proxy)
        first = run_tap(api, folder, config, None, scenario.signal, env)
        outcome.runs.append(first)
        if scenario.resume and not _finished(first, outcome.end_date):
            api.faults.clear()
            api.config.fail_jobs = api.config.cancel_jobs = 0
            api.config.enforce_job_limits = False  # the killed run's jobs would hold the slots
            env = _environment(folder, None, proxy)
            outcome.runs.append(run_tap(api, folder, config, first.last_state(), None, env))
        yield outcome


def _finished(run: RunResult, end: str) -> bool:
    state = run.last_state() or {}
    stream = state.get("bookmarks", {}).get("enriched_contacts", {})
    return run.returncode == 0 and stream.get("replication_key_value") == end


def run_tap(
    api: FakeBackstory,
    folder: Path,
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None,
    signal_spec: SignalSpec | None,
    env: dict[str, str],
) -> RunResult:
    """Run the tap CLI once, signalling it as ``signal_spec`` says; never longer than
    HARD_LIMIT_SECONDS."""
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_backstory_contacts.tap", "--config", str(config_file)]
    if state is not None:
        (folder / "state.json").write_text(json.dumps(state))
        command += ["--state", str(folder / "state.json")]
    seen = len(api.requests)
    jobs_before = len(api.created_jobs())
    may_read = threading.Event()
    if signal_spec is None or not signal_spec.stalled_target:
        may_read.set()
    out: list[bytes] = []
    err: list[bytes] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=folder, env=env
    ) as process:
        readers = [
            threading.Thread(target=_drain, args=(process.stdout, out, may_read), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, err, None), daemon=True),
        ]
        for reader in readers:
            reader.start()
        watch = _watch(process, api, seen, signal_spec, may_read)
        for reader in readers:
            reader.join(10)
    spool = folder / "tmp"
    left = sorted(str(p.relative_to(spool)) for p in spool.rglob("*"))
    for path in sorted(spool.rglob("*"), reverse=True):  # the next run starts clean
        (path.rmdir if path.is_dir() else path.unlink)()
    return RunResult(
        returncode=process.returncode,
        stdout=b"".join(out),
        stderr=b"".join(err).decode("utf-8", "replace"),
        requests=api.requests[seen:],
        jobs=api.created_jobs()[jobs_before:],
        duration=watch.exited - watch.started,
        after_signal=None if watch.signalled is None else watch.exited - watch.signalled,
        after_last_request=watch.exited - watch.last_request,
        timed_out=watch.timed_out,
        spool_left=left,
        config=config,
        state_in=state,
        signum=None if watch.signalled is None or signal_spec is None else signal_spec.signum,
    )


def _drain(stream: t.IO[bytes] | None, into: list[bytes], gate: threading.Event | None) -> None:
    assert stream is not None
    if gate is not None:
        gate.wait()
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        into.append(chunk)


@dataclass
class _Watch:
    started: float
    exited: float
    last_request: float
    signalled: float | None
    timed_out: bool


def _watch(
    process: subprocess.Popen[bytes],
    api: FakeBackstory,
    seen: int,
    spec: SignalSpec | None,
    may_read: threading.Event,
) -> _Watch:
    """Wait for the process, sending the signal when its moment comes; record the times."""
    started = last_request = time.monotonic()
    count = seen
    due: float | None = None
    signalled: float | None = None
    timed_out = False
    while process.poll() is None:
        now = time.monotonic()
        current = len(api.requests)
        if current != count:
            count, last_request = current, now
        if spec is not None and signalled is None:
            # A stalled target may block the tap before the drawn request: signal it anyway.
            stuck = not may_read.is_set() and current > seen and now - last_request > 2.0
            if due is None and (current - seen >= spec.after_requests or stuck):
                due = now + spec.delay
            if due is not None and now >= due:
                process.send_signal(spec.signum)
                signalled = now
        if signalled is not None and not may_read.is_set() and now - signalled > 1.0:
            may_read.set()  # the target reads again
        if now - started > HARD_LIMIT_SECONDS:
            timed_out = True
            process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            break
        time.sleep(0.02)
    may_read.set()
    return _Watch(started, time.monotonic(), last_request, signalled, timed_out)
