"""Date windows: which UTC days a sync covers and how they split into export jobs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from typing_extensions import override

ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """An inclusive range of whole UTC days, as sent in one export job."""

    start: datetime.date
    end: datetime.date

    @property
    def days(self) -> int:
        """Number of days covered, both ends included."""
        return (self.end - self.start).days + 1

    @override
    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def last_complete_day(today: datetime.date) -> datetime.date:
    """The newest UTC day whose data is final: yesterday."""
    return today - ONE_DAY


def sync_range(
    *,
    start_date: datetime.date,
    end_date: datetime.date | None,
    bookmark: datetime.date | None,
    lookback_days: int,
    today: datetime.date,
) -> Window | None:
    """The days this run extracts, or ``None`` when the stream is up to date.

    Starts the day after the bookmark (or at ``start_date`` on a first run), goes back
    ``lookback_days`` but never before ``start_date``, and ends at ``end_date`` or
    yesterday, whichever is earlier.
    """
    first = start_date if bookmark is None else bookmark + ONE_DAY
    first = max(start_date, first - datetime.timedelta(days=lookback_days))
    last = last_complete_day(today)
    if end_date is not None:
        last = min(last, end_date)
    if first > last:
        return None
    return Window(first, last)


def split(days: Window, window_days: int) -> list[Window]:
    """Consecutive windows of at most ``window_days`` days covering ``days``."""
    windows = []
    start = days.start
    step = datetime.timedelta(days=window_days - 1)
    while start <= days.end:
        end = min(start + step, days.end)
        windows.append(Window(start, end))
        start = end + ONE_DAY
    return windows
