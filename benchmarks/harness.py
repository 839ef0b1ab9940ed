"""Running the fake API and timed child processes for the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measurement:
    """One child process run: wall seconds and its own peak resident set size."""

    seconds: float
    peak_rss_mb: float


class FakeApi:
    """``python -m fake_backstory`` in its own process (its CPU and memory are not ours)."""

    def __init__(self, **options: t.Any) -> None:
        self._options = options
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory()
        self.url = ""

    def __enter__(self) -> FakeApi:
        ready = Path(self._dir.name) / "url"
        args = [sys.executable, "-m", "fake_backstory", "--port", "0", "--ready-file", str(ready)]
        for name, value in self._options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self._process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text().strip():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake API did not start: {args}")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
        self._dir.cleanup()


def write_config(directory: Path, config: dict[str, t.Any], name: str = "config.json") -> Path:
    """Write a tap config file."""
    path = directory / name
    path.write_text(json.dumps(config))
    return path


def measure(command: list[str], *, env: dict[str, str] | None = None) -> Measurement:
    """Run ``command`` with stdout to /dev/null; its wall time and its own peak RSS."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, stdout=sink, stderr=errors, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-3000:].decode(errors="replace")
            raise RuntimeError(f"{command} exited {process.returncode}:\n{tail}")
    return Measurement(seconds=seconds, peak_rss_mb=usage.ru_maxrss / 1024)


def tap_command(config: Path, module: str = "tap_backstory_contacts.tap") -> list[str]:
    """The tap (or a variant module) as a child process."""
    return [sys.executable, "-m", module, "--config", str(config)]
