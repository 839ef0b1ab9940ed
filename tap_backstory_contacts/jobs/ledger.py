"""The job ledger kept in state: which export job serves which window, and its progress.

A run killed while a job is queued, running or downloading finds the job here next time,
re-attaches to it instead of creating another, and skips fragments already emitted.
Only ``jobs.keeper.JobKeeper`` changes it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_backstory_contacts import logger
from tap_backstory_contacts.saved_state import parse_date
from tap_backstory_contacts.windows import Window

LEDGER_KEY = "jobs"


@dataclass(slots=True)
class LedgerEntry:
    """One export job in flight, as recorded in state."""

    job_id: str
    start_date: str
    end_date: str
    fingerprint: str
    fragments_emitted: int = 0

    @property
    def window(self) -> Window:
        """The window this job exports."""
        return Window(parse_date(self.start_date), parse_date(self.end_date))

    def as_dict(self) -> dict[str, t.Any]:
        """The entry as stored in state."""
        return {
            "job_id": self.job_id,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "fingerprint": self.fingerprint,
            "fragments_emitted": self.fragments_emitted,
        }


class Ledger:
    """A view over ``state["jobs"]``; every change is made in place in the stream state.

    Entries are indexed by window (one job per window: the newest entry wins), so look-ups
    and changes cost the same however many entries a state holds.
    """

    def __init__(self, state: dict[str, t.Any]) -> None:
        """Read the ledger from ``state``, which keeps only the entries it could read."""
        raw = state.get(LEDGER_KEY)
        self._state = state
        self._by_window: dict[Window, LedgerEntry] = {}
        items = raw if isinstance(raw, list) else []
        unreadable = 0 if raw is None or isinstance(raw, list) else 1
        for item in items:
            entry = _entry(item)
            if entry is None:  # an unreadable entry only costs a new job
                unreadable += 1
                continue
            self._by_window.pop(entry.window, None)
            self._by_window[entry.window] = entry
        if unreadable:
            logger.warning(
                "Ignoring %d unreadable job ledger entr%s in the state: %s",
                unreadable,
                "y" if unreadable == 1 else "ies",
                "their windows get new export jobs",
            )
        self._save()

    @property
    def entries(self) -> list[LedgerEntry]:
        """All entries, oldest first."""
        return list(self._by_window.values())

    def find(self, window: Window) -> LedgerEntry | None:
        """The entry recorded for exactly this window, if any."""
        return self._by_window.get(window)

    def add(self, job_id: str, window: Window, fingerprint: str) -> LedgerEntry:
        """Record a newly created job for ``window``, replacing any older entry for it."""
        self._by_window.pop(window, None)
        entry = LedgerEntry(job_id, window.start.isoformat(), window.end.isoformat(), fingerprint)
        self._by_window[window] = entry
        self._save()
        return entry

    def fragments_emitted(self, job_id: str, count: int) -> None:
        """Record that the first ``count`` fragments of ``job_id`` were emitted in full."""
        for entry in self._by_window.values():
            if entry.job_id == job_id:
                entry.fragments_emitted = count
        self._save()

    def drop(self, job_id: str) -> None:
        """Forget a job (its window is bookmarked, or the job is gone or unusable)."""
        for window in [w for w, e in self._by_window.items() if e.job_id == job_id]:
            del self._by_window[window]
        self._save()

    def keep_only(self, planned: t.Iterable[Window]) -> None:
        """Drop the entries for windows this run does not plan (logged as one line)."""
        wanted = set(planned)
        stale = [window for window in self._by_window if window not in wanted]
        for window in stale:
            del self._by_window[window]
        if stale:
            shown = ", ".join(str(window) for window in stale[:3])
            logger.info(
                "Dropped %d export job(s) from state whose window is not part of this run "
                "(%s%s); a later run that needs one of these windows creates a new job",
                len(stale),
                shown,
                ", …" if len(stale) > 3 else "",
            )
        self._save()

    def _save(self) -> None:
        self._state[LEDGER_KEY] = [entry.as_dict() for entry in self._by_window.values()]


def _entry(item: object) -> LedgerEntry | None:
    """A ledger entry from state, or None if any part of it is not what this tap writes."""
    if not isinstance(item, dict):
        return None
    try:
        entry = LedgerEntry(**item)
        _ = entry.window
    except (TypeError, ValueError):
        return None
    texts = (entry.job_id, entry.start_date, entry.end_date, entry.fingerprint)
    emitted = entry.fragments_emitted
    if not all(isinstance(text, str) and text for text in texts):
        return None
    if isinstance(emitted, bool) or not isinstance(emitted, int) or emitted < 0:
        return None
    return entry
