"""The fake API's hostile-server faults over real HTTP: echoed secrets, redirects, stalls,
Retry-After, deflate bombs and over-long records."""

from __future__ import annotations

import threading
import zlib

import orjson
import pytest
import requests

from fake_backstory import FakeBackstory, FakeConfig, RecordingServer
from tests.fake_client import (
    JOBS,
    WINDOW,
    create,
    data,
    get_token,
    parse_json,
    run_job,
    status,
)


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
