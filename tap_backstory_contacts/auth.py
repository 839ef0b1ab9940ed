"""OAuth 2.0 client-credentials token: fetched once, shared by all threads, renewed early."""

from __future__ import annotations

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
# The docs give 7200 s; used only when a token response has no expires_in.
DEFAULT_LIFETIME_SECONDS = 3600.0


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
    ) -> None:
        self._fetch = fetch
        self._client_id = client_id
        self._client_secret = client_secret
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
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location") or "no Location header"
            raise AuthenticationError(
                f"The token endpoint {TOKEN_PATH} answered HTTP {response.status_code} "
                f"(a redirect to {redaction.redact(location)[:200]}). The tap never sends "
                "client_secret to another address: set api_url to the API's own address "
                "(https://api.people.ai, or your proxy's final address)."
            )
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"Backstory refused the credentials for client_id '{self._client_id}' "
                f"(HTTP {response.status_code} from {TOKEN_PATH}). Check client_id and "
                "client_secret, and that the key is an Object API key that is not paused "
                "or revoked (Settings > API Key Management)."
            )
        if response.status_code != 200:
            raise AuthenticationError(
                f"Token request for client_id '{self._client_id}' failed: "
                f"HTTP {response.status_code}."
            )
        try:
            body = response.json()
            value = body["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError(
                f"Token response for client_id '{self._client_id}' has no access_token."
            ) from exc
        redaction.register(value, "bearer token")
        lifetime = _lifetime(body.get("expires_in"))
        margin = min(RENEW_MARGIN_SECONDS, lifetime / 10)
        return _Token(value=str(value), renew_at=requested_at + lifetime - margin)


def _lifetime(expires_in: object) -> float:
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        return max(float(expires_in), 0.0)
    if isinstance(expires_in, str):
        try:
            return max(float(expires_in), 0.0)
        except ValueError:
            pass
    return DEFAULT_LIFETIME_SECONDS
