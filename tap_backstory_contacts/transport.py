"""The HTTP session: only the bearer token as a credential, proxies only off this machine.

requests, left to read the environment (``trust_env``), would replace the bearer token with
Basic auth from a ``~/.netrc`` entry for the API host (and send that password to the API),
and would send plain-http loopback traffic (the token form, client_secret included) through
``HTTP_PROXY``: there is no implicit NO_PROXY for 127.0.0.1. So the session reads nothing
from the environment by itself; ``ApiSession`` applies the two parts users rely on, per
URL: the proxy variables for hosts other than this machine, and ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` for verifying TLS.
"""

from __future__ import annotations

import os
import socket
import typing as t

import requests
from requests.utils import get_environ_proxies
from typing_extensions import override

from tap_backstory_contacts.api_url import host_of, is_loopback

if t.TYPE_CHECKING:
    from collections.abc import MutableMapping

    from requests import PreparedRequest
    from requests.sessions import _Settings  # the stubs' name for what this returns

USER_AGENT = "tap-backstory-contacts"


def proxies_for(url: str) -> dict[str, str]:
    """The proxies the environment sets for ``url``: none for this machine, else
    ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` as ``NO_PROXY`` allows."""
    if is_loopback(host_of(url)):
        return {}
    return get_environ_proxies(url)


class ApiSession(requests.Session):
    """A session that never takes a credential from the environment (no netrc)."""

    def __init__(self) -> None:
        """A session with the tap's User-Agent that reads no environment by itself."""
        super().__init__()
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT

    @override
    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: bool | str | None,
        cert: str | tuple[str, str] | None,
    ) -> _Settings:
        """The request's settings, with the proxies and CA bundle the environment sets."""
        if verify is True or verify is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            verify = bundle or True
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else url or ""
        settings["proxies"] = {**proxies_for(text), **settings["proxies"]}
        return settings

    @override
    def rebuild_proxies(
        self, prepared_request: PreparedRequest, proxies: MutableMapping[str, str] | None
    ) -> dict[str, str]:
        """On a redirect: the proxies for the new URL (none if it is on this machine)."""
        new_proxies = proxies_for(prepared_request.url or "")
        # requests' own step also sets or drops Proxy-Authorization for the new proxy.
        rebuilt = super().rebuild_proxies(prepared_request, new_proxies)  # type: ignore[no-untyped-call]
        return t.cast("dict[str, str]", rebuilt)


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``, or no Authorization header at all (``None``).

    Passed as ``auth=`` so that requests never substitutes other credentials, such as a
    ``user:pass@`` part of a URL.
    """

    def __init__(self, token: str | None) -> None:
        """Authorize with ``token`` (None: send no credentials)."""
        self.token = token

    @override
    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Set (or remove) the Authorization header."""
        if self.token is None:
            request.headers.pop("Authorization", None)
        else:
            request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class UnresolvedHost(t.NamedTuple):
    """A host name that did not resolve, and the resolver's words."""

    host: str
    reason: str


def unresolved_host(exc: BaseException) -> UnresolvedHost | None:
    """The host whose name did not resolve, if that is what ``exc`` (a requests
    ConnectionError) reports; None for any other failure, or a proxy's name."""
    if isinstance(exc, requests.exceptions.ProxyError):
        return None
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            request = getattr(exc, "request", None)
            host = host_of(getattr(request, "url", None) or "") or "the API host"
            return UnresolvedHost(host, str(current))
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += [arg for arg in current.args if isinstance(arg, BaseException)]
    return None


def connection_failure(exc: BaseException) -> str:
    """``exc``'s type and its innermost reason (urllib3 wraps the reason in text long enough
    that cutting it would cut off the cause)."""
    return f"{type(exc).__name__}: {innermost_reason(exc)}"


def innermost_reason(exc: BaseException) -> str:
    """The text of the innermost reason of a requests/urllib3 connection error."""
    reason: BaseException = exc
    while True:
        inner = getattr(reason, "reason", None)
        if isinstance(inner, BaseException):
            reason = inner
        elif reason.args and isinstance(reason.args[0], BaseException):
            reason = reason.args[0]
        else:
            break
    text = str(reason)
    # urllib3 prefixes the connection object's repr: "<HTTPConnection object at 0x…>: …".
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text if len(text) <= 300 else text[:300] + "…"
