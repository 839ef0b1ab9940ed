"""Window planning: ranges from start_date/bookmark/lookback, capped at yesterday, split."""

from __future__ import annotations

import datetime

import pytest

from tap_backstory_contacts.windows import Window, split, sync_range

D = datetime.date
TODAY = D(2026, 3, 10)


def test_first_run_starts_at_start_date_and_ends_yesterday() -> None:
    days = sync_range(
        start_date=D(2026, 3, 1), end_date=None, bookmark=None, lookback_days=0, today=TODAY
    )
    assert days == Window(D(2026, 3, 1), D(2026, 3, 9))


def test_end_date_in_the_future_is_capped_to_yesterday() -> None:
    days = sync_range(
        start_date=D(2026, 3, 1),
        end_date=D(2026, 4, 1),
        bookmark=None,
        lookback_days=0,
        today=TODAY,
    )
    assert days == Window(D(2026, 3, 1), D(2026, 3, 9))


def test_later_run_starts_the_day_after_the_bookmark() -> None:
    days = sync_range(
        start_date=D(2026, 1, 1),
        end_date=None,
        bookmark=D(2026, 3, 5),
        lookback_days=0,
        today=TODAY,
    )
    assert days == Window(D(2026, 3, 6), D(2026, 3, 9))


def test_lookback_goes_back_but_never_before_start_date() -> None:
    back = sync_range(
        start_date=D(2026, 1, 1),
        end_date=None,
        bookmark=D(2026, 3, 5),
        lookback_days=3,
        today=TODAY,
    )
    assert back == Window(D(2026, 3, 3), D(2026, 3, 9))
    clamped = sync_range(
        start_date=D(2026, 3, 4),
        end_date=None,
        bookmark=D(2026, 3, 5),
        lookback_days=30,
        today=TODAY,
    )
    assert clamped == Window(D(2026, 3, 4), D(2026, 3, 9))


@pytest.mark.parametrize("bookmark", [D(2026, 3, 9), D(2026, 3, 20)])
def test_up_to_date_when_bookmark_reached_yesterday(bookmark: datetime.date) -> None:
    assert (
        sync_range(
            start_date=D(2026, 1, 1), end_date=None, bookmark=bookmark, lookback_days=0, today=TODAY
        )
        is None
    )


def test_split_covers_every_day_once_in_order() -> None:
    windows = split(Window(D(2026, 1, 1), D(2026, 1, 31)), 14)
    assert windows == [
        Window(D(2026, 1, 1), D(2026, 1, 14)),
        Window(D(2026, 1, 15), D(2026, 1, 28)),
        Window(D(2026, 1, 29), D(2026, 1, 31)),
    ]
    assert sum(w.days for w in windows) == 31
