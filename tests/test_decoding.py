"""Deflate bodies are stored as sent and decoded while read (issue 17, item 14): both forms
HTTP servers send (zlib-wrapped and raw), seeking back as the JSON reader does, and a cut or
damaged stream is unreadable data (downloaded again), never a short list of records."""

from __future__ import annotations

import gzip
import json
import typing as t
import zlib
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts.decoding import open_decoded
from tap_backstory_contacts.errors import UnreadableDataError
from tap_backstory_contacts.formats import read_json, verify_compression
from tests.conftest import make_config
from tests.singer_run import sync

RECORDS = [{"email": f"c{i}@x.example", "total_inbound": i} for i in range(2000)]
BODY = json.dumps(RECORDS).encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    "encode", [zlib.compress, raw_deflate, gzip.compress], ids=["zlib", "raw", "gzip"]
)
def test_a_deflate_file_reads_as_its_records(tmp_path: Path, encode: t.Any) -> None:
    path = tmp_path / "fragment"
    path.write_bytes(encode(BODY))
    assert verify_compression(path, "test", "deflate")
    with open_decoded(path, "deflate") as stream:
        assert list(read_json(stream, "test")) == RECORDS
        stream.seek(0)  # back to the start, as the JSON shape sniffing does
        assert stream.read(2) == b"[{"
        stream.seek(len(BODY) - 2)
        assert stream.read() == b"}]"


@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_a_damaged_deflate_file_is_unreadable(tmp_path: Path, damage: str) -> None:
    data = zlib.compress(BODY)
    path = tmp_path / "fragment"
    cut = len(data) // 2
    path.write_bytes(data[:cut] if damage == "cut" else data[:cut] + b"\0" * 64 + data[cut:])
    with pytest.raises(UnreadableDataError, match="test: the compressed data is damaged"):
        verify_compression(path, "test", "deflate")


def test_a_cut_deflate_download_is_fetched_again_and_nothing_is_lost(
    api: FakeBackstory,
) -> None:
    api.config.gzip = "deflate"
    api.faults.add("data", "truncate", fragment=2)  # half the body, with a matching length
    out = sync(make_config(api, end_date="2026-01-05", max_concurrent_jobs=1))
    assert len({r["contact_key"] for r in out.records}) == 25
    assert out.bookmark() == "2026-01-05"
    fragment_2 = [
        r for r in api.requests if r.endpoint == "data" and r.query.get("fragment") == "2"
    ]
    assert len(fragment_2) == 2
