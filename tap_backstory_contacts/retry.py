"""Bounded retries with capped exponential backoff, jitter and ``Retry-After``."""

from __future__ import annotations

import datetime
import email.utils
import logging
import random
import typing as t
from dataclasses import dataclass

from tap_backstory_contacts import clock
from tap_backstory_contacts.errors import RetriesExhaustedError

T = t.TypeVar("T")
logger = logging.getLogger("tap-backstory-contacts")


class TransientError(Exception):
    """A failure worth another try: 429, 5xx, a dropped connection, a cut body."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; every wait and the total are bounded."""

    max_tries: int = 8
    max_seconds: float = 600.0
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Capped exponential wait with equal jitter for the n-th retry (1-based)."""
        ceiling = min(self.max_wait, self.initial_wait * 2.0 ** (retry_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def call_with_retries(
    action: t.Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    on_retry: t.Callable[[], None] | None = None,
) -> T:
    """Run ``action`` until it succeeds, retrying ``TransientError`` within ``policy``.

    Raises ``RetriesExhaustedError`` naming ``what``, the tries and the last reason.
    """
    started = clock.monotonic()
    for attempt in range(1, policy.max_tries + 1):
        try:
            return action()
        except TransientError as exc:
            elapsed = clock.monotonic() - started
            wait = policy.backoff(attempt)
            if exc.retry_after is not None:
                wait = exc.retry_after
            if attempt >= policy.max_tries or elapsed + wait > policy.max_seconds:
                raise RetriesExhaustedError(
                    f"{what} failed after {attempt} tries over {elapsed:.0f}s: {exc.reason}. "
                    "The API may be down or rate limiting; raise max_retries or "
                    "max_retry_seconds, or try again later."
                ) from exc
            logger.info(
                "%s: %s; retry %d of %d in %.1fs",
                what,
                exc.reason,
                attempt,
                policy.max_tries - 1,
                wait,
            )
            clock.sleep(wait)
            if on_retry is not None:
                on_retry()
    raise AssertionError("unreachable")  # pragma: no cover
