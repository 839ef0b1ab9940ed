"""What a termination signal does: stop the running sync's downloads at once, write what the
target may still take and the final state, and exit with 128 + the signal number."""

from __future__ import annotations

import contextlib
import functools
import typing as t

from tap_backstory_contacts import logger

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_backstory_contacts.output import StateFlushingWriter

# How long the last writes may wait for a target that reads slowly, or not at all.
FINAL_WRITE_SECONDS = 5.0


class Shutdown:
    """The tap's stop actions (the running sync registers its downloads) and its exit."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []
        self._signum: int | None = None

    @contextlib.contextmanager
    def stopping(self, action: Callable[[], None]) -> Iterator[None]:
        """Call ``action`` on ``stop`` while the block runs."""
        self._actions.append(action)
        try:
            yield
        finally:
            self._actions.remove(action)

    def stop(self) -> None:
        """Stop everything registered, newest first."""
        for action in reversed(list(self._actions)):
            action()

    def terminate(
        self, signum: int, writer: StateFlushingWriter | None, write_state: Callable[[], None]
    ) -> None:
        """From the signal handler: stop, then (once the writer is between two writes)
        write the buffered messages and the state, and exit with 128 + ``signum``."""
        self.stop()
        if self._signum is not None:
            return  # a second signal while ending: the first one's exit is under way
        self._signum = signum
        finish = functools.partial(self._finish, signum, writer, write_state)
        if writer is None:
            finish()
        else:
            writer.when_idle(finish)

    def _finish(
        self, signum: int, writer: StateFlushingWriter | None, write_state: Callable[[], None]
    ) -> t.NoReturn:
        logger.info("Gracefully shutting down...")
        if writer is None:
            write_state()
        else:
            writer.limit_to(FINAL_WRITE_SECONDS)
            # The state vouches for records: it goes out only after all of them.
            if writer.flush():
                write_state()
            if not writer.flush():
                logger.warning(
                    "The target did not take the last Singer messages within %.0fs; exiting "
                    "without them. The next run continues from the last STATE it received.",
                    FINAL_WRITE_SECONDS,
                )
            writer.close()
        raise SystemExit(128 + signum)
