"""What a termination signal stops at once: the tap owns one, the running sync registers the
downloads it owns while they run."""

from __future__ import annotations

import contextlib
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class Shutdown:
    """The stop actions of whatever runs now; ``stop`` calls them (from a signal handler)."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

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
