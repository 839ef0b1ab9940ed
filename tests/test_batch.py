"""BATCH output: jsonl.gz files hold exactly the records, and no STATE gets ahead of them."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path
from urllib.parse import urlparse

import pytest

from fake_backstory import FakeBackstory
from tests.conftest import make_config
from tests.singer_run import STREAM, sync


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
