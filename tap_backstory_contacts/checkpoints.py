"""When state changes may be sent: at once after RECORDs, or only after their BATCH file.

A change that vouches for records (a fragment emitted, a window bookmarked) must never
reach the target before those records. RECORD messages are written before the change is
made, so it is applied and a STATE sent at once. In BATCH mode the records sit in a batch
file until its BATCH message goes out, so the change waits until that file is written;
a STATE the SDK sends meanwhile (after an earlier BATCH, or on SIGTERM) cannot include it.
"""

from __future__ import annotations

import typing as t

Change = t.Callable[[], None]


class Checkpoints:
    """Applies state changes that vouch for records, at the moment it is safe to."""

    def __init__(self, emit: t.Callable[[], None], *, batch_mode: bool) -> None:
        self._emit = emit
        self._batch_mode = batch_mode
        self._pending: list[Change] = []

    def now(self) -> None:
        """Send the state as it is, if a STATE may be sent mid-stream (not in BATCH mode)."""
        if not self._batch_mode:
            self._emit()

    def vouch(self, change: Change) -> None:
        """Apply ``change`` once the records yielded so far are safely out."""
        if self._batch_mode:
            self._pending.append(change)
        else:
            change()
            self._emit()

    def release(self) -> None:
        """BATCH mode: the records yielded so far are in written batch files; apply changes."""
        for change in self._pending:
            change()
        self._pending.clear()
