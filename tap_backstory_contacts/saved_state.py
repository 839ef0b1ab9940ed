"""The stream's saved state: the bookmark, read defensively and advanced per window.

A malformed shape or value in the state handed in is a WARNING and a fresh start at
``start_date`` (records already loaded are extracted again), never a crash and never a
silent skip. (The job ledger, the other part of the stream's state, is ``jobs.ledger``.)
"""

from __future__ import annotations

import datetime
import typing as t

from tap_backstory_contacts import logger
from tap_backstory_contacts.windows import last_complete_day

if t.TYPE_CHECKING:
    from tap_backstory_contacts.windows import Window


REPLICATION_KEY = "export_end_date"
_FRESH_START = "starting at start_date (records already loaded are extracted again)"


def readable_state(state: object) -> dict[str, t.Any]:
    """``state`` without the parts the SDK cannot load (it expects objects all the way down
    to each stream's state); each part dropped is logged as a WARNING."""
    if not state:
        return {}
    if not isinstance(state, dict):
        logger.warning(
            "The state is a JSON %s, not an object; ignoring it and %s",
            _json_type(state),
            _FRESH_START,
        )
        return {}
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        logger.warning(
            "The state's 'bookmarks' is a JSON %s, not an object; ignoring it and %s",
            _json_type(bookmarks),
            _FRESH_START,
        )
        return {key: value for key, value in state.items() if key != "bookmarks"}
    readable = {}
    for stream, stream_state in bookmarks.items():
        if isinstance(stream_state, dict):
            readable[stream] = stream_state
        else:
            logger.warning(
                "The state of stream '%s' is a JSON %s, not an object; ignoring it and %s",
                stream,
                _json_type(stream_state),
                _FRESH_START,
            )
    return {**state, "bookmarks": readable}


def read_bookmark(
    state: dict[str, t.Any], *, start_date: datetime.date, today: datetime.date
) -> datetime.date | None:
    """The bookmark to continue after, or None to start at ``start_date``.

    A bookmark that is unreadable, or later than today, is logged as a WARNING and removed
    from the state. The tap never writes a bookmark after yesterday (the last complete UTC
    day), so a later one means the state was edited or damaged: continuing after it would
    skip every day up to it without a word, while starting over loses nothing. Today's date
    is the one exception: a host whose clock is a little behind the host that wrote the
    state sees it around midnight UTC, so it means "up to date" (with a WARNING).
    """
    key = state.get("replication_key")
    value = state.get("replication_key_value")
    if value is None and key in (None, REPLICATION_KEY):
        return None  # a first run
    bookmark = stored_bookmark(state)
    problem = None
    if key != REPLICATION_KEY:
        problem = f"belongs to replication key {key!r}, not '{REPLICATION_KEY}'"
    elif bookmark is None:
        problem = "is not a YYYY-MM-DD date"
    elif bookmark > today:
        problem = f"is after today ({today}): the tap never writes one after yesterday"
    if problem is not None or bookmark is None:
        logger.warning(
            "The bookmark %r in the state %s; ignoring it and %s", value, problem, _FRESH_START
        )
        state.pop("replication_key_value", None)
        return None
    if bookmark == today:
        yesterday = last_complete_day(today)
        logger.warning(
            "The bookmark %s in the state is today's date, after the last complete UTC day "
            "%s: the clock of the run that wrote it was ahead of this one (or the state was "
            "edited). Treating the stream as extracted up to %s.",
            bookmark,
            yesterday,
            yesterday,
        )
        return yesterday
    # Before start_date it means the same as none (start at start_date); returning None
    # also keeps a lookback from reaching before year 1.
    return bookmark if bookmark >= start_date else None


def advance_bookmark(state: dict[str, t.Any], window: Window) -> None:
    """Bookmark ``window`` as extracted (all its records are out); never moves back."""
    current = stored_bookmark(state)
    if current is None or window.end > current:
        state["replication_key"] = REPLICATION_KEY
        state["replication_key_value"] = window.end.isoformat()


def parse_date(value: str) -> datetime.date:
    """A ``YYYY-MM-DD`` date (the form of bookmarks and ledger windows in state); raises
    ``ValueError`` for anything else."""
    if len(value) != 10:
        raise ValueError(value)
    return datetime.date.fromisoformat(value)


def stored_bookmark(state: dict[str, t.Any]) -> datetime.date | None:
    """The stream's bookmark date as stored, or None when absent or unreadable (quietly)."""
    if state.get("replication_key") != REPLICATION_KEY:
        return None
    value = state.get("replication_key_value")
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value[:10])
    except ValueError:
        return None


def _json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "null"
