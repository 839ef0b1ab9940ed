"""Progress logs: one line per window done (records, rate, windows left, ETA) and one per run."""

from __future__ import annotations

import time
import typing as t

from tap_backstory_contacts import logger

if t.TYPE_CHECKING:
    from tap_backstory_contacts.windows import Window


class Progress:
    """Counts records and windows of one sync and logs how it is going."""

    def __init__(self) -> None:
        self._started = self._window_started = time.monotonic()
        self._records = 0
        self._windows = 0

    def window_started(self) -> None:
        """The next window begins now."""
        self._window_started = time.monotonic()

    def window_done(self, window: Window, records: int, windows_left: int) -> None:
        """Log the window's figures and the run's estimated time remaining."""
        now = time.monotonic()
        self._records += records
        self._windows += 1
        elapsed = now - self._window_started
        eta = (now - self._started) / self._windows * windows_left
        logger.info(
            "Window %s done: %d record(s) in %.1fs (%.0f records/s); %d window(s) left%s",
            window,
            records,
            elapsed,
            records / elapsed if elapsed > 0 else 0.0,
            windows_left,
            f", about {eta:.0f}s remaining" if windows_left else "",
        )

    def finished(self) -> None:
        """Log the run's totals."""
        logger.info(
            "Exported %d record(s) in %d window(s) in %.1fs",
            self._records,
            self._windows,
            time.monotonic() - self._started,
        )
