"""BATCH output: jsonl.gz files hold exactly the records, no STATE gets ahead of them, the
files are owner-only and each run removes the files of the runs before it."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import stat
import subprocess
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import fsspec  # type: ignore[import-untyped]
import pytest

from fake_backstory import FakeBackstory
from tests.conftest import make_config
from tests.singer_run import STREAM, SyncOutput, cli_command, run_until_killed, sync

FILE_NAME = "b-tap-backstory-contacts--enriched_contacts-{}-{}.json.gz"


def _batch_config(root: Path | str, size: int) -> dict[str, t.Any]:
    """gzip JSON Lines files of ``size`` records under ``root`` (a directory or a URL)."""
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root.as_uri() if isinstance(root, Path) else root, "prefix": "b-"},
        "batch_size": size,
    }


def _read(manifest: list[str]) -> list[dict[str, t.Any]]:
    rows = []
    for url in manifest:
        with fsspec.open(url, "rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def _files(out: SyncOutput) -> list[str]:
    """Local paths of the files the BATCH messages of ``out`` announce."""
    return [urlparse(url).path for url in _urls(out)]


def _urls(out: SyncOutput) -> list[str]:
    return [url for m in out.messages if m["type"] == "BATCH" for url in m["manifest"]]


def _mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0 for the test: owner-only modes must come from the tap, not from the umask."""
    saved = os.umask(0)
    yield
    os.umask(saved)


@pytest.mark.parametrize("batch_size", [7, 25, 1000])
def test_batch_files_hold_every_record_and_state_follows_them(
    api: FakeBackstory, tmp_path: Path, batch_size: int
) -> None:
    record_mode = sync(make_config(api)).records
    out = sync(make_config(api, batch_config=_batch_config(tmp_path, batch_size)))

    assert out.records == []
    in_files: list[dict[str, t.Any]] = []
    for message in out.messages:
        if message["type"] == "BATCH":
            assert message["stream"] == STREAM
            in_files += _read(message["manifest"])
        bookmark = message.get("value", {}).get("bookmarks", {}).get(STREAM, {})
        for window_end in ("2026-01-05", "2026-01-10"):
            if bookmark.get("replication_key_value", "") >= window_end:
                assert sum(r["export_end_date"] == window_end for r in in_files) == 25
    strip = ("export_job_id",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in in_files] == [
        {k: v for k, v in r.items() if k not in strip} for r in record_mode
    ]
    assert out.bookmark() == "2026-01-10"
    assert out.final_state["bookmarks"][STREAM]["jobs"] == []


def test_sigterm_in_batch_mode_never_bookmarks_records_not_yet_in_a_batch(
    api: FakeBackstory, tmp_path: Path
) -> None:
    """A window's end closes its file (not only a full file): its BATCH message and then a
    STATE with its bookmark go out at once; the next window's records, in no announced file,
    are never bookmarked."""
    api.config.job_seconds = 1.0
    config = make_config(
        api,
        max_concurrent_jobs=1,
        poll_interval_seconds=0.05,
        batch_config=_batch_config(tmp_path, 1000),  # never full: files close at window ends
    )
    command = cli_command(tmp_path, config, None)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            if "Window 2026-01-01..2026-01-05 done" in line:
                process.send_signal(signal.SIGTERM)
                break
        stdout, _ = process.communicate(timeout=60)
    out = SyncOutput.parse(stdout)
    (batch,) = (i for i, m in enumerate(out.messages) if m["type"] == "BATCH")
    in_file = _read(out.messages[batch]["manifest"])
    assert {r["export_end_date"] for r in in_file} == {"2026-01-05"}
    assert len(in_file) == len(api.expected_records("2026-01-01", "2026-01-05")) > 0
    bookmarks = [
        (i, out.bookmark(m["value"])) for i, m in enumerate(out.messages) if m["type"] == "STATE"
    ]
    assert [b for i, b in bookmarks if i < batch] == [None] * sum(i < batch for i, _ in bookmarks)
    assert out.bookmark() == "2026-01-05", "the STATE right after the window's BATCH message"
    emitted = [
        j["fragments_emitted"] for s in out.states for j in s["bookmarks"][STREAM].get("jobs", [])
    ]
    assert set(emitted) <= {0}


@pytest.mark.usefixtures("open_umask")
def test_batch_files_and_the_directories_the_tap_creates_are_owner_only(
    api: FakeBackstory, tmp_path: Path
) -> None:
    root = tmp_path / "private" / "batches"
    out = sync(make_config(api, batch_config=_batch_config(root, 10)))

    files = _files(out)
    assert len(files) == 6  # two windows of 25 records, each in files of 10, 10 and 5
    assert [_mode(path) for path in files] == [0o600] * 6
    assert (_mode(root), _mode(root.parent)) == (0o700, 0o700)
    assert sorted(os.listdir(root)) == sorted(Path(path).name for path in files)


def test_an_existing_shared_root_is_left_alone_with_a_warning(
    api: FakeBackstory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        out = sync(make_config(api, batch_config=_batch_config(root, 25)))

    assert [_mode(path) for path in _files(out)] == [0o600, 0o600]
    assert _mode(root) == 0o755
    warning = f"batch_config.storage.root {root} is open to other users (mode 0755)"
    assert warning in caplog.text


def test_a_run_removes_the_batch_files_of_earlier_runs_and_nothing_else(
    api: FakeBackstory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "batches"
    config = make_config(api, batch_config=_batch_config(root, 20))
    first = sync(config)
    root.joinpath("notes.txt").write_text("not ours")
    others = [
        FILE_NAME.format("not-a-uuid", 1),
        FILE_NAME.format(uuid.uuid4(), 1).replace("b-", "x-", 1),  # another prefix
        FILE_NAME.format(uuid.uuid4(), 1).replace("enriched_contacts", "other_stream"),
    ]
    for name in others:
        root.joinpath(name).write_bytes(b"")
    with caplog.at_level(logging.INFO):
        second = sync(config)

    assert len(_files(first)) == 4  # two windows of 25 records, each in files of 20 and 5
    assert not any(os.path.exists(path) for path in _files(first))
    assert "Removed 4 batch file(s) of earlier runs" in caplog.text
    expected = {"notes.txt", *others, *(Path(path).name for path in _files(second))}
    assert set(os.listdir(root)) == expected
    assert len(_read(_urls(second))) == 50


def test_files_of_earlier_runs_are_removed_from_remote_storage_too(api: FakeBackstory) -> None:
    root = f"memory://backstory-{uuid.uuid4().hex}/batches"
    config = make_config(api, batch_config=_batch_config(root, 30))
    first = sync(config)
    second = sync(config)

    fs = fsspec.filesystem("memory")
    remaining = sorted(fs.unstrip_protocol(path) for path in fs.ls(root, detail=False))
    rows = _read(_urls(second))
    fs.rm(root, recursive=True)
    assert len(_urls(first)) == len(_urls(second)) == 2
    assert remaining == sorted(_urls(second))
    assert len(rows) == 50


@pytest.mark.parametrize("switch", [False, "false"])
def test_enabled_false_turns_batch_off_where_meltano_merges_batch_config_in(
    api: FakeBackstory, tmp_path: Path, switch: t.Any
) -> None:
    root = tmp_path / "batches"
    out = sync(make_config(api, batch_config={**_batch_config(root, 10), "enabled": switch}))

    assert not _urls(out)
    assert len(out.records) == 50
    assert out.bookmark() == "2026-01-10"
    assert not root.exists()


def test_sigkill_in_batch_mode_then_a_resumed_run_loses_no_record(
    api: FakeBackstory, tmp_path: Path
) -> None:
    every_key = {record["contact_key"] for record in sync(make_config(api)).records}
    api.config.job_seconds = 1.0  # the second window's job keeps the first run busy
    root = tmp_path / "batches"
    config = make_config(
        api,
        max_concurrent_jobs=1,
        poll_interval_seconds=0.05,
        batch_config=_batch_config(root, 10),
    )
    killed = run_until_killed(tmp_path, config, lambda message: message["type"] == "STATE")
    # A target has loaded the files announced before the STATE it got, and vouches for them.
    loaded = {record["contact_key"] for record in _read(_urls(killed))}
    assert 0 < len(loaded) < len(every_key)

    resumed = sync(config, state=killed.final_state)

    assert not any(os.path.exists(path) for path in _files(killed))
    assert sorted(os.listdir(root)) == sorted(Path(path).name for path in _files(resumed))
    assert loaded | {record["contact_key"] for record in _read(_urls(resumed))} == every_key
    assert resumed.bookmark() == "2026-01-10"
