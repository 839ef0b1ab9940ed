"""The fake's faults of fake_backstory/answers.py (a patched JSON answer, an answer lost after
serving, a hostile integer), which the randomized harness draws: each does what it says."""

from __future__ import annotations

import typing as t

import pytest
import requests

from fake_backstory import FakeBackstory, FakeConfig

JOBS = "/pull/v1/export/contacts/jobs"
WINDOW = {"start_date": "2026-01-01", "end_date": "2026-01-02"}


@pytest.fixture
def api() -> t.Iterator[FakeBackstory]:
    with FakeBackstory(FakeConfig(contacts_per_day=3, polls_queued=0, polls_running=0)) as server:
        yield server


def _token(api: FakeBackstory) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": "test-client"}
    form["client_secret"] = api.config.client_secret
    return requests.post(f"{api.url}/auth/v1/tokens", data=form, timeout=5)


def _auth(api: FakeBackstory) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(api).json()['access_token']}"}


def _create(api: FakeBackstory, **params: str) -> requests.Response:
    return requests.post(
        f"{api.url}{JOBS}", json={**WINDOW, **params}, headers=_auth(api), timeout=5
    )


def test_patch_json_updates_drops_or_replaces_the_answer(api: FakeBackstory) -> None:
    api.faults.add("token", "patch_json", fields={"expires_in": 0}, drop=["token_type"])
    body = _token(api).json()
    assert body["expires_in"] == 0
    assert "token_type" not in body
    assert body["access_token"] in api.tokens
    api.faults.add("token", "patch_json", body="<html>")
    assert _token(api).text == "<html>"


def test_lost_answer_creates_the_job_then_answers_an_error_or_resets(api: FakeBackstory) -> None:
    headers = _auth(api)
    api.faults.add("create", "lost_answer")
    answer = requests.post(f"{api.url}{JOBS}", json=WINDOW, headers=headers, timeout=5)
    assert answer.status_code == 504
    api.faults.add("create", "lost_answer", status=0)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{api.url}{JOBS}", json=WINDOW, headers=headers, timeout=5)
    assert len(api.created_jobs()) == 2


def test_bad_integer_replaces_the_first_total_inbound(api: FakeBackstory) -> None:
    api.config.gzip = "header"
    job = _create(api, output_format="JSON").json()["job_id"]
    headers = _auth(api)
    requests.get(f"{api.url}{JOBS}/{job}", headers=headers, timeout=5)
    api.faults.add("data", "bad_integer", value="1e300")
    answer = requests.get(f"{api.url}{JOBS}/{job}/data", headers=headers, timeout=5)
    values = [r["total_inbound"] for r in answer.json()]
    assert 1e300 in values
    assert answer.headers["Content-Encoding"] == "gzip"  # compressed after the change
