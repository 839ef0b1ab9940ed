"""OAuth 2.0 client-credentials token: fetched once, shared by all threads, renewed early."""

from __future__ import annotations

import contextlib
import math
import re
import threading
import typing as t
from dataclasses import dataclass

from tap_backstory_contacts import clock, redaction
from tap_backstory_contacts.errors import AuthenticationError

if t.TYPE_CHECKING:
    import requests

TOKEN_PATH = "/auth/v1/tokens"  # noqa: S105 (a path, not a password)
# Renew this long before expiry (capped at a tenth of the lifetime for short-lived tokens),
# so that a request never leaves with a token that expires in flight.
RENEW_MARGIN_SECONDS = 60.0
# The docs give 7200 s; used only when a token answer has no expires_in (or null).
DEFAULT_LIFETIME_SECONDS = 3600.0
# The shortest lifetime accepted (expires_in counts whole seconds): a token that expires
# sooner cannot outlive the request that uses it, and 0 or less would mean a token request
# before every API call.
MIN_LIFETIME_SECONDS = 1.0
# Longer lifetimes are used as this long: renewing early is always safe, and a daily token
# request is nothing; a server's absurd figure (1e300) never leaves a token unrenewed.
MAX_LIFETIME_SECONDS = 86400.0
# A bearer token is sent in a header: visible ASCII only (RFC 6750's b64token is narrower).
_TOKEN_CHARACTERS = re.compile(r"[!-~]+")


@dataclass(slots=True)
class _Token:
    value: str
    renew_at: float


class TokenProvider:
    """Hands out a valid bearer token; thread-safe; one token request at a time."""

    def __init__(
        self,
        *,
        fetch: t.Callable[[dict[str, str]], requests.Response],
        client_id: str,
        client_secret: str,
        endpoint: str,
    ) -> None:
        """Fetch tokens from ``endpoint`` (the full URL, named in errors) through ``fetch``."""
        self._fetch = fetch
        self._client_id = client_id
        self._client_secret = client_secret
        self._endpoint = endpoint
        redaction.register(client_secret, "client_secret")
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """A token that is valid for a while yet, fetching a new one if needed."""
        with self._lock:
            if self._token is None or clock.monotonic() >= self._token.renew_at:
                self._token = self._request_token()
            return self._token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` (the API answered 401 to it) unless it was already replaced."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _request_token(self) -> _Token:
        requested_at = clock.monotonic()
        response = self._fetch(
            {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            }
        )
        endpoint = self._endpoint
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location") or "no Location header"
            raise AuthenticationError(
                f"The token endpoint {endpoint} answered HTTP {status} "
                f"(a redirect to {redaction.redact(location)[:200]}). The tap never sends "
                "client_secret to another address: set api_url to the API's own address "
                "(https://api.people.ai, or your proxy's final address)."
            )
        if status in (400, 401, 403):
            raise AuthenticationError(
                f"Backstory refused the credentials for client_id '{self._client_id}' "
                f"(HTTP {status} from {endpoint}). Check client_id and client_secret, and "
                "that the key is an Object API key that is not paused or revoked "
                "(Settings > API Key Management)."
            )
        if status in (404, 405):
            raise AuthenticationError(
                f"The token endpoint {endpoint} answered HTTP {status} (no such endpoint "
                "there): api_url must be the API's base address, https://api.people.ai, or "
                "that of a proxy that forwards /auth/v1/tokens. Check api_url and its path."
            )
        if status != 200:
            raise AuthenticationError(
                f"Token request for client_id '{self._client_id}' to {endpoint} failed: "
                f"HTTP {status}."
            )
        value, lifetime = _token_answer(response, endpoint)
        redaction.register_token(value)
        margin = min(RENEW_MARGIN_SECONDS, lifetime / 10)
        return _Token(value=value, renew_at=requested_at + lifetime - margin)


def _token_answer(response: requests.Response, endpoint: str) -> tuple[str, float]:
    """The token and its lifetime in seconds from a 200 answer; a clear error naming
    ``endpoint`` for anything else (the token itself is never quoted)."""
    problem = f"The token endpoint {endpoint} answered HTTP 200, but"
    advice = (
        "api_url must point at the Backstory API (or a proxy that passes its answers "
        "through unchanged)."
    )
    try:
        body = response.json()
    except ValueError:
        raise AuthenticationError(f"{problem} not with JSON. {advice}") from None
    if not isinstance(body, dict):
        raise AuthenticationError(
            f"{problem} with a JSON {type(body).__name__}, not an object. {advice}"
        )
    value = body.get("access_token")
    if not isinstance(value, str) or not _TOKEN_CHARACTERS.fullmatch(value):
        what = (
            "no access_token"
            if value is None
            else f"an access_token that is {_describe_token(value)}, not a non-empty token"
        )
        raise AuthenticationError(f"{problem} with {what}. {advice}")
    return value, _lifetime(body.get("expires_in"), problem)


def _describe_token(value: object) -> str:
    if not isinstance(value, str):
        return f"a JSON {type(value).__name__}"
    return "empty" if not value else "text with spaces, control or non-ASCII characters"


def _lifetime(expires_in: object, problem: str) -> float:
    """Seconds the token lives: ``expires_in`` (a number, or a number in a string) of at
    least MIN_LIFETIME_SECONDS, used up to MAX_LIFETIME_SECONDS; missing or null means
    DEFAULT_LIFETIME_SECONDS."""
    if expires_in is None:
        return DEFAULT_LIFETIME_SECONDS
    seconds = math.nan
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        seconds = float(expires_in)
    elif isinstance(expires_in, str):
        with contextlib.suppress(ValueError):
            seconds = float(expires_in)
    if not math.isfinite(seconds) or seconds < MIN_LIFETIME_SECONDS:
        shown = repr(expires_in) if len(repr(expires_in)) <= 40 else repr(expires_in)[:40] + "…"
        raise AuthenticationError(
            f"{problem} its expires_in {shown} is not a token lifetime of at least "
            f"{MIN_LIFETIME_SECONDS:.0f} s. The tap needs a positive number of seconds; "
            "check api_url, or report the answer to Backstory support."
        )
    return min(seconds, MAX_LIFETIME_SECONDS)
