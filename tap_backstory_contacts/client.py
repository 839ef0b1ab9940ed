"""HTTP access to the Backstory API: bearer auth, retries, and errors with context."""

from __future__ import annotations

import threading
import typing as t

import requests

from tap_backstory_contacts import logger, redaction
from tap_backstory_contacts.api_url import api_url_problem
from tap_backstory_contacts.auth import TOKEN_PATH, TokenProvider
from tap_backstory_contacts.errors import ApiError, ConfigurationError, TapBackstoryError
from tap_backstory_contacts.retry import (
    RetryPolicy,
    TransientError,
    call_with_retries,
    parse_retry_after,
)
from tap_backstory_contacts.transport import (
    ApiSession,
    BearerAuth,
    connection_failure,
    unresolved_host,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_backstory_contacts.settings import Settings

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECT_TIMEOUT_SECONDS = 15.0
# The longest silence while reading an answer (requests' read timeout is per read, so this
# is an idle timeout): a stalled body becomes a retryable failure, not a hung run.
IDLE_READ_TIMEOUT_SECONDS = 60.0


def server_message(response: requests.Response) -> str:
    """The server's error text, from either documented envelope or plain text; secrets it
    echoes are redacted (before truncation, so that none is cut into an unknown prefix)."""
    try:
        body = response.json()
    except ValueError:
        text = redaction.redact(response.text.strip())
        return text[:500] or response.reason or "no message"
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("error", "code", "message") if body.get(key)]
        if parts:
            return redaction.redact(": ".join(parts))[:500]
    return redaction.redact(str(body))[:500]


class BackstoryClient:
    """One per sync; safe to share between download threads (a session per thread)."""

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        policy: RetryPolicy,
    ) -> None:
        problem = api_url_problem(api_url)
        if problem:  # the tap validated it; a client built otherwise gets the same check
            raise ConfigurationError(problem)
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        # Whether the API's host has answered once: until then, a name that does not
        # resolve is a wrong api_url, not a network blip worth retrying.
        self._reached = False
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self.auth = TokenProvider(
            fetch=self._post_token_form,
            client_id=client_id,
            client_secret=client_secret,
            endpoint=f"{self.api_url}{TOKEN_PATH}",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> BackstoryClient:
        """A client for the tap's settings, retrying as configured."""
        return cls(
            api_url=settings.api_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            policy=settings.retry_policy,
        )

    def close(self) -> None:
        """Close every thread's session."""
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def get_json(self, path: str, *, what: str) -> dict[str, t.Any]:
        """GET ``path`` and return its JSON object, retrying transient failures."""
        with call_with_retries(
            lambda: self.exchange("GET", path, what=what), what=what, policy=self.policy
        ) as response:
            return _json_object(response, what)

    def post_json(
        self,
        path: str,
        body: dict[str, t.Any],
        *,
        what: str,
        giveup: Callable[[TransientError], bool] = lambda _: False,
    ) -> dict[str, t.Any]:
        """POST ``body`` as JSON and return the JSON object answered, retrying transient
        failures unless ``giveup`` says the caller handles that one itself."""
        # A redirect is not followed: requests would re-send the POST, which creates a job
        # (not idempotent), to the new address.
        with call_with_retries(
            lambda: self.exchange("POST", path, what=what, json=body, allow_redirects=False),
            what=what,
            policy=self.policy,
            giveup=giveup,
        ) as response:
            return _json_object(response, what)

    def exchange(self, method: str, path: str, *, what: str, **kwargs: t.Any) -> requests.Response:
        """One authenticated request, renewing the token once if the API answers 401.

        Returns a 2xx response (the caller closes it); raises ``TransientError`` for 429,
        5xx and broken connections, ``ApiError`` for any other status. The renewal is not
        a retry: a token may expire between two requests.
        """
        token = self.auth.token()
        response = self._send(method, path, token=token, **kwargs)
        if response.status_code == 401:
            response.close()
            self.auth.invalidate(token)
            logger.info("%s: HTTP 401, token renewed; retry 1 of 1 now", what)
            response = self._send(method, path, token=self.auth.token(), **kwargs)
        if response.status_code >= 300:
            raise _refused(response, what)
        return response

    def _post_token_form(self, form: dict[str, str]) -> requests.Response:
        def attempt() -> requests.Response:
            # Never follow a redirect with client_secret in the body (auth.py explains).
            response = self._send("POST", TOKEN_PATH, data=form, allow_redirects=False)
            # Read the small body now so the connection is released back to the pool.
            _ = response.content
            return response

        return call_with_retries(attempt, what="Token request", policy=self.policy)

    def _send(
        self, method: str, path: str, *, token: str | None = None, **kwargs: t.Any
    ) -> requests.Response:
        """One HTTP exchange carrying ``token`` as its only credential (none without one);
        429, 5xx and broken connections become ``TransientError``."""
        try:
            response = self._session().request(
                method,
                f"{self.api_url}{path}",
                auth=BearerAuth(token),
                timeout=(CONNECT_TIMEOUT_SECONDS, IDLE_READ_TIMEOUT_SECONDS),
                **kwargs,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            unresolved = unresolved_host(exc)
            if unresolved is not None and not self._reached:
                raise ConfigurationError(
                    f"The host name '{unresolved.host}' of api_url ('{self.api_url}') does "
                    f"not resolve ({unresolved.reason}). Check api_url for a typo, and that "
                    "this machine can resolve host names (its DNS settings)."
                ) from None
            raise TransientError(connection_failure(exc)) from exc
        except requests.exceptions.ChunkedEncodingError as exc:  # the body was cut short
            raise TransientError(f"the connection dropped mid-answer: {str(exc)[:200]}") from exc
        self._reached = True
        if response.status_code in RETRYABLE_STATUSES:
            reason = f"HTTP {response.status_code}: {server_message(response)}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
            raise TransientError(reason, retry_after=retry_after, status=response.status_code)
        return response

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = ApiSession()
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session


def _refused(response: requests.Response, what: str) -> ApiError:
    """The error for a final answer that is not 2xx (after a token renewal, for a 401)."""
    message = server_message(response)
    if response.is_redirect:  # only a POST's: requests follows the others
        location = redaction.redact(response.headers.get("Location", ""))[:200]
        message = (
            f"a redirect to {location!r}, not followed: the tap never re-sends a request "
            "that creates an export job to another address. Check api_url"
        )
    elif response.status_code == 401:
        message += (
            " (even with a new token: check that the key is an Object API key that is not "
            "paused or revoked)"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    response.close()
    return ApiError(what, response.status_code, message, retry_after)


def _json_object(response: requests.Response, what: str) -> dict[str, t.Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TapBackstoryError(
            f"{what}: the API answered HTTP {response.status_code} with a body that is not "
            f"JSON: {redaction.redact(response.text)[:200]!r}"
        ) from exc
    if not isinstance(body, dict):
        raise TapBackstoryError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body
