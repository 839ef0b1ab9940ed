"""Run the tap in-process or as a CLI process and collect its Singer messages."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tap_backstory_contacts.tap import TapBackstoryContacts

STREAM = "enriched_contacts"


@dataclass
class SyncOutput:
    """The Singer messages of one sync, split by type."""

    messages: list[dict[str, t.Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> SyncOutput:
        """Parse Singer output text, one JSON message per line."""
        return cls([json.loads(line) for line in text.splitlines() if line.strip()])

    @property
    def records(self) -> list[dict[str, t.Any]]:
        """RECORD payloads in order."""
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        """STATE payloads in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        """The last STATE payload."""
        return self.states[-1]

    def bookmark(self, state: dict[str, t.Any] | None = None) -> t.Any:
        """replication_key_value of the stream in ``state`` (default: the final state)."""
        state = self.final_state if state is None else state
        return state["bookmarks"][STREAM].get("replication_key_value")

    def bookmarks_in_order(self) -> list[t.Any]:
        """The bookmark of every STATE message, in order (None before the first)."""
        return [
            s.get("bookmarks", {}).get(STREAM, {}).get("replication_key_value") for s in self.states
        ]


def bookmark_state(value: str) -> dict[str, t.Any]:
    """A state whose only content is the stream's bookmark ``value``."""
    return {
        "bookmarks": {
            STREAM: {"replication_key": "export_end_date", "replication_key_value": value}
        }
    }


def sync(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> SyncOutput:
    """Run a full sync in this process and return what it wrote to stdout."""
    buffer = io.BytesIO()
    wrapper = io.TextIOWrapper(buffer, encoding="utf-8")
    saved = sys.stdout
    sys.stdout = wrapper
    try:
        tap = TapBackstoryContacts(config=config, state=state or {})
        tap.sync_all()
    finally:
        wrapper.flush()
        sys.stdout = saved
    text = buffer.getvalue().decode()
    wrapper.detach()
    return SyncOutput.parse(text)


@dataclass
class CliResult:
    """A finished CLI run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> SyncOutput:
        """The Singer messages on stdout."""
        return SyncOutput.parse(self.stdout)


def cli_command(
    tmp_path: Path, config: dict[str, t.Any], state: dict[str, t.Any] | None
) -> list[str]:
    """The command line running the installed tap with config (and state) files."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_backstory_contacts.tap", "--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    return command


def run_cli(
    tmp_path: Path,
    config: dict[str, t.Any],
    *args: str,
    state: dict[str, t.Any] | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run the tap as its own process, as Meltano would."""
    command = cli_command(tmp_path, config, state) + list(args)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def run_until_killed(
    tmp_path: Path,
    config: dict[str, t.Any],
    kill_when: t.Callable[[dict[str, t.Any]], bool],
    *,
    state: dict[str, t.Any] | None = None,
    timeout: float = 60,
) -> SyncOutput:
    """Run the CLI and SIGKILL it right after it writes a message matching ``kill_when``.

    Returns the messages a target would have received up to the kill.
    """
    command = cli_command(tmp_path, config, state)
    received = SyncOutput()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in process.stdout:
            message = json.loads(line)
            received.messages.append(message)
            if kill_when(message) or time.monotonic() > deadline:
                break
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the tap finished before the kill point"
    return received
