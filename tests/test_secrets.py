"""The secret and the bearer token never reach a log line or an error message, whatever a
server sends; the token request never follows a redirect; plain http only on loopback."""

from __future__ import annotations

import logging
import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from fake_backstory import FakeBackstory, RecordingServer
from tap_backstory_contacts import redaction
from tap_backstory_contacts.errors import AuthenticationError
from tap_backstory_contacts.tap import TapBackstoryContacts
from tests.conftest import make_config
from tests.singer_run import run_cli, sync

# Form-encoded, JSON-escaped and repr'd differently from its raw text.
SECRET = 's3cr&t/Zq9+"unique"=value'
DEBUG = {"TAP_BACKSTORY_CONTACTS_LOGLEVEL": "DEBUG"}


@pytest.mark.parametrize("plain", [False, True], ids=["json", "text"])
@pytest.mark.parametrize(
    ("endpoint", "opts"),
    [("token", {}), ("create", {}), ("status", {}), ("data", {"fragment": 0})],
)
def test_echoed_secret_and_token_are_redacted_from_every_line(
    api: FakeBackstory, tmp_path: Path, endpoint: str, opts: dict[str, t.Any], plain: bool
) -> None:
    api.config.client_secret = SECRET
    # Retried at once (Retry-After: 0) for an INFO retry line, then the ERROR line; DEBUG
    # adds the tracebacks and urllib3's lines.
    api.faults.add(endpoint, "echo", times=2, status=503, retry_after=0, plain=plain, **opts)
    result = run_cli(tmp_path, make_config(api, client_secret=SECRET, max_retries=1), env=DEBUG)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert api.count(endpoint, 503) == 2
    assert "; retry 1 of 1 in 0.0s" in result.stderr
    assert "Traceback" in result.stderr
    label = "<client_secret>" if endpoint == "token" else "<bearer token>"
    assert "Cannot process" in result.stderr
    assert label in result.stderr
    for value in (SECRET, "s3cr%26t%2FZq9%2B%22unique%22%3Dvalue", "Zq9"):
        assert value not in output
    assert (endpoint == "token") == (api.tokens == [])
    for token in api.tokens:
        assert token not in output
        assert token.split(".")[2] not in output  # not even the signature part


def test_echoed_secrets_are_redacted_in_process_too(
    api: FakeBackstory, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.config.client_secret = SECRET
    api.faults.add("token", "echo", times=9, plain=True)
    with pytest.raises(Exception, match="Token request failed after") as caught:
        sync(make_config(api, client_secret=SECRET, max_retries=3))
    assert len(waits) == 3
    assert "<client_secret>" in str(caught.value)
    assert "Zq9" not in str(caught.value)
    assert "Zq9" not in caplog.text
    assert "<client_secret>" in caplog.text


def test_a_short_secret_does_not_garble_config_errors(api: FakeBackstory) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapBackstoryContacts(config=make_config(api, client_secret="b", poll_interval_seconds="1"))
    assert "'1' is not of type 'number', 'null' in config['poll_interval_seconds']" in str(
        caught.value
    )
    assert "<client_secret>" not in str(caught.value)


def test_a_secret_pasted_into_another_setting_is_redacted(api: FakeBackstory) -> None:
    secret = "pasted-secret-value-42"
    config = make_config(api, client_secret=secret, country=7, output_format=secret)
    with pytest.raises(ConfigValidationError) as caught:
        TapBackstoryContacts(config=config)
    message = str(caught.value)
    assert "'<client_secret>' is not one of ['JSON', 'CSV'] in config['output_format']" in message
    assert "7 is not of type 'string', 'null' in config['country']" in message
    assert secret not in message


@pytest.mark.parametrize(
    ("secret", "text", "expected"),
    [
        ("abc123", "x=abc123&y", "x=<s>&y"),
        ("abc123", "xabc123 abc1234", "xabc123 abc1234"),  # only whole occurrences
        ("abc", "abc abcd", "abc abcd"),  # too short to mean anything
        ("a b+c/d", "a+b%2Bc%2Fd and a%20b%2Bc%2Fd and 'a b+c/d'", "<s> and <s> and '<s>'"),
        ('q"uo\\te', 'json: "q\\"uo\\\\te"', 'json: "<s>"'),
    ],
)
def test_redaction_replaces_whole_occurrences_in_every_encoding(
    secret: str, text: str, expected: str
) -> None:
    redaction.register(secret, "s")
    assert redaction.redact(text) == expected


def test_a_redirect_on_the_token_request_is_an_error_and_sends_nothing_elsewhere(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    with RecordingServer() as elsewhere:
        api.faults.add("token", "redirect", times=5, location=f"{elsewhere.url}/auth/v1/tokens")
        with pytest.raises(
            AuthenticationError, match=r"answered HTTP 307 \(a redirect to"
        ) as caught:
            sync(config)
    assert elsewhere.received == []
    assert "never sends client_secret to another address" in str(caught.value)
    assert (api.count("token"), api.count("create")) == (1, 0)


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "http://10.0.0.5:8080/", "http://127.0.0.1.example.com", "HTTP://a.b"],
)
def test_plain_http_to_another_host_is_refused_before_any_request(url: str) -> None:
    config = {"client_id": "c", "client_secret": "long-enough", "start_date": "2026-01-01"}
    with pytest.raises(ConfigValidationError, match="plain http to another host"):
        TapBackstoryContacts(config={**config, "api_url": url})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1",
        "http://127.8.9.10:1",
        "http://[::1]:1",
        "http://localhost:1",
        "https://example.com",
    ],
)
def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    config = {"client_id": "c", "client_secret": "long-enough", "start_date": "2026-01-01"}
    TapBackstoryContacts(config={**config, "api_url": url})  # no request is made here


@pytest.mark.parametrize("endpoint", ["status", "data"])
def test_a_redirected_api_call_does_not_carry_the_bearer_token_elsewhere(
    api: FakeBackstory, config: dict[str, t.Any], endpoint: str
) -> None:
    with RecordingServer({"unexpected": True}) as elsewhere:
        api.faults.add(endpoint, "redirect", times=20, location=f"{elsewhere.url}/moved")
        with pytest.raises(Exception):  # noqa: B017, PT011 (what fails next is not the point)
            sync({**config, "max_retries": 0})
    assert elsewhere.received, "the redirect was followed"
    tokens = api.tokens
    assert tokens
    for received in elsewhere.received:
        assert "Authorization" not in received.headers
        assert not any(token in str(received) for token in tokens)
