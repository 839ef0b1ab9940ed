"""The one seam for time: every sleep and every clock read in the tap goes through here.

Tests replace ``clock.sleep`` (and, where needed, ``clock.monotonic``/``clock.utc_today``)
to run retries and polls instantly while recording the waits.

A worker thread can make its sleeps cancellable (``cancellable``): when the sync ends
early (an error elsewhere, a signal), the worker wakes at once instead of waiting out a
long ``Retry-After``, which would keep the process alive after the run is over.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator

_local = threading.local()


class CancelledError(Exception):
    """A cancellable wait was cut short because its work is no longer wanted."""


@contextlib.contextmanager
def cancellable(cancel: threading.Event) -> Iterator[None]:
    """Within this block, this thread's sleeps end (raising ``CancelledError``) once
    ``cancel`` is set."""
    previous = getattr(_local, "cancel", None)
    _local.cancel = cancel
    try:
        yield
    finally:
        _local.cancel = previous


def check_cancelled() -> None:
    """Raise ``CancelledError`` if this thread's work has been cancelled."""
    cancel: threading.Event | None = getattr(_local, "cancel", None)
    if cancel is not None and cancel.is_set():
        raise CancelledError


def sleep(seconds: float) -> None:
    """Block the calling thread for ``seconds``, or until its work is cancelled."""
    cancel: threading.Event | None = getattr(_local, "cancel", None)
    if cancel is None:
        if seconds > 0:
            time.sleep(seconds)
    elif cancel.wait(max(seconds, 0.0)):
        raise CancelledError


def monotonic() -> float:
    """Seconds on a monotonic clock, for deadlines and token lifetimes."""
    return time.monotonic()


def utc_today() -> datetime.date:
    """Today's date in UTC."""
    return datetime.datetime.now(datetime.UTC).date()
