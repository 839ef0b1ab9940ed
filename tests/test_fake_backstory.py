"""Tests of the fake Backstory API itself, over real HTTP."""

from __future__ import annotations

import csv
import gzip
import io
import math
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import requests

from fake_backstory import API_FIELDS, EXTRA_FIELDS, FakeBackstory, FakeConfig, RecordingServer

ROOT = Path(__file__).resolve().parents[1]
JOBS = "/pull/v1/export/contacts/jobs"
WINDOW = {"start_date": "2026-01-01", "end_date": "2026-01-03"}
INT_FIELDS = {name for name in API_FIELDS if name.startswith("total_")}
BOOL_WORDS = {"true": "false", "True": "False", "1": "0", "yes": "no"}


# ---- helpers ----------------------------------------------------------------------------------


def get_token(api: FakeBackstory, session: requests.Session, **overrides: str) -> requests.Response:
    """POST the client-credentials form."""
    form = {
        "grant_type": "client_credentials",
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
        **overrides,
    }
    return session.post(f"{api.url}/auth/v1/tokens", data=form, timeout=30)


def authed_session(api: FakeBackstory) -> requests.Session:
    """A session carrying a fresh bearer token."""
    session = requests.Session()
    token = get_token(api, session).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def create(api: FakeBackstory, session: requests.Session, **params: Any) -> requests.Response:
    """POST a job."""
    return session.post(f"{api.url}{JOBS}", json=params, timeout=30)


def status(api: FakeBackstory, session: requests.Session, job_id: Any) -> requests.Response:
    """GET a job's status (counts as a poll)."""
    return session.get(f"{api.url}{JOBS}/{job_id}", timeout=30)


def data(
    api: FakeBackstory, session: requests.Session, job_id: Any, fragment: int | None = None
) -> requests.Response:
    """GET a job's data (one fragment or stitched)."""
    params = {} if fragment is None else {"fragment": fragment}
    return session.get(f"{api.url}{JOBS}/{job_id}/data", params=params, timeout=30)


def run_job(api: FakeBackstory, session: requests.Session, **params: Any) -> dict[str, Any]:
    """Create a job and poll it to a final state; returns the last status JSON."""
    job = create(api, session, **params)
    assert job.status_code == 200, job.text
    for _ in range(20):
        body: dict[str, Any] = status(api, session, job.json()["job_id"]).json()
        if body["state"] in ("Completed", "Failed", "Canceled"):
            return body
    raise AssertionError("job never finished")


def parse_json(raw: bytes, layout: str) -> list[dict[str, Any]]:
    """Parse a JSON body in the given layout."""
    if layout == "lines":
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    parsed = orjson.loads(raw)
    if layout == "wrapper":
        assert parsed["count"] == len(parsed["data"])
        return list(parsed["data"])
    assert isinstance(parsed, list)
    return parsed


def parse_csv(raw: bytes, true_word: str = "true") -> tuple[list[str], list[dict[str, Any]]]:
    """Parse a CSV body back into typed records; returns (header, records)."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header = next(reader)
    records = []
    for row in reader:
        assert len(row) == len(header), row
        record: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            if cell == "":
                record[name] = None
            elif name in INT_FIELDS:
                record[name] = int(cell)
            elif name == "from_cc":
                assert cell in (true_word, BOOL_WORDS[true_word])
                record[name] = cell == true_word
            elif name == "enrichment_score":
                record[name] = float(cell)
            else:
                record[name] = cell
        records.append(record)
    return header, records


@pytest.fixture
def api() -> Iterator[FakeBackstory]:
    """A running fake with small fragments and instant jobs."""
    config = FakeConfig(contacts_per_day=7, fragment_size=4, polls_queued=0, polls_running=0)
    with FakeBackstory(config) as fake:
        yield fake


@pytest.fixture
def session(api: FakeBackstory) -> Iterator[requests.Session]:
    """An authenticated requests session."""
    with authed_session(api) as sess:
        yield sess


# ---- auth ---------------------------------------------------------------------------------------


def test_token_flow(api: FakeBackstory) -> None:
    with requests.Session() as sess:
        bad = get_token(api, sess, client_secret="nope")
        assert bad.status_code == 401
        assert bad.json() == {
            "error": "UnauthorizedException",
            "message": "Invalid client credentials",
        }
        assert bad.headers["Content-Type"] == "application/json"
        assert get_token(api, sess, grant_type="password").status_code == 400
        as_json = sess.post(f"{api.url}/auth/v1/tokens", json={"client_id": "x"}, timeout=30)
        assert as_json.status_code == 400
        first, second = get_token(api, sess).json(), get_token(api, sess).json()
    assert first["token_type"] == "bearer"
    assert first["expires_in"] == 7200
    assert first["access_token"] != second["access_token"]
    assert first["access_token"].count(".") == 2  # JWT-looking
    for token in (first["access_token"], second["access_token"]):  # re-minting revokes nothing
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{api.url}{JOBS}/nope", headers=headers, timeout=30).status_code == 404
    assert api.count("token") == 5
    assert api.count("token", 200) == 2


def test_token_expiry(api: FakeBackstory) -> None:
    api.config.token_ttl_seconds = 0.5
    with authed_session(api) as sess:
        assert create(api, sess, **WINDOW).status_code == 200
        time.sleep(0.6)
        expired = create(api, sess, **WINDOW)
        assert expired.status_code == 401
        assert expired.json()["message"] == "Token expired"
        fresh = get_token(api, sess).json()
        assert fresh["expires_in"] == 0  # int of 0.5
        sess.headers["Authorization"] = f"Bearer {fresh['access_token']}"
        assert create(api, sess, **WINDOW).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic dGVzdA=="])
def test_pull_requires_valid_token(api: FakeBackstory, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    resp = requests.post(f"{api.url}{JOBS}", json=WINDOW, headers=headers, timeout=30)
    assert resp.status_code == 401
    assert resp.json() == {"error": "UnauthorizedException", "message": "Invalid token"}
    assert api.count("create", 401) == 1
    assert not api.jobs


# ---- job lifecycle and validation --------------------------------------------------------------


def test_job_lifecycle_by_polls(api: FakeBackstory, session: requests.Session) -> None:
    api.config.polls_queued, api.config.polls_running = 1, 2
    created = create(api, session, **WINDOW, output_format="JSON")
    body = created.json()
    assert body["state"] == "Queued"
    assert body["output_format"] == "JSON"
    assert body["job_start_time"] is None
    assert body["job_end_time"] is None
    assert len(body["job_created_time"]) == 20
    assert body["job_created_time"].endswith("Z")
    job_id = body["job_id"]
    assert job_id == "ce-000001"
    assert data(api, session, job_id).json()["message"] == "Job is not completed"

    seen = [status(api, session, job_id).json() for _ in range(4)]
    assert [s["state"] for s in seen] == ["Queued", "Running", "Running", "Completed"]
    assert seen[0]["job_start_time"] is None
    assert seen[1]["job_start_time"] is not None
    assert seen[1]["job_end_time"] is None
    assert seen[1]["fragments"] is None
    assert seen[1]["results_size"] is None
    done = seen[3]
    assert done["job_end_time"] is not None
    assert orjson.loads(done["params"]) == {**WINDOW, "output_format": "JSON"}
    assert isinstance(done["fragments"], int)
    assert isinstance(done["results_size"], int)
    job = api.jobs[job_id]
    assert job.polls == 4
    assert job.state == "Completed"
    assert job.params == {**WINDOW, "output_format": "JSON"}
    assert job.fragments == done["fragments"]
    assert api.created_jobs() == [job]


def test_job_lifecycle_by_time(api: FakeBackstory, session: requests.Session) -> None:
    api.config.job_seconds = 0.6
    job_id = create(api, session, **WINDOW).json()["job_id"]
    assert status(api, session, job_id).json()["state"] == "Queued"
    time.sleep(0.15)
    assert status(api, session, job_id).json()["state"] == "Running"
    time.sleep(0.5)
    assert status(api, session, job_id).json()["state"] == "Completed"


def test_output_format_defaults_to_csv(api: FakeBackstory, session: requests.Session) -> None:
    assert create(api, session, **WINDOW).json()["output_format"] == "CSV"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"end_date": "2026-01-01"}, "Missing required parameter: start_date"),
        ({"start_date": "2026-01-01"}, "Missing required parameter: end_date"),
        ({**WINDOW, "start_date": "2026-1-1"}, "Invalid parameter format: start_date"),
        ({**WINDOW, "end_date": "2026-02-30"}, "Invalid parameter format: end_date"),
        ({**WINDOW, "start_date": "2026-01-05"}, "start_date must not be after end_date"),
        ({**WINDOW, "include_existing": "true"}, "Invalid parameter format: include_existing"),
        (
            {**WINDOW, "is_sourced_by_people_ai": 1},
            "Invalid parameter format: is_sourced_by_people_ai",
        ),
        ({**WINDOW, "output_format": "XML"}, "Invalid parameter format: output_format"),
        ({**WINDOW, "country": 1}, "Invalid parameter format: country"),
        ({**WINDOW, "exportType": "Delta"}, "Invalid parameter format: exportType"),
        (["not", "an", "object"], "Request body must be a JSON object"),
    ],
)
def test_create_validation(
    api: FakeBackstory, session: requests.Session, body: Any, message: str
) -> None:
    resp = session.post(f"{api.url}{JOBS}", json=body, timeout=30)
    assert resp.status_code == 400
    assert resp.json() == {"error": "BadRequestException", "message": message}
    assert not api.jobs


def test_create_rejects_non_json_and_long_windows(
    api: FakeBackstory, session: requests.Session
) -> None:
    resp = session.post(f"{api.url}{JOBS}", data=b"start_date=2026-01-01", timeout=30)
    assert resp.status_code == 400
    api.config.max_window_days = 14
    assert create(api, session, start_date="2026-01-01", end_date="2026-01-14").status_code == 200
    too_long = create(api, session, start_date="2026-01-01", end_date="2026-01-15")
    assert too_long.status_code == 400
    assert too_long.json()["message"] == "Date range too large: at most 14 days"


def test_job_limits_final_states_and_override(
    api: FakeBackstory, session: requests.Session
) -> None:
    api.config.enforce_job_limits = True
    first = create(api, session, **WINDOW).json()["job_id"]
    assert create(api, session, **WINDOW).status_code == 200
    third = create(api, session, **WINDOW)
    assert third.status_code == 429
    assert third.json() == {
        "error": "TooManyRequestsException",
        "message": "Too many concurrent export jobs",
    }
    status(api, session, first)  # completes (instant jobs) and frees a slot
    assert create(api, session, **WINDOW).status_code == 200

    api.reset()
    api.config.enforce_job_limits = False
    api.config.fail_jobs, api.config.cancel_jobs = 1, 1
    assert run_job(api, session, **WINDOW)["state"] == "Failed"
    canceled = run_job(api, session, **WINDOW)
    assert canceled["state"] == "Canceled"
    assert canceled["fragments"] is None
    assert data(api, session, canceled["job_id"]).status_code == 400
    assert run_job(api, session, **WINDOW)["state"] == "Completed"
    assert (api.config.fail_jobs, api.config.cancel_jobs) == (0, 0)

    api.config.status_override = "Exploded"
    assert status(api, session, canceled["job_id"]).json()["state"] == "Exploded"


def test_status_and_data_errors(api: FakeBackstory, session: requests.Session) -> None:
    assert status(api, session, "ce-999999").json() == {
        "error": "NotFoundException",
        "message": "HTTP 404 Not Found",
    }
    assert status(api, session, "bad%20id").status_code == 400
    done = run_job(api, session, **WINDOW, output_format="JSON")
    for bad in ("x", "-1", str(done["fragments"])):
        resp = session.get(f"{api.url}{JOBS}/{done['job_id']}/data?fragment={bad}", timeout=30)
        assert resp.status_code == 400, bad
    other = session.get(f"{api.url}/pull/v1/export/contacts/list", timeout=30)
    assert other.status_code == 404
    assert session.delete(f"{api.url}{JOBS}/{done['job_id']}", timeout=30).status_code == 404
    assert api.count("other") == 2
    last = api.requests[-1]
    assert (last.method, last.status, last.endpoint) == ("DELETE", 404, "other")


# ---- data ---------------------------------------------------------------------------------------


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


# ---- faults -------------------------------------------------------------------------------------


def test_fault_429_with_retry_after(api: FakeBackstory, session: requests.Session) -> None:
    api.faults.add("create", "429_retry_after", retry_after=3)
    api.faults.add("create", "429_retry_after", retry_after_http_date=True)
    api.faults.add("create", "429")
    first = create(api, session, **WINDOW)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert first.json()["error"] == "TooManyRequestsException"
    assert create(api, session, **WINDOW).headers["Retry-After"].endswith(" GMT")
    third = create(api, session, **WINDOW)
    assert third.status_code == 429
    assert "Retry-After" not in third.headers
    assert create(api, session, **WINDOW).status_code == 200
    assert len(api.jobs) == 1
    assert api.count("create", 429) == 3


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "401"])
def test_fault_error_statuses(api: FakeBackstory, session: requests.Session, kind: str) -> None:
    api.faults.add("*", kind, times=2)
    assert get_token(api, session).status_code == int(kind)
    resp = create(api, session, **WINDOW)
    assert resp.status_code == int(kind)
    assert resp.headers["Content-Type"] == "application/json"
    assert set(resp.json()) == {"error", "message"}
    assert create(api, session, **WINDOW).status_code == 200


def test_fault_409_on_create(api: FakeBackstory, session: requests.Session) -> None:
    api.faults.add("create", "409")
    resp = create(api, session, **WINDOW)
    assert resp.status_code == 409
    assert resp.json() == {"error": "ConflictException", "message": "Too many queued export jobs"}


@pytest.mark.parametrize("kind", ["drop_mid_body", "short_body"])
def test_fault_cut_body_raises(api: FakeBackstory, session: requests.Session, kind: str) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", kind)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        data(api, session, done["job_id"])
    assert data(api, session, done["job_id"]).json() == api.expected_records(**WINDOW)


def test_fault_reset(api: FakeBackstory, session: requests.Session) -> None:
    api.faults.add("status", "reset")
    job_id = create(api, session, **WINDOW).json()["job_id"]
    with pytest.raises(requests.exceptions.ConnectionError):
        status(api, session, job_id)
    assert status(api, session, job_id).status_code == 200
    assert api.count("status", 0) == 1
    assert api.jobs[job_id].polls == 1  # the reset request was not served


@pytest.mark.parametrize("gzip_mode", ["none", "header", "magic"])
def test_fault_truncate(api: FakeBackstory, session: requests.Session, gzip_mode: str) -> None:
    api.config.gzip = gzip_mode
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", "truncate")
    resp = session.get(f"{api.url}{JOBS}/{done['job_id']}/data", stream=True, timeout=30)
    with resp:
        raw = resp.raw.read(decode_content=False)
    assert int(resp.headers["Content-Length"]) == len(raw)
    if gzip_mode != "none":
        decompressor = zlib.decompressobj(31)
        raw = decompressor.decompress(raw)
        assert not decompressor.eof  # the gzip stream ends early
    assert 0 < len(raw) < done["results_size"]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)


@pytest.mark.parametrize("output_format", ["JSON", "JSONLines", "CSV"])
def test_fault_corrupt(api: FakeBackstory, session: requests.Session, output_format: str) -> None:
    done = run_job(api, session, **WINDOW, output_format=output_format)
    api.faults.add("data", "corrupt")
    raw = data(api, session, done["job_id"]).content
    assert b"{{{garbage" in raw
    if output_format == "CSV":
        with pytest.raises(AssertionError):
            assert parse_csv(raw)[1] == api.expected_records(**WINDOW)
    else:
        with pytest.raises(orjson.JSONDecodeError):
            parse_json(raw, "array" if output_format == "JSON" else "lines")


def test_fault_targets_one_fragment(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", "503", fragment=2)
    assert data(api, session, done["job_id"], 0).status_code == 200
    assert data(api, session, done["job_id"]).status_code == 200
    assert data(api, session, done["job_id"], 2).status_code == 503
    assert data(api, session, done["job_id"], 2).status_code == 200
    assert len(api.faults) == 0


def test_fault_delay_causes_read_timeout(api: FakeBackstory, session: requests.Session) -> None:
    api.faults.add("token", "delay", seconds=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(f"{api.url}/auth/v1/tokens", data={}, timeout=0.1)
    api.faults.clear()
    api.faults.add("token", "delay", seconds=0.05)
    assert get_token(api, session).status_code == 200


def test_throttle_paces_downloads(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.config.throttle_bytes_per_second = done["results_size"] * 5  # about 0.2 s
    started = time.monotonic()
    assert data(api, session, done["job_id"]).json() == api.expected_records(**WINDOW)
    assert time.monotonic() - started >= 0.15


def test_reset_clears_state(api: FakeBackstory, session: requests.Session) -> None:
    run_job(api, session, **WINDOW)
    api.faults.add("data", "500")
    api.reset()
    assert (api.requests, api.jobs, len(api.faults)) == ([], {}, 0)
    assert create(api, session, **WINDOW).json()["job_id"] == "ce-000001"  # token still valid


# ---- hostile server faults ---------------------------------------------------------------------


@pytest.mark.parametrize("plain", [False, True])
def test_fault_echo_repeats_secret_and_token(
    api: FakeBackstory, session: requests.Session, plain: bool
) -> None:
    api.config.client_secret = "s3cr&t=value"  # form-encoded as s3cr%26t%3Dvalue
    token = session.headers["Authorization"]
    api.faults.add("token", "echo", plain=plain)
    api.faults.add("create", "echo", status=502, plain=plain)
    refused = get_token(api, session)
    assert refused.status_code == 500
    text = refused.text if plain else refused.json()["message"]
    assert refused.headers["Content-Type"].startswith("text/plain" if plain else "application/json")
    assert "'client_secret': 's3cr&t=value'" in text  # decoded
    assert "client_secret=s3cr%26t%3Dvalue" in text  # raw form body
    assert token == f"Bearer {api.tokens[-1]}"
    echoed = create(api, session, **WINDOW)
    assert echoed.status_code == 502
    assert "Retry-After" not in echoed.headers
    assert f"Authorization: {token}" in (echoed.text if plain else echoed.json()["message"])
    assert create(api, session, **WINDOW).status_code == 200
    api.faults.add("status", "echo", status=503, retry_after=0)
    assert status(api, session, "ce-000001").headers["Retry-After"] == "0"


def test_fault_echo_on_data_fragment(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", "echo", fragment=1)
    assert data(api, session, done["job_id"], 0).status_code == 200
    echoed = data(api, session, done["job_id"], 1)
    assert echoed.status_code == 500
    assert session.headers["Authorization"] in echoed.json()["message"]
    assert f"GET {JOBS}/{done['job_id']}/data?fragment=1" in echoed.json()["message"]


def test_fault_redirect_sends_the_token_request_elsewhere(api: FakeBackstory) -> None:
    with RecordingServer() as target, requests.Session() as sess:
        api.faults.add("token", "redirect", times=2, location=f"{target.url}/steal")
        refused = get_token(api, sess)  # requests follows a 307 with the same POST body
        assert refused.json()["access_token"] == "token-from-redirect-target"
        assert len(target.received) == 1
        stolen = target.received[0]
        assert (stolen.method, stolen.target) == ("POST", "/steal")
        assert b"client_secret=test-secret" in stolen.body
        form = {"client_id": "c", "client_secret": "x"}
        unfollowed = sess.post(
            f"{api.url}/auth/v1/tokens", data=form, allow_redirects=False, timeout=30
        )
        assert unfollowed.status_code == 307
        assert unfollowed.headers["Location"] == f"{target.url}/steal"
        assert len(target.received) == 1
        assert get_token(api, sess).status_code == 200
    assert api.count("token", 307) == 2
    assert len(target.received) == 1  # still readable after stop


def test_fault_retry_after_on_a_chosen_request(
    api: FakeBackstory, session: requests.Session
) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", "503", retry_after=300, fragment=1, after=1)
    assert data(api, session, done["job_id"], 1).status_code == 200  # passes the fault once
    assert data(api, session, done["job_id"], 0).status_code == 200
    slow = data(api, session, done["job_id"], 1)
    assert (slow.status_code, slow.headers["Retry-After"]) == (503, "300")
    assert data(api, session, done["job_id"], 1).status_code == 200


def test_fault_stall_then_resume(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    api.faults.add("data", "stall", seconds=0.3, after_bytes=10)
    with pytest.raises(requests.exceptions.ConnectionError, match="timed out"):
        _ = session.get(f"{api.url}{JOBS}/{done['job_id']}/data", timeout=(5, 0.05)).content
    api.faults.add("data", "stall", seconds=0.05)
    assert data(api, session, done["job_id"]).json() == api.expected_records(**WINDOW)


@pytest.mark.parametrize("after_bytes", [0, 10])
def test_fault_stall_forever_does_not_hang_shutdown(after_bytes: int) -> None:
    api = FakeBackstory(FakeConfig(polls_queued=0, polls_running=0)).start()
    api.faults.add("token", "stall", after_bytes=after_bytes)
    before = set(threading.enumerate())
    form = {"grant_type": "client_credentials", "client_id": "test-client"}
    with requests.Session() as sess:
        resp = sess.post(
            f"{api.url}/auth/v1/tokens",
            data={**form, "client_secret": "test-secret"},
            stream=True,
            timeout=(5, 30),
        )
        assert resp.status_code == 200  # the headers arrived, then the body stalls
        assert resp.raw.read(after_bytes) == b'{"access_token"'[:after_bytes]
        handlers = set(threading.enumerate()) - before
        stopper = threading.Thread(target=api.stop)
        stopper.start()
        stopper.join(20)
        assert not stopper.is_alive()
        with pytest.raises(requests.exceptions.RequestException):
            resp.content  # noqa: B018 - the rest of the body never comes
    for thread in handlers:
        thread.join(20)
        assert not thread.is_alive()


def test_fragments_override(api: FakeBackstory, session: requests.Session) -> None:
    api.config.fragments_override = 10**9
    done = run_job(api, session, **WINDOW, output_format="JSON")
    assert done["fragments"] == 10**9
    real = math.ceil(len(api.expected_records(**WINDOW)) / 4)
    assert data(api, session, done["job_id"], real - 1).status_code == 200
    assert data(api, session, done["job_id"], real).status_code == 400


ODD_IDS = ["../../../auth/v1/tokens", "x#frag", "x?fragment=7&y=", "a/b", 42]


@pytest.mark.parametrize("odd_id", ODD_IDS)
def test_odd_job_ids_need_percent_encoding(odd_id: str | int) -> None:
    config = FakeConfig(polls_queued=0, polls_running=0, job_ids=(odd_id,))
    with FakeBackstory(config) as api, authed_session(api) as sess:
        created = create(api, sess, **WINDOW, output_format="JSON")
        assert created.json()["job_id"] == odd_id
        encoded = quote(str(odd_id), safe="")
        found = sess.get(f"{api.url}{JOBS}/{encoded}", timeout=30)
        assert found.status_code == 200, found.text
        assert found.json()["job_id"] == odd_id
        got = sess.get(f"{api.url}{JOBS}/{encoded}/data", params={"fragment": 0}, timeout=30)
        assert got.status_code == 200
        assert api.requests[-1].target == f"{JOBS}/{encoded}/data?fragment=0"
        assert api.requests[-2].target == f"{JOBS}/{encoded}"
        if isinstance(odd_id, str):  # sent raw, the id never reaches the job
            assert sess.get(f"{api.url}{JOBS}/{odd_id}", timeout=30).status_code in (400, 404)
            assert api.jobs[odd_id].polls == 1


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


def test_fault_deflate_bomb(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="JSON")
    size = 8 * 1024 * 1024
    api.faults.add("data", "deflate_bomb", fragment=0, decoded_bytes=size)
    resp = session.get(
        f"{api.url}{JOBS}/{done['job_id']}/data", params={"fragment": 0}, stream=True, timeout=30
    )
    with resp:
        raw = resp.raw.read(decode_content=False)
    assert resp.headers["Content-Encoding"] == "deflate"
    assert int(resp.headers["Content-Length"]) == len(raw) < size // 500
    decoded = zlib.decompress(raw)
    assert len(decoded) == size
    assert orjson.loads(decoded) == []


@pytest.mark.parametrize(("output_format", "layout"), [("JSONLines", "lines"), ("JSON", "array")])
@pytest.mark.parametrize("gzip_mode", ["none", "header"])
def test_fault_long_line(
    api: FakeBackstory, session: requests.Session, output_format: str, layout: str, gzip_mode: str
) -> None:
    api.config.gzip = gzip_mode
    done = run_job(api, session, **WINDOW, output_format=output_format)
    api.faults.add("data", "long_line", length=100_000)
    raw = data(api, session, done["job_id"]).content
    if layout == "lines":
        assert len(raw.split(b"\n", 1)[0]) == 100_000
    records = parse_json(raw, layout)
    assert records[0]["email"] == "long-line@example.com"
    assert len(records[0]["first_name"]) > 99_900
    assert records[1:] == api.expected_records(**WINDOW)


def test_fault_long_line_refuses_csv(api: FakeBackstory, session: requests.Session) -> None:
    done = run_job(api, session, **WINDOW, output_format="CSV")
    api.faults.add("data", "long_line")
    assert data(api, session, done["job_id"]).status_code == 500


@pytest.mark.parametrize(
    ("endpoint", "kind", "opts", "match"),
    [
        ("token", "redirect", {}, "needs options"),
        ("token", "long_line", {}, "data endpoint only"),
        ("*", "deflate_bomb", {}, "data endpoint only"),
        ("data", "stall", {"bogus": 1}, "unknown options"),
        ("create", "echo", {"seconds": 1}, "unknown options"),
    ],
)
def test_fault_option_checks(
    api: FakeBackstory, endpoint: str, kind: str, opts: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        api.faults.add(endpoint, kind, **opts)
    assert len(api.faults) == 0


# ---- command line -------------------------------------------------------------------------------


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_backstory", "--port", "0", "--ready-file", str(ready)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        url = ready.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        with requests.Session() as sess:
            form = {
                "grant_type": "client_credentials",
                "client_id": "test-client",
                "client_secret": "test-secret",
            }
            resp = sess.post(f"{url}/auth/v1/tokens", data=form, timeout=30)
        assert resp.status_code == 200
        assert resp.json()["token_type"] == "bearer"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == f"fake-backstory listening on {url}\n"
