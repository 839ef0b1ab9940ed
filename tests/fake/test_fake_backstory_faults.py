"""The fake API's injected faults over real HTTP: error statuses, cut, truncated and corrupt
bodies, resets, delays, throttling, and the fault queue itself."""

from __future__ import annotations

import time
import zlib
from typing import Any

import orjson
import pytest
import requests

from fake_backstory import KINDS, FakeBackstory
from tests.fake_client import (
    JOBS,
    WINDOW,
    create,
    data,
    get_token,
    parse_csv,
    parse_json,
    run_job,
    status,
)


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


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_queued_only_where_its_row_allows(api: FakeBackstory, kind: str) -> None:
    row = KINDS[kind]
    assert row.doc, f"the row of {kind!r} says what it does"
    required = dict.fromkeys(row.required, "http://127.0.0.1:9/")
    for endpoint in ("token", "create", "status", "data", "*"):
        allowed = endpoint in row.endpoints or (endpoint == "*" and len(row.endpoints) == 4)
        if allowed:
            api.faults.add(endpoint, kind, **required)
        else:
            with pytest.raises(ValueError, match="endpoint only"):
                api.faults.add(endpoint, kind, **required)
    assert len(api.faults) == len(row.endpoints) + (len(row.endpoints) == 4)


def test_a_body_fault_damages_an_error_answer_too(
    api: FakeBackstory, session: requests.Session
) -> None:
    api.faults.add("create", "corrupt")
    answer = create(api, session, start_date="2026-01-02", end_date="2026-01-01")
    assert answer.status_code == 400
    assert b"garbage" in answer.content
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.content)
