"""The start_date/end_date forms the tap accepts, parsed by the tap itself.

Meltano declares these settings `string` and passes them as written: its own `date_iso8601`
parser would turn a typo such as 2026-13-01 into another date. (Bookmarks and ledger windows in
state are always YYYY-MM-DD: ``saved_state.parse_date``.)
"""

from __future__ import annotations

import datetime
import re

from tap_backstory_contacts import clock

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# ISO 8601 date-times as Meltano and SDK taps write them:
# date, 'T' or space, hh:mm[:ss[.fraction]], optional 'Z' or +hh:mm offset.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
# Relative dates, counted back from today's UTC date: 'N days ago' (N whole, 'day' for 1).
_DAYS_AGO = re.compile(r"(\d{1,5}) days? ago", re.IGNORECASE)
_RELATIVE_DAYS = {"today": 0, "yesterday": 1}
#: What start_date/end_date accept, for error messages and docs.
DATE_FORMS = (
    "a date in YYYY-MM-DD form, an ISO 8601 date-time or a relative date "
    "(e.g. 2026-01-01, 2026-01-01T00:00:00Z, 30 days ago, yesterday, today)"
)


def parse_setting_date(value: str, today: datetime.date | None = None) -> datetime.date:
    """The UTC day of a ``start_date``/``end_date`` setting: ``YYYY-MM-DD``, an ISO 8601
    date-time (no zone means UTC), or ``today``, ``yesterday``, ``N days ago`` (counted from
    ``today``, by default today's UTC date); raises ``ValueError`` for anything else.

    Spaces around the value and case are ignored in the relative forms only."""
    problem = ValueError(f"not a date, an ISO 8601 date-time or a relative date: {value!r}")
    words = " ".join(value.split()).lower()
    ago = _DAYS_AGO.fullmatch(words)
    if ago or words in _RELATIVE_DAYS:
        days = int(ago.group(1)) if ago else _RELATIVE_DAYS[words]
        try:
            return (today or clock.utc_today()) - datetime.timedelta(days=days)
        except OverflowError:
            raise problem from None
    is_date = _DATE.fullmatch(value) is not None
    if not is_date and not _DATE_TIME.fullmatch(value):
        raise problem
    # fromisoformat takes at most 6 fraction digits; finer ones cannot change the day.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value).upper().replace("Z", "+00:00")
    try:
        if is_date:
            return datetime.date.fromisoformat(value)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise problem from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.date()
