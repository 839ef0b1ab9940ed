"""Bounded retries and capped doubling waits, built on the ``backoff`` library's wait generators.

``backoff`` decides the wait sequence (``backoff.expo``, capped, with jitter). The loop that
sleeps is ours because ``backoff``'s own decorators sleep with ``time.sleep`` on the wall
clock: such a wait cannot be cut short when the sync ends (a signal, an error in another
download), and tests could not run it on a virtual clock. Every sleep here goes through
``clock.sleep``, which is cancellable in download threads.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import typing as t
from dataclasses import dataclass

import backoff

from tap_backstory_contacts import clock, logger
from tap_backstory_contacts.errors import RetriesExhaustedError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

T = t.TypeVar("T")
# The longest single wait a server's Retry-After can ask for: a hostile or broken server
# could otherwise park the run (or a download thread) for hours.
MAX_RETRY_AFTER_SECONDS = 120.0


class TransientError(Exception):
    """A failure worth another try: 429, 5xx, a dropped connection, a cut body."""

    def __init__(
        self, reason: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        self.reason = reason
        self.retry_after = retry_after
        self.status = status
        super().__init__(reason)


def equal_jitter(value: float) -> float:
    """Half the wait fixed, half random: spreads clients out, yet never retries at once."""
    return value / 2 + random.uniform(0, value / 2)


def doubling_waits(first: float, largest: float) -> Iterator[float]:
    """``first``, twice that, … capped at ``largest`` (``backoff.expo``, primed)."""
    waits = backoff.expo(base=2, factor=first, max_value=largest)
    next(waits)  # backoff's generators yield a priming 0 first
    return waits


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; every wait and the total are bounded.

    The tries and the total come from the settings (``max_retries`` + 1,
    ``max_retry_seconds``), whose defaults live only in the settings schema.
    """

    max_tries: int
    max_seconds: float
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def waits(self) -> Iterator[float]:
        """The backoff waits for retries 1, 2, …: capped exponential with equal jitter."""
        return map(equal_jitter, doubling_waits(self.initial_wait, self.max_wait))


def honoured_retry_after(seconds: float | None, *, what: str) -> float | None:
    """A server's ``Retry-After``, capped at ``MAX_RETRY_AFTER_SECONDS``."""
    if seconds is None or seconds <= MAX_RETRY_AFTER_SECONDS:
        return seconds
    logger.warning(
        "%s: the server asked to wait %.0fs (Retry-After); waiting %.0fs, the most the tap honours",
        what,
        seconds,
        MAX_RETRY_AFTER_SECONDS,
    )
    return MAX_RETRY_AFTER_SECONDS


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
    action: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    giveup: Callable[[TransientError], bool] = lambda _: False,
) -> T:
    """Run ``action`` until it succeeds, retrying ``TransientError`` within ``policy``.

    A ``TransientError`` for which ``giveup`` is true is raised at once (the caller has its
    own way to wait for it). Raises ``RetriesExhaustedError`` naming ``what``, the tries
    and the last reason.
    """
    started = clock.monotonic()
    waits = policy.waits()
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except TransientError as exc:
            if giveup(exc):
                raise
            elapsed = clock.monotonic() - started
            wait = honoured_retry_after(exc.retry_after, what=what)
            backoff_wait = next(waits)
            if wait is None:
                wait = backoff_wait
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
