"""The fake API itself over real HTTP: export data (fragments, JSON shapes, gzip and deflate,
CSV, filters, empty exports, expiry, generated contacts)."""

from __future__ import annotations

import gzip
import math
import zlib
from typing import Any

import pytest
import requests

from fake_backstory import API_FIELDS, EXTRA_FIELDS, FakeBackstory
from tests.fake_client import (
    INT_FIELDS,
    JOBS,
    WINDOW,
    create,
    data,
    parse_csv,
    parse_json,
    run_job,
    status,
)


def test_fragments_concatenate_to_expected(api: FakeBackstory, session: requests.Session) -> None:
    expected = api.expected_records(**WINDOW)
    assert len(expected) == 21
    done = run_job(api, session, **WINDOW, output_format="JSON")
    assert done["fragments"] == math.ceil(len(expected) / 4)
    got = []
    for index in range(done["fragments"]):
        part = data(api, session, done["job_id"], index)
        assert part.headers["Content-Type"] == "application/json"
        assert int(part.headers["Content-Length"]) == len(part.content)
        got.extend(part.json())
    assert got == expected
    stitched = data(api, session, done["job_id"])
    assert stitched.json() == expected
    assert len(stitched.content) == done["results_size"]


@pytest.mark.parametrize(
    ("output_format", "shape", "layout"),
    [
        ("JSON", "array", "array"),
        ("JSON", "wrapper", "wrapper"),
        ("JSON", "lines", "lines"),
        ("JSONLines", "array", "lines"),
    ],
)
@pytest.mark.parametrize("gzip_mode", ["none", "header", "magic"])
def test_json_shapes_and_gzip(
    api: FakeBackstory,
    session: requests.Session,
    output_format: str,
    shape: str,
    layout: str,
    gzip_mode: str,
) -> None:
    api.config.json_shape = shape
    api.config.gzip = gzip_mode
    expected = api.expected_records(**WINDOW)
    done = run_job(api, session, **WINDOW, output_format=output_format)
    bodies = [data(api, session, done["job_id"], i) for i in range(done["fragments"])]
    bodies.append(data(api, session, done["job_id"]))
    for resp in bodies:
        raw = resp.content
        if gzip_mode == "magic":
            assert resp.headers["Content-Type"] == "application/octet-stream"
            assert "Content-Encoding" not in resp.headers
            assert raw[:2] == b"\x1f\x8b"
            raw = gzip.decompress(raw)
        elif gzip_mode == "header":
            assert resp.headers["Content-Encoding"] == "gzip"
        if gzip_mode != "magic":
            ndjson = layout == "lines"
            assert resp.headers["Content-Type"] == (
                "application/x-ndjson" if ndjson else "application/json"
            )
    per_fragment = []
    for resp in bodies[:-1]:
        raw = gzip.decompress(resp.content) if gzip_mode == "magic" else resp.content
        per_fragment.extend(parse_json(raw, layout))
    stitched = bodies[-1].content
    stitched = gzip.decompress(stitched) if gzip_mode == "magic" else stitched
    assert per_fragment == expected
    assert parse_json(stitched, layout) == expected
    assert len(stitched) == done["results_size"]


@pytest.mark.parametrize(
    ("csv_bool", "bom", "terminator"),
    [("true", False, "\r\n"), ("True", True, "\n"), ("1", False, "\n"), ("yes", True, "\r\n")],
)
def test_csv_round_trip(
    api: FakeBackstory, session: requests.Session, csv_bool: str, bom: bool, terminator: str
) -> None:
    api.config.csv_bool, api.config.csv_bom = csv_bool, bom
    api.config.csv_line_terminator = terminator
    api.config.contacts_per_day = 40  # enough rows for commas, quotes and newlines in values
    expected = api.expected_records(**WINDOW)
    done = run_job(api, session, **WINDOW, output_format="CSV")
    assert done["fragments"] == math.ceil(len(expected) / 4)
    records = []
    for index in range(done["fragments"]):
        resp = data(api, session, done["job_id"], index)
        assert resp.headers["Content-Type"] == "text/csv"
        assert resp.content.startswith(b"\xef\xbb\xbf") == bom
        assert resp.content.lstrip(b"\xef\xbb\xbf").startswith(b"first_name,last_name,email,")
        header, rows = parse_csv(resp.content, csv_bool)
        assert header == list(API_FIELDS)
        records.extend(rows)
    assert records == expected
    stitched = data(api, session, done["job_id"]).content
    assert len(stitched) == done["results_size"]
    assert stitched.count(b"first_name,last_name") == 1
    assert parse_csv(stitched, csv_bool)[1] == expected
    assert (terminator.encode() + b"first_name") not in stitched
    assert any("\n" in (r["job_title"] or "") for r in expected)
    assert any('"' in (r["job_title"] or "") for r in expected)


@pytest.mark.parametrize(
    "params",
    [
        {"country": "United States"},
        {"country": "United States", "state": "New York"},
        {"include_existing": False},
        {"include_historical": False},
        {"is_sourced_by_people_ai": True},
        {"include_historical": False, "include_existing": False, "country": "Germany"},
    ],
)
def test_filters(api: FakeBackstory, session: requests.Session, params: dict[str, Any]) -> None:
    api.config.contacts_per_day = 60
    everything = api.expected_records(**WINDOW)
    expected = api.expected_records(**WINDOW, **params)
    assert 0 < len(expected) < len(everything)
    if "country" in params:
        assert {r["country"] for r in expected} == {params["country"]}
    if "state" in params:
        assert {r["state"] for r in expected} == {params["state"]}
    done = run_job(api, session, **WINDOW, **params, output_format="JSONLines")
    assert parse_json(data(api, session, done["job_id"]).content, "lines") == expected


def test_int_job_ids(api: FakeBackstory, session: requests.Session) -> None:
    api.config.job_id_type = "int"
    created = create(api, session, **WINDOW, output_format="JSON").json()
    assert isinstance(created["job_id"], int)
    job_id = created["job_id"]
    assert status(api, session, job_id).json()["job_id"] == job_id
    assert str(job_id) in api.jobs
    assert data(api, session, job_id).json() == api.expected_records(**WINDOW)


@pytest.mark.parametrize("expired_status", [404, 410])
def test_expire_job(api: FakeBackstory, session: requests.Session, expired_status: int) -> None:
    api.config.expired_status = expired_status
    done = run_job(api, session, **WINDOW)
    api.expire_job(done["job_id"])
    assert status(api, session, done["job_id"]).status_code == expired_status
    assert data(api, session, done["job_id"], 0).status_code == expired_status


@pytest.mark.parametrize(
    ("output_format", "shape", "empty_body"),
    [
        ("JSON", "array", b"[]"),
        ("JSON", "wrapper", b'{"data":[],"count":0}'),
        ("JSONLines", "array", b""),
        ("CSV", "array", b",".join(name.encode() for name in API_FIELDS) + b"\r\n"),
    ],
)
@pytest.mark.parametrize("empty_fragments", ["zero", "missing"])
def test_empty_export(
    api: FakeBackstory,
    session: requests.Session,
    output_format: str,
    shape: str,
    empty_body: bytes,
    empty_fragments: str,
) -> None:
    api.config.data_last_day = "2025-12-31"
    api.config.json_shape = shape
    api.config.empty_fragments = empty_fragments
    assert api.expected_records(**WINDOW) == []
    done = run_job(api, session, **WINDOW, output_format=output_format)
    if empty_fragments == "zero":
        assert done["fragments"] == 0
    else:
        assert "fragments" not in done
    resp = data(api, session, done["job_id"])
    assert resp.status_code == 200
    assert resp.content == empty_body
    assert data(api, session, done["job_id"], 0).status_code == 400


def test_data_last_day_cuts_window(api: FakeBackstory) -> None:
    api.config.data_last_day = "2026-01-02"
    assert len(api.expected_records(**WINDOW)) == 14


def test_extra_fields(api: FakeBackstory, session: requests.Session) -> None:
    api.config.extra_fields = True
    expected = api.expected_records(**WINDOW)
    assert list(expected[0]) == [*API_FIELDS, *EXTRA_FIELDS]
    assert isinstance(expected[0]["enrichment_score"], float)
    done = run_job(api, session, **WINDOW, output_format="CSV")
    header, records = parse_csv(data(api, session, done["job_id"]).content)
    assert header == [*API_FIELDS, *EXTRA_FIELDS]
    assert records == expected


def test_data_is_realistic_and_deterministic(api: FakeBackstory) -> None:
    api.config.contacts_per_day = 300
    records = api.expected_records(start_date="2026-01-01", end_date="2026-01-10")
    assert records == api.expected_records(start_date="2026-01-01", end_date="2026-01-10")
    emails = [r["email"] for r in records if r["email"] is not None]
    assert len({e.lower() for e in emails}) == len(emails)
    assert 1 / 25 < (len(records) - len(emails)) / len(records) < 1 / 10
    assert any(e != e.lower() for e in emails)
    names = {r["first_name"] for r in records} | {r["last_name"] for r in records}
    assert {"José", "Zoë", "Łukasz", "山田"} <= names
    assert any("Ærøskøbing" in (r["account_name"] or "") for r in records)
    assert any(r["phone"] is None for r in records)
    assert any(r["country"] != "United States" and r["state"] is None for r in records)
    assert all(r["state"] is None for r in records if r["country"] != "United States")
    for record in records[:50]:
        assert list(record) == list(API_FIELDS)
        assert isinstance(record["from_cc"], bool)
        assert all(isinstance(record[name], int) for name in INT_FIELDS)
        assert record["total_inbound_30d"] <= record["total_inbound"]
    api.config.seed = 8
    assert api.expected_records(start_date="2026-01-01", end_date="2026-01-01") != records[:300]
    with pytest.raises(TypeError):
        api.expected_records(**WINDOW, export_type="Delta")


def test_deflate_content_encoding(api: FakeBackstory, session: requests.Session) -> None:
    api.config.gzip = "deflate"
    done = run_job(api, session, **WINDOW, output_format="JSONLines")
    resp = session.get(f"{api.url}{JOBS}/{done['job_id']}/data", stream=True, timeout=30)
    with resp:
        raw = resp.raw.read(decode_content=False)
    assert resp.headers["Content-Encoding"] == "deflate"
    assert parse_json(zlib.decompress(raw), "lines") == api.expected_records(**WINDOW)
    assert parse_json(data(api, session, done["job_id"]).content, "lines") == (
        api.expected_records(**WINDOW)
    )
