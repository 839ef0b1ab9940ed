"""SIGTERM while the target is slower than the tap (stdout's pipe full): the Singer stream stays
whole JSON lines, the final STATE vouches only for records written before it, and the tap
exits 143 within seconds even when the target reads nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
from singer_sdk.singerlib import RecordMessage

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts.shutdown import FINAL_WRITE_SECONDS
from tap_backstory_contacts.tap import TapBackstoryContacts
from tests.conftest import make_config
from tests.singer_run import STREAM, cli_command

TERMINATED = 128 + signal.SIGTERM


@pytest.fixture
def busy_api() -> t.Iterator[FakeBackstory]:
    """Far more output than a pipe holds: 10 days of 150 contacts, fragments of 50."""
    with FakeBackstory(FakeConfig(contacts_per_day=150, fragment_size=50)) as server:
        yield server


def start(tmp_path: Path, api: FakeBackstory) -> subprocess.Popen[bytes]:
    config = make_config(api, window_days=2, max_parallel_downloads=2)
    command = cli_command(tmp_path, config, None)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def read_slowly(stream: t.IO[bytes], until: float) -> bytes:
    """What a slow target reads: 512-byte reads with pauses, until EOF or ``until``."""
    got = bytearray()
    fd = stream.fileno()
    while time.monotonic() < until:
        data = os.read(fd, 512)
        if not data:
            break
        got += data
        time.sleep(0.002)
    return bytes(got)


def check_stream(api: FakeBackstory, raw: bytes, *, whole: bool = True) -> None:
    """Every line is one JSON message; the records of every bookmarked window came first."""
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: empty when the stream ends whole
    assert tail == b"" or not whole, f"the stream ends inside a message: {tail[:80]!r}"
    messages = [json.loads(line) for line in lines]  # raises on a spliced or cut line
    seen: set[str] = set()
    for message in messages:
        if message["type"] == "RECORD":
            seen.add(message["record"]["email"])
        elif message["type"] == "STATE":
            bookmarks = message["value"].get("bookmarks", {})
            bookmark = bookmarks.get(STREAM, {}).get("replication_key_value")
            if bookmark is not None:
                vouched = {r["email"] for r in api.expected_records("2026-01-01", bookmark)}
                assert vouched <= seen, f"a STATE bookmarks {bookmark} before its records"


@pytest.mark.parametrize("delay", [0.5, 1.0, 1.5])
def test_sigterm_while_the_target_reads_slowly_keeps_every_line_whole(
    busy_api: FakeBackstory, tmp_path: Path, delay: float
) -> None:
    with start(tmp_path, busy_api) as process:
        assert process.stdout is not None
        received = read_slowly(process.stdout, time.monotonic() + delay)
        process.send_signal(signal.SIGTERM)  # the tap is now blocked writing to a full pipe
        terminated = time.monotonic()
        received += read_slowly(process.stdout, terminated + 60)
        process.wait(timeout=60)
    assert process.returncode == TERMINATED
    assert time.monotonic() - terminated < FINAL_WRITE_SECONDS + 5
    check_stream(busy_api, received)
    assert b'"type":"STATE"' in received.rsplit(b"\n", 2)[-2], "the last message is the STATE"


def test_sigterm_while_the_target_reads_nothing_exits_within_seconds(
    busy_api: FakeBackstory, tmp_path: Path
) -> None:
    with start(tmp_path, busy_api) as process:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while busy_api.count("data") < 2:  # output is piling up in the pipe by now
            assert time.monotonic() < deadline, "no fragment was downloaded"
            time.sleep(0.05)
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        try:
            process.wait(timeout=FINAL_WRITE_SECONDS + 10)
        finally:
            process.kill()
        took = time.monotonic() - terminated
        received = process.stdout.read()
    assert process.returncode == TERMINATED
    assert took < FINAL_WRITE_SECONDS + 5
    # The target never read, so the tap gave up on its last writes: a line may be cut
    # where the pipe was full, but none is spliced, and no STATE vouches for unsent records.
    check_stream(busy_api, received, whole=False)


def test_sigterm_after_records_that_follow_an_unchanged_state_still_ends_with_the_state(
    api: FakeBackstory, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seen under load: the SDK's state writer skips a state equal to the last one written,
    # so a SIGTERM landing after a STATE and some records ended the stream on a RECORD.
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        tap = TapBackstoryContacts(config=make_config(api))  # installs the tap's handlers
        tap.state_writer.write_state(tap.state)
        tap.message_writer.write_message(RecordMessage(stream=STREAM, record={"email": "a"}))
        with pytest.raises(SystemExit) as exited:
            signal.raise_signal(signal.SIGTERM)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert exited.value.code == TERMINATED
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [m["type"] for m in messages] == ["STATE", "RECORD", "STATE"]
    assert messages[-1]["value"] == messages[0]["value"]
