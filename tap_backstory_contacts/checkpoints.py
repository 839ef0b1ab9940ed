"""When state changes may be sent: at once after RECORDs, or only after their BATCH file.

A change that vouches for records (a fragment emitted, a window bookmarked) must never
reach the target before those records. RECORD messages are written before the change is
made, so it is applied and a STATE sent at once. In BATCH mode the records sit in a batch
file until its BATCH message goes out, so the change waits until that file is written;
a STATE the SDK sends meanwhile (after an earlier BATCH, or on SIGTERM) cannot include it.
At a window's end the file being written is closed and announced at once (``close_file``),
so that a STATE follows every window, not only every full file.

A new export job vouches for no record; in RECORD mode a STATE goes out at once so that a
killed run re-attaches to it. In BATCH mode every STATE follows a BATCH message (the SDK
writes one after each file, and at the end), so the job's ledger entry goes out with the
next of those, or with the STATE written on SIGTERM; a run killed with SIGKILL before then
leaves that job unrecorded (docs/batch-files.md).
"""

from __future__ import annotations

import typing as t

Change = t.Callable[[], None]


class Checkpoints:
    """Applies state changes that vouch for records, at the moment it is safe to."""

    def __init__(
        self,
        emit: t.Callable[[], None],
        *,
        batch_mode: bool,
        close_file: t.Callable[[], bool] | None = None,
    ) -> None:
        """``close_file`` (BATCH mode) closes the file being written and sends its BATCH
        message; it returns False when no hook per file exists (the SDK's own batchers)."""
        self._emit = emit
        self._batch_mode = batch_mode
        self._close_file = close_file
        self._pending: list[Change] = []

    @property
    def batch_mode(self) -> bool:
        """Whether records leave in BATCH files (state changes wait for their file)."""
        return self._batch_mode

    def job_recorded(self) -> None:
        """A new job is in the ledger: send the state now in RECORD mode; in BATCH mode it
        goes with the STATE after the next BATCH message (see above)."""
        if not self._batch_mode:
            self._emit()

    def vouch(self, change: Change) -> None:
        """Apply ``change`` once the records yielded so far are safely out."""
        if self._batch_mode:
            self._pending.append(change)
        else:
            change()
            self._emit()

    def window_end(self, change: Change) -> None:
        """A window's records have all been yielded: apply ``change`` (its bookmark) as
        ``vouch`` does, except that in BATCH mode the file holding them is closed and
        announced now, and the change goes out with a STATE right after it."""
        if not self._batch_mode:
            self.vouch(change)
            return
        self._pending.append(change)
        if self._close_file is not None and self._close_file():
            self.release()
            self._emit()

    def release(self) -> None:
        """BATCH mode: the records yielded so far are in written batch files; apply changes."""
        for change in self._pending:
            change()
        self._pending.clear()
