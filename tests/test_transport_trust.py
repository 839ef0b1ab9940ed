"""What the transport takes from the environment and from api_url (issue 17, items 6-9):
the bearer token is the only credential sent, loopback traffic never goes through a proxy,
api_url is judged with the transport's own parser, and a wrong api_url is named."""

from __future__ import annotations

import base64
import typing as t
import urllib.parse
from pathlib import Path

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError
from urllib3.util import parse_url

from fake_backstory import FakeBackstory, RecordingServer
from tap_backstory_contacts.errors import AuthenticationError, ConfigurationError
from tap_backstory_contacts.tap import TapBackstoryContacts
from tap_backstory_contacts.transport import ApiSession
from tests.conftest import make_config
from tests.singer_run import run_cli, sync

if t.TYPE_CHECKING:
    from collections.abc import Iterator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
NETRC_PASSWORD = "netrc-password-never-sent"
BASE = {"client_id": "c", "client_secret": "long-enough", "start_date": "2026-01-01"}


def clear_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no NO_PROXY from the machine running the tests."""
    for name in (*PROXY_VARIABLES, "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """A recording server that every proxy variable points at."""
    clear_proxy_variables(monkeypatch)
    with RecordingServer() as server:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, server.url)
            monkeypatch.setenv(name.lower(), server.url)
        yield server


def assert_only_bearer_tokens(api: FakeBackstory) -> None:
    """Token requests carry no Authorization header; every API call a token the fake
    issued, as a bearer token."""
    tokens = set(api.tokens)
    assert tokens
    for entry in api.requests:
        authorization = entry.headers.get("Authorization")
        if entry.endpoint == "token":
            assert authorization is None, entry
        else:
            assert authorization is not None, entry
            scheme, _, token = authorization.partition(" ")
            assert (scheme, token in tokens) == ("Bearer", True), entry


# ---- item 6: proxies ----------------------------------------------------------------------


def test_a_loopback_api_url_never_goes_through_a_proxy(
    api: FakeBackstory, config: dict[str, t.Any], proxy: RecordingServer
) -> None:
    out = sync(config)
    assert out.bookmark() == "2026-01-10"
    assert len(out.records) == len(api.expected_records("2026-01-01", "2026-01-10"))
    assert proxy.received == []
    assert api.count("token") == 1


def test_the_connection_check_on_loopback_never_goes_through_a_proxy(
    api: FakeBackstory, config: dict[str, t.Any], proxy: RecordingServer, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, config, "--test")
    assert result.returncode == 0, result.stderr
    assert "Connection test passed" in result.stderr
    assert proxy.received == []
    assert api.count("token") == 1


def test_a_redirect_to_another_loopback_address_does_not_go_through_a_proxy(
    api: FakeBackstory, config: dict[str, t.Any], proxy: RecordingServer
) -> None:
    with RecordingServer({"unexpected": True}) as elsewhere:
        api.faults.add("data", "redirect", times=20, location=f"{elsewhere.url}/moved")
        with pytest.raises(Exception):  # noqa: B017, PT011 (what fails next is not the point)
            sync({**config, "max_retries": 0})
    assert elsewhere.received, "the redirect was followed"
    assert proxy.received == []


def test_https_to_another_host_keeps_the_proxy_variables(
    proxy: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the session decides before connecting (no request leaves this machine)."""
    session = ApiSession()
    remote = "https://api.people.ai/auth/v1/tokens"

    def proxy_for(url: str) -> str | None:
        settings = session.merge_environment_settings(url, {}, None, None, None)
        return requests.utils.select_proxy(url, settings["proxies"])  # what the adapter uses

    assert proxy_for(remote) == proxy.url
    for loopback in ("http://127.0.0.1:9/x", "https://localhost:9/x", "http://[::1]:9/x"):
        assert proxy_for(loopback) is None
    monkeypatch.setenv("NO_PROXY", "people.ai")
    assert proxy_for(remote) is None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/proxy-ca.pem")
    settings = session.merge_environment_settings(remote, {}, None, None, None)
    assert settings["verify"] == "/etc/proxy-ca.pem"


# ---- item 7: one URL parser -----------------------------------------------------------------


def test_a_backslash_url_that_hides_another_host_is_refused(
    api: FakeBackstory, tmp_path: Path
) -> None:
    with RecordingServer() as remote:
        remote_port = int(remote.url.rsplit(":", 1)[1])
        url = f"http://127.0.0.1:{remote_port}\\@127.0.0.1:{api.port}"
        # The parsers disagree: requests (urllib3) would connect to the remote server.
        assert (parse_url(url).port, urllib.parse.urlsplit(url).port) == (remote_port, api.port)
        result = run_cli(tmp_path, make_config(api, api_url=url))
        assert remote.received == []
    assert result.returncode != 0
    assert "api_url:" in result.stderr
    assert "contains a backslash" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize("remote", ["example.com:80", "10.0.0.5:8080", "[2001:db8::1]:443"])
def test_a_backslash_url_to_a_remote_host_is_refused(remote: str) -> None:
    url = f"http://{remote}\\@127.0.0.1:1"
    with pytest.raises(ConfigValidationError, match=r"api_url: .* contains a backslash"):
        TapBackstoryContacts(config={**BASE, "api_url": url})


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw-in-url-1@127.0.0.1:1",
        "https://user:pw-in-url-1@api.people.ai",
        "https://user@api.people.ai",
        "https://@api.people.ai",
        "https://user:pw-in-url-1@with/slash@api.people.ai",
        "https://user:pw-in-url-1#hash@api.people.ai",
        "https://user:pw-in-url-1?q@api.people.ai",
    ],
)
def test_userinfo_in_api_url_is_refused_without_quoting_the_password(url: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        TapBackstoryContacts(config={**BASE, "api_url": url})
    message = str(caught.value)
    assert "api_url: " in message
    assert "holds a user name or password" in message
    assert "pw-in-url-1" not in message


# ---- item 8: the bearer token, whatever the environment holds ----------------------------------


@pytest.fixture
def netrc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder whose ~/.netrc has credentials for the fake's host."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login netrc-user password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NETRC", raising=False)
    return home


def assert_netrc_password_never_sent(api: FakeBackstory) -> None:
    basic = base64.b64encode(f"netrc-user:{NETRC_PASSWORD}".encode()).decode()
    for entry in api.requests:
        assert NETRC_PASSWORD not in str(entry)
        assert basic not in str(entry)


def test_a_netrc_entry_never_replaces_the_bearer_token(
    api: FakeBackstory, config: dict[str, t.Any], netrc_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(netrc_home / ".netrc"))
    out = sync(config)
    assert out.bookmark() == "2026-01-10"
    assert len(out.records) == len(api.expected_records("2026-01-01", "2026-01-10"))
    assert api.count("status", 401) == api.count("data", 401) == api.count("create", 401) == 0
    assert_only_bearer_tokens(api)
    assert_netrc_password_never_sent(api)


def test_the_cli_ignores_the_users_netrc(
    api: FakeBackstory, config: dict[str, t.Any], netrc_home: Path, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert result.output.bookmark() == "2026-01-10"
    assert api.count("data") > 0
    assert_only_bearer_tokens(api)
    assert_netrc_password_never_sent(api)


# ---- item 9: a wrong api_url is named ---------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "complaint"),
    [
        ("?x=1", "has a query"),
        ("/?x=1", "has a query"),
        ("?", "has a query"),
        ("#frag", "has a fragment"),
        ("/#", "has a fragment"),
        ("/a/../b", "has a path the tap does not accept"),
        ("/./", "has a path the tap does not accept"),
        ("//double", "has a path the tap does not accept"),
        ("/a//b", "has a path the tap does not accept"),
        ("/%2e%2e/x", "has a path the tap does not accept"),
        ("/a;b", "has a path the tap does not accept"),
        ("/a b", "contains a space, a control character or a non-ASCII"),
        ("/\tx", "contains a space, a control character or a non-ASCII"),
        ("/bäck", "contains a space, a control character or a non-ASCII"),
    ],
)
def test_a_malformed_api_url_is_refused_before_any_request(
    api: FakeBackstory, tmp_path: Path, suffix: str, complaint: str
) -> None:
    result = run_cli(tmp_path, make_config(api, api_url=api.url + suffix))
    assert result.returncode != 0
    assert f"api_url: '{api.url}" in result.stderr
    assert complaint in result.stderr
    assert api.requests == []


@pytest.mark.parametrize("suffix", ["", "/", "/backstory", "/backstory/v1/", "/a.b/c-d_e~f"])
def test_a_plain_base_path_is_accepted(api: FakeBackstory, suffix: str) -> None:
    TapBackstoryContacts(config={**BASE, "api_url": api.url + suffix})


def test_a_host_name_that_does_not_resolve_fails_at_once_naming_it_and_api_url(
    config: dict[str, t.Any], waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxy_variables(monkeypatch)
    url = "https://api.peopel.invalid"  # .invalid never resolves (RFC 6761)
    with pytest.raises(ConfigurationError) as caught:
        sync({**config, "api_url": url})
    message = str(caught.value)
    assert "The host name 'api.peopel.invalid' of api_url ('https://api.peopel.invalid')" in message
    assert "does not resolve" in message
    assert "Check api_url for a typo" in message
    assert waits == []  # no retry, no backoff


def test_the_cli_names_a_host_that_does_not_resolve(
    config: dict[str, t.Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxy_variables(monkeypatch)
    result = run_cli(tmp_path, {**config, "api_url": "https://api.peopel.invalid"}, timeout=60)
    assert result.returncode == 1
    assert "The host name 'api.peopel.invalid' of api_url" in result.stderr
    assert "retry" not in result.stderr
    assert "may be down" not in result.stderr


def test_a_404_from_the_token_endpoint_names_api_url(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        sync({**config, "api_url": f"{api.url}/wrong"})
    message = str(caught.value)
    assert f"The token endpoint {api.url}/wrong/auth/v1/tokens answered HTTP 404" in message
    assert "Check api_url and its path" in message
    assert (api.count("other"), len(api.requests)) == (1, 1)
