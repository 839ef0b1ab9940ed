"""Date windows: which UTC days a sync covers and how they split into export jobs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from typing_extensions import override

from tap_backstory_contacts import clock

ONE_DAY = datetime.timedelta(days=1)
#: The earliest start_date or end_date accepted: no export holds older data, and a year
#: typed wrong (0026 for 2026) would otherwise plan tens of thousands of export jobs.
EARLIEST_DAY = datetime.date(1970, 1, 1)


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


def date_range_error(name: str, day: datetime.date) -> str | None:
    """Why the ``start_date`` or ``end_date`` setting ``day`` cannot be meant, if it cannot:
    before 1970, or (for start_date) after today, when no run would ever extract a day."""
    if day < EARLIEST_DAY:
        return (
            f"{name}: {day} is before {EARLIEST_DAY}, the earliest date the tap accepts; "
            "check the year"
        )
    today = clock.utc_today()
    if name == "start_date" and day > today:
        return (
            f"{name}: {day} is in the future (today is {today} UTC): every run would extract "
            "nothing until then. Check the year; a start_date of today begins extracting "
            "with today's data tomorrow."
        )
    return None


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
