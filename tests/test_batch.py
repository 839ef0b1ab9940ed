"""BATCH output: jsonl.gz files hold exactly the records, and no STATE gets ahead of them."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import typing as t
from pathlib import Path
from urllib.parse import urlparse

import pytest

from fake_backstory import FakeBackstory
from tests.conftest import make_config
from tests.singer_run import STREAM, SyncOutput, cli_command, sync


def _batch_config(root: Path, size: int) -> dict[str, t.Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root.as_uri(), "prefix": "b-"},
        "batch_size": size,
    }


def _read(manifest: list[str]) -> list[dict[str, t.Any]]:
    rows = []
    for url in manifest:
        with gzip.open(urlparse(url).path, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


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
    api.config.job_seconds = 1.0
    config = make_config(
        api,
        max_concurrent_jobs=1,
        poll_interval_seconds=0.05,
        batch_config=_batch_config(tmp_path, 1000),  # one batch file at the very end
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
    assert not any(m["type"] == "BATCH" for m in out.messages)
    assert out.states, "the SDK writes the state when stopped"
    assert all(out.bookmark(s) is None for s in out.states)
    emitted = [
        j["fragments_emitted"] for s in out.states for j in s["bookmarks"][STREAM].get("jobs", [])
    ]
    assert set(emitted) <= {0}
