"""Helpers for the fake API's own tests: raw HTTP calls (token, create, status, data),
running a job to its end, and parsing bodies back into records."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import requests

from fake_backstory import API_FIELDS, FakeBackstory, FakeConfig

ROOT = Path(__file__).resolve().parents[1]
JOBS = "/pull/v1/export/contacts/jobs"
WINDOW = {"start_date": "2026-01-01", "end_date": "2026-01-03"}
INT_FIELDS = {name for name in API_FIELDS if name.startswith("total_")}
BOOL_WORDS = {"true": "false", "True": "False", "1": "0", "yes": "no"}


@contextlib.contextmanager
def small_fake() -> Iterator[FakeBackstory]:
    """A running fake with small fragments (4 records) and instant jobs."""
    config = FakeConfig(contacts_per_day=7, fragment_size=4, polls_queued=0, polls_running=0)
    with FakeBackstory(config) as fake:
        yield fake


def get_token(api: FakeBackstory, session: requests.Session, **overrides: str) -> requests.Response:
    """POST the client-credentials form."""
    form = {
        "grant_type": "client_credentials",
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
        **overrides,
    }
    return session.post(f"{api.url}/auth/v1/tokens", data=form, timeout=30)


def authed_session(api: FakeBackstory) -> requests.Session:
    """A session carrying a fresh bearer token."""
    session = requests.Session()
    token = get_token(api, session).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def create(api: FakeBackstory, session: requests.Session, **params: Any) -> requests.Response:
    """POST a job."""
    return session.post(f"{api.url}{JOBS}", json=params, timeout=30)


def status(api: FakeBackstory, session: requests.Session, job_id: Any) -> requests.Response:
    """GET a job's status (counts as a poll)."""
    return session.get(f"{api.url}{JOBS}/{job_id}", timeout=30)


def data(
    api: FakeBackstory, session: requests.Session, job_id: Any, fragment: int | None = None
) -> requests.Response:
    """GET a job's data (one fragment or stitched)."""
    params = {} if fragment is None else {"fragment": fragment}
    return session.get(f"{api.url}{JOBS}/{job_id}/data", params=params, timeout=30)


def run_job(api: FakeBackstory, session: requests.Session, **params: Any) -> dict[str, Any]:
    """Create a job and poll it to a final state; returns the last status JSON."""
    job = create(api, session, **params)
    assert job.status_code == 200, job.text
    for _ in range(20):
        body: dict[str, Any] = status(api, session, job.json()["job_id"]).json()
        if body["state"] in ("Completed", "Failed", "Canceled"):
            return body
    raise AssertionError("job never finished")


def parse_json(raw: bytes, layout: str) -> list[dict[str, Any]]:
    """Parse a JSON body in the given layout."""
    if layout == "lines":
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    parsed = orjson.loads(raw)
    if layout == "wrapper":
        assert parsed["count"] == len(parsed["data"])
        return list(parsed["data"])
    assert isinstance(parsed, list)
    return parsed


def parse_csv(raw: bytes, true_word: str = "true") -> tuple[list[str], list[dict[str, Any]]]:
    """Parse a CSV body back into typed records; returns (header, records)."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    header = next(reader)
    records = []
    for row in reader:
        assert len(row) == len(header), row
        record: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            if cell == "":
                record[name] = None
            elif name in INT_FIELDS:
                record[name] = int(cell)
            elif name == "from_cc":
                assert cell in (true_word, BOOL_WORDS[true_word])
                record[name] = cell == true_word
            elif name == "enrichment_score":
                record[name] = float(cell)
            else:
                record[name] = cell
        records.append(record)
    return header, records
