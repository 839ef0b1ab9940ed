"""The fake API itself over real HTTP: tokens, the job lifecycle, request validation and
odd job ids."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import requests

from fake_backstory import FakeBackstory, FakeConfig
from tests.fake_client import (
    JOBS,
    WINDOW,
    authed_session,
    create,
    data,
    get_token,
    run_job,
    status,
)


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
