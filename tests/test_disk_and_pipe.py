"""Disks and pipes (issue 17, items 13 and 14): the spool's total disk use is bounded by
``max_spool_bytes``, compressed bodies stay compressed on disk, and a full temp folder, a full
BATCH root, stdout on a full disk or a target that stopped reading each end the run with a
message naming the cause and what to do, never as "an unexpected error"."""

from __future__ import annotations

import logging
import os
import re
import resource
import shutil
import subprocess
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts import spool
from tap_backstory_contacts.errors import DiskSpaceError
from tests.conftest import make_config
from tests.singer_run import cli_command, sync

TIMEOUT = 120


def one_window(api: FakeBackstory, **overrides: t.Any) -> dict[str, t.Any]:
    """One 5-day window: 25 contacts in 7 fragments."""
    return make_config(api, end_date="2026-01-05", max_concurrent_jobs=1, **overrides)


@dataclass
class SmallDisk:
    """A folder with almost no room: a 256 KiB tmpfs filled to its last pages (a real
    ENOSPC); without the right to mount, a 16 KiB file size limit on the tap (EFBIG)."""

    folder: Path
    mounted: bool

    def preexec(self) -> None:
        if not self.mounted:
            resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))

    @property
    def reason(self) -> str:
        return os.strerror(28) if self.mounted else os.strerror(27)


@pytest.fixture
def small_disk(tmp_path: Path) -> t.Iterator[SmallDisk]:
    folder = tmp_path / f"small-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    mounted = False
    if os.geteuid() == 0 and mount and umount:
        command = [mount, "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(folder)]
        mounted = subprocess.run(command, capture_output=True, check=False).returncode == 0
    try:
        if mounted:
            with (folder / "filler").open("wb") as filler:
                filler.write(b"\0" * ((256 - 8) << 10))
        yield SmallDisk(folder, mounted)
    finally:
        if mounted and umount:
            subprocess.run([umount, str(folder)], check=False)
            if os.path.ismount(folder):
                subprocess.run([umount, "-l", str(folder)], check=False)


def run_tap(
    tmp_path: Path,
    config: dict[str, t.Any],
    disk: SmallDisk | None = None,
    tmpdir: Path | None = None,
    stdout: t.Any = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir or tmp_path)}
    return subprocess.run(
        cli_command(tmp_path, config, None),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
        env=env,
        preexec_fn=disk.preexec if disk else None,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR    |" in line]


def assert_named_error(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    """Exit 1, and the last ERROR line holds every part; no 'unexpected error', no
    traceback, nothing Python prints on its way out."""
    assert done.returncode == 1, done.stderr[-2000:]
    last = error_lines(done.stderr)[-1]
    for part in parts:
        assert part in last
    assert "unexpected error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def test_a_full_temp_folder_is_named_with_what_to_do(
    api: FakeBackstory, tmp_path: Path, small_disk: SmallDisk
) -> None:
    api.faults.add("data", "long_line", fragment=0, length=64 << 10)
    done = run_tap(tmp_path, one_window(api), small_disk, tmpdir=small_disk.folder)
    assert_named_error(
        done,
        f"The temp folder {small_disk.folder} has no room for the downloaded fragments "
        f"({small_disk.reason}) while downloading fragment 0 of 7 of export job ce-000001 "
        "(window 2026-01-01..2026-01-05). Free space there, or set TMPDIR to a folder on a "
        "disk with more room",
    )
    assert not list(small_disk.folder.glob(f"{spool.PREFIX}*"))


def test_a_full_batch_root_is_named_with_what_to_do(tmp_path: Path, small_disk: SmallDisk) -> None:
    # 100 records, gzipped over 16 KiB, in fragments of under 16 KiB.
    with FakeBackstory(FakeConfig(contacts_per_day=20, fragment_size=10)) as api:
        root = small_disk.folder / "batches"
        batch_config = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": root.as_uri()},
            "batch_size": 1000,
        }
        done = run_tap(tmp_path, one_window(api, batch_config=batch_config), small_disk)
    assert_named_error(
        done,
        f"The BATCH files' folder {root.as_uri()} (batch_config.storage.root) has no room "
        f"({small_disk.reason}). Free space there or set batch_config.storage.root",
    )
    assert '"BATCH"' not in done.stdout


def test_stdout_on_a_full_disk_is_named(api: FakeBackstory, tmp_path: Path) -> None:
    with Path("/dev/full").open("w") as full:
        done = run_tap(tmp_path, one_window(api), stdout=full)
    assert_named_error(
        done,
        "The tap's output (stdout) could not be written: No space left on device. stdout is "
        "a file on a disk without room",
    )


def test_a_target_that_stopped_reading_is_named(api: FakeBackstory, tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the target is gone before the tap writes its first message
    try:
        done = run_tap(tmp_path, one_window(api), stdout=write)
    finally:
        os.close(write)
    assert_named_error(
        done, "The target stopped reading the tap's output (its end of the pipe closed)"
    )
    assert api.count("create") <= 1


def test_a_target_that_stops_reading_mid_run_is_named(api: FakeBackstory, tmp_path: Path) -> None:
    command = cli_command(tmp_path, make_config(api), None)  # two windows
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert '"SCHEMA"' in process.stdout.readline()
        process.stdout.close()  # the target ends after the first message
        _, stderr = process.communicate(timeout=TIMEOUT)
    done = subprocess.CompletedProcess(command, process.returncode, "", stderr)
    assert_named_error(
        done, "The target stopped reading the tap's output (its end of the pipe closed)"
    )


def test_the_spool_never_holds_more_than_max_spool_bytes(
    api: FakeBackstory, tmp_path: Path
) -> None:
    api.faults.add("data", "long_line", fragment=3, length=2 << 20)
    done = run_tap(tmp_path, one_window(api, max_spool_bytes=1 << 20))
    assert_named_error(
        done,
        "Downloading fragment 3 of 7 of export job ce-000001 (window 2026-01-01..2026-01-05) "
        "would put more than max_spool_bytes (1 MiB (1048576 bytes)) in the spool folder "
        f"{tmp_path}/{spool.PREFIX}",
        "Raise max_spool_bytes if the temp folder has the room",
    )
    assert not list(tmp_path.glob(f"{spool.PREFIX}*"))


def test_the_spool_bound_counts_every_file_in_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = spool.Spool(max_bytes=100)
    first, second = folder.new_file(), folder.new_file()
    folder.grow(first, 60, "fragment 0")
    with pytest.raises(DiskSpaceError, match=r"fragment 1 would put more .*\(60 bytes of fragm"):
        folder.grow(second, 50, "fragment 1")
    folder.discard(first)  # read: its room is free again
    folder.grow(second, 50, "fragment 1")
    folder.restart(second)  # downloaded again from its start
    folder.grow(second, 100, "fragment 1")
    folder.remove()


def test_a_deflate_body_stays_compressed_in_the_spool(
    api: FakeBackstory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    # 64 MiB of JSON once decoded, about 64 KiB as sent: under max_spool_bytes as sent.
    api.faults.add("data", "deflate_bomb", fragment=0, decoded_bytes=64 << 20)
    caplog.set_level(logging.INFO)
    out = sync(one_window(api, max_spool_bytes=1 << 20))
    sizes = re.findall(r"Downloaded fragment 0 of 7 .*: (\d+) bytes", caplog.text)
    assert sizes
    assert int(sizes[0]) < 1 << 20
    assert len(out.records) == 21  # the bomb replaced fragment 0's 4 contacts with `[ … ]`


@pytest.mark.parametrize("mode", ["deflate", "header"])
def test_compressed_bodies_give_every_record(api: FakeBackstory, mode: str) -> None:
    api.config.gzip = mode
    out = sync(one_window(api))
    assert len({r["contact_key"] for r in out.records}) == 25
    assert out.bookmark() == "2026-01-05"
