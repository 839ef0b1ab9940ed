"""The windows still to export, each with its job, while the next jobs run ahead.

A window the API refuses as too large is split, with every later window.
"""

from __future__ import annotations

import collections
import typing as t

from tap_backstory_contacts import logger
from tap_backstory_contacts.errors import ExportJobError, JobLimitError, WindowTooLargeError
from tap_backstory_contacts.windows import Window, split

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_backstory_contacts.jobs.keeper import JobKeeper
    from tap_backstory_contacts.jobs.model import ExportJob


class WindowPlan:
    """Iterates ``(window, job)`` in window order, keeping ``ahead`` jobs started."""

    def __init__(self, windows: list[Window], jobs: JobKeeper, ahead: int) -> None:
        self._plan = collections.deque(windows)
        self._jobs = jobs
        self._ahead = ahead
        self._started: dict[Window, ExportJob] = {}

    @property
    def remaining(self) -> int:
        """Windows not yet handed out."""
        return len(self._plan)

    def __iter__(self) -> Iterator[tuple[Window, ExportJob]]:
        while self._plan:
            self._start_jobs_ahead()
            window = self._plan.popleft()
            yield window, self._started.pop(window)

    def _start_jobs_ahead(self) -> None:
        """Make sure the next ``ahead`` windows have a job, splitting refused ones.

        Only the current window waits for a job slot: a look-ahead job the API's limits
        refuse is simply created later, when its window comes up.
        """
        position = 0
        while position < min(self._ahead, len(self._plan)):
            window = self._plan[position]
            if window not in self._started:
                try:
                    self._started[window] = self._jobs.start(window, wait_for_slot=position == 0)
                except JobLimitError:
                    logger.info(
                        "Not starting window %s's job ahead: the API's job limits are reached",
                        window,
                    )
                    return
                except WindowTooLargeError as exc:
                    self._split_from(position, exc)
                    continue
            position += 1

    def _split_from(self, position: int, refusal: WindowTooLargeError) -> None:
        """Plan the windows from ``position`` on again at half the refused window's size
        (none of them has a job yet)."""
        window = self._plan[position]
        if window.days == 1:
            raise ExportJobError(
                f"The API refused window {window} as too large even for one day: "
                f"{refusal}. Check the API's limits with Backstory."
            ) from refusal
        days = (window.days + 1) // 2
        logger.warning(
            "The API refused window %s as too large (%s); continuing with windows of %d "
            "day(s). Set window_days to %d or less to skip this refusal.",
            window,
            refusal,
            days,
            days,
        )
        rest = Window(window.start, self._plan[-1].end)
        for _ in range(len(self._plan) - position):
            self._plan.pop()
        self._plan.extend(split(rest, days))
