"""The job ledger kept in state: which export job serves which window, and its progress.

A run killed while a job is queued, running or downloading finds the job here next time,
re-attaches to it instead of creating another, and skips fragments already emitted.
"""

from __future__ import annotations

import typing as t
from dataclasses import asdict, dataclass

from tap_backstory_contacts.settings import parse_date
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


class Ledger:
    """A view over ``state["jobs"]``; every change is made in place in the stream state."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        raw = state.get(LEDGER_KEY)
        self._state = state
        self._entries: list[LedgerEntry] = []
        if isinstance(raw, list):
            for item in raw:
                entry = _entry(item)
                if entry is not None:  # an unreadable entry only costs a new job
                    self._entries.append(entry)
        self._save()

    @property
    def entries(self) -> list[LedgerEntry]:
        """All entries, oldest first."""
        return list(self._entries)

    def find(self, window: Window) -> LedgerEntry | None:
        """The entry recorded for exactly this window, if any."""
        return next((e for e in self._entries if e.window == window), None)

    def add(self, job_id: str, window: Window, fingerprint: str) -> LedgerEntry:
        """Record a newly created job for ``window``, replacing any older entry for it."""
        self._entries = [e for e in self._entries if e.window != window]
        entry = LedgerEntry(job_id, window.start.isoformat(), window.end.isoformat(), fingerprint)
        self._entries.append(entry)
        self._save()
        return entry

    def fragments_emitted(self, job_id: str, count: int) -> None:
        """Record that the first ``count`` fragments of ``job_id`` were emitted in full."""
        for entry in self._entries:
            if entry.job_id == job_id:
                entry.fragments_emitted = count
        self._save()

    def drop(self, job_id: str) -> None:
        """Forget a job (its window is bookmarked, or the job is gone or unusable)."""
        self._entries = [e for e in self._entries if e.job_id != job_id]
        self._save()

    def _save(self) -> None:
        self._state[LEDGER_KEY] = [asdict(e) for e in self._entries]


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
