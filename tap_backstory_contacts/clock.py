"""The one seam for time: every sleep and every clock read in the tap goes through here.

Tests replace ``clock.sleep`` (and, where needed, ``clock.monotonic``/``clock.utc_today``)
to run retries and polls instantly while recording the waits.
"""

from __future__ import annotations

import datetime
import time


def sleep(seconds: float) -> None:
    """Block the calling thread for ``seconds``."""
    if seconds > 0:
        time.sleep(seconds)


def monotonic() -> float:
    """Seconds on a monotonic clock, for deadlines and token lifetimes."""
    return time.monotonic()


def utc_today() -> datetime.date:
    """Today's date in UTC."""
    return datetime.datetime.now(datetime.UTC).date()
