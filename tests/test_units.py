"""Small pure pieces: Retry-After parsing, empty-export detection, ledger entries from state."""

from __future__ import annotations

import datetime
import email.utils
import time
import typing as t

import pytest

from tap_backstory_contacts.fragments import reported_empty
from tap_backstory_contacts.jobs.ledger import Ledger
from tap_backstory_contacts.jobs.model import ExportJob, JobState
from tap_backstory_contacts.retry import parse_retry_after
from tap_backstory_contacts.windows import Window

D = datetime.date


def _http_date(offset: float, zone: str) -> str:
    """An HTTP date ``offset`` seconds from now, ending in GMT or another UTC spelling."""
    return email.utils.formatdate(time.time() + offset, usegmt=True).replace("GMT", zone)


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        (lambda: "7", 7, 7),
        (lambda: "0.5", 0.5, 0.5),
        (lambda: _http_date(30, "GMT"), 28, 30),
        (lambda: _http_date(30, "-0000"), 28, 30),
        (lambda: "Wed, 21 Oct 2015 07:28:00 GMT", 0, 0),
    ],
)
def test_retry_after_in_seconds_or_http_date(
    header: t.Callable[[], str], low: float, high: float
) -> None:
    wait = parse_retry_after(header())
    assert wait is not None
    assert low <= wait <= high


@pytest.mark.parametrize(
    ("header", "wait"), [(None, None), ("", None), ("soon", None), ("-3", 0.0)]
)
def test_unusable_retry_after_is_ignored_and_a_negative_one_is_zero(
    header: str | None, wait: float | None
) -> None:
    assert parse_retry_after(header) == wait


@pytest.mark.parametrize(
    ("fragments", "size", "empty"),
    [
        (0, None, True),
        (0, 2, True),
        (0, 400, True),
        (None, 0, True),
        (0, 50_000, False),
        (None, None, False),
        (None, 2, False),
        (3, 0, False),
    ],
)
def test_export_counts_as_empty_only_when_the_status_says_so(
    fragments: int | None, size: int | None, empty: bool
) -> None:
    job = ExportJob("j", Window(D(2026, 1, 1), D(2026, 1, 1)), JobState.COMPLETED, fragments, size)
    assert reported_empty(job) is empty


@pytest.mark.parametrize(
    "bad",
    [
        {
            "job_id": "j",
            "start_date": "2026-01-01",
            "end_date": "2026-01-05",
            "fingerprint": "f",
            "fragments_emitted": "2",
        },
        {
            "job_id": "j",
            "start_date": "2026-01-01",
            "end_date": "2026-01-05",
            "fingerprint": "f",
            "fragments_emitted": -1,
        },
        {
            "job_id": "j",
            "start_date": "2026-01-01",
            "end_date": "2026-01-05",
            "fingerprint": "f",
            "fragments_emitted": True,
        },
        {
            "job_id": 7,
            "start_date": "2026-01-01",
            "end_date": "2026-01-05",
            "fingerprint": "f",
            "fragments_emitted": 0,
        },
        {
            "job_id": "j",
            "start_date": "2026/01/01",
            "end_date": "2026-01-05",
            "fingerprint": "f",
            "fragments_emitted": 0,
        },
        {"job_id": "j"},
        "not an object",
    ],
)
def test_unreadable_ledger_entries_are_ignored(bad: t.Any) -> None:
    good = {
        "job_id": "k",
        "start_date": "2026-01-06",
        "end_date": "2026-01-10",
        "fingerprint": "f",
        "fragments_emitted": 3,
    }
    state: dict[str, t.Any] = {"jobs": [bad, good]}
    ledger = Ledger(state)
    assert [e.job_id for e in ledger.entries] == ["k"]
    assert state["jobs"] == [good]
