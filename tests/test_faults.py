"""Fault matrix over real HTTP: every transient fault is retried, every hard one reported."""

from __future__ import annotations

import logging
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts import formats
from tap_backstory_contacts.errors import (
    ApiError,
    ExportJobError,
    RetriesExhaustedError,
    UnreadableDataError,
)
from tests.conftest import make_config
from tests.singer_run import run_cli, sync

EXPECTED = 50  # 2 windows x 5 days x 5 contacts

TRANSIENT = [
    ("token", "429"),
    ("token", "503"),
    ("token", "reset"),
    # 500, 502, 504 and a reset on create may hide a created job: tests/test_job_trust.py.
    ("create", "503"),
    ("status", "429"),
    ("status", "503"),
    ("status", "504"),
    ("status", "reset"),
    ("status", "401"),
    ("data", "429"),
    ("data", "500"),
    ("data", "503"),
    ("data", "reset"),
    ("data", "401"),
    ("data", "drop_mid_body"),
    ("data", "short_body"),
    ("data", "truncate"),
    ("data", "corrupt"),
]


def _assert_every_record_once(api: FakeBackstory, records: list[dict[str, t.Any]]) -> None:
    keys = [r["contact_key"] for r in records]
    assert len(keys) == EXPECTED
    assert len(set(keys)) == EXPECTED
    expected_emails = {
        r["email"]
        for w in (("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-10"))
        for r in api.expected_records(*w)
    }
    assert {r["email"] for r in records} == expected_emails


@pytest.mark.parametrize(("endpoint", "kind"), TRANSIENT)
def test_transient_fault_is_retried_and_every_record_arrives_once(
    api: FakeBackstory,
    config: dict[str, t.Any],
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
    endpoint: str,
    kind: str,
) -> None:
    caplog.set_level(logging.INFO)
    # A second 401 in a row means the key itself is refused (tested below).
    times = 1 if kind == "401" else 2
    api.faults.add(endpoint, kind, times=times)
    out = sync(config)

    _assert_every_record_once(api, out.records)
    assert out.bookmark() == "2026-01-10"
    assert not api.faults.pending(), "both injected faults were met"
    retries = [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]
    if kind in ("truncate", "corrupt"):
        # A body that arrived whole but does not parse is fetched again.
        assert sum("downloading it again" in r.getMessage() for r in caplog.records) == 2
    else:
        assert len(retries) == times
    if kind == "401":
        assert api.count("token") == 2  # one at start, one renewal after the 401
    assert all(w <= 60 for w in waits)


@pytest.mark.parametrize("http_date", [False, True])
def test_retry_after_is_honoured(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], http_date: bool
) -> None:
    api.faults.add("create", "429_retry_after", retry_after=7, retry_after_http_date=http_date)
    out = sync(config)
    assert len(out.records) == EXPECTED
    assert len(waits) >= 1
    retry_wait = max(waits)
    if http_date:
        assert 5 <= retry_wait <= 7  # an HTTP date has whole-second precision
    else:
        assert retry_wait == 7


def test_backoff_is_capped_exponential_and_bounded_by_max_retries(
    api: FakeBackstory, waits: list[float]
) -> None:
    api.faults.add("status", "503", times=100)
    with pytest.raises(RetriesExhaustedError, match=r"after 6 tries.*HTTP 503") as caught:
        sync(make_config(api, max_retries=5))
    assert "Polling the status of export job" in str(caught.value)
    retry_waits = [w for w in waits if w >= 0.5]
    assert len(retry_waits) == 5
    for number, wait in enumerate(retry_waits, start=1):
        ceiling = min(60.0, 2.0 ** (number - 1))
        assert ceiling / 2 <= wait <= ceiling


def test_total_retry_time_is_bounded(api: FakeBackstory, waits: list[float]) -> None:
    api.faults.add("data", "429_retry_after", times=100, retry_after=30)
    with pytest.raises(RetriesExhaustedError, match="max_retry_seconds"):
        sync(make_config(api, max_retry_seconds=100, max_parallel_downloads=1))
    assert [w for w in waits if w == 30] == [30, 30, 30]


@pytest.mark.parametrize("kind", ["409", "429"])
def test_job_limit_refusals_wait_for_a_slot(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], kind: str
) -> None:
    api.faults.add("create", kind, times=12)  # more than max_retries: the job limit path waits
    out = sync(config)
    assert len(out.records) == EXPECTED
    assert api.count("create", status=int(kind)) == 12
    assert len(api.created_jobs()) == 2


def test_job_limit_refusal_gives_up_at_the_job_timeout(
    api: FakeBackstory, waits: list[float]
) -> None:
    api.faults.add("create", "409", times=1000)
    with pytest.raises(ExportJobError, match=r"still refused it.*job_timeout_seconds is 30"):
        sync(make_config(api, job_timeout_seconds=30, poll_max_interval_seconds=5))
    assert sum(waits) <= 30


def test_401_after_a_fresh_token_fails_naming_the_key_problem(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float]
) -> None:
    api.faults.add("create", "401", times=2)
    with pytest.raises(ApiError, match=r"HTTP 401.*Object API key") as caught:
        sync(config)
    assert caught.value.status == 401
    assert api.count("token") == 2


def test_window_refused_as_too_large_is_split(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    api.config.max_window_days = 2
    out = sync(config)
    _assert_every_record_once(api, out.records)
    accepted = [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]
    assert accepted == [
        ("2026-01-01", "2026-01-02"),
        ("2026-01-03", "2026-01-04"),
        ("2026-01-05", "2026-01-06"),
        ("2026-01-07", "2026-01-08"),
        ("2026-01-09", "2026-01-10"),
    ]
    assert api.count("create", status=400) == 2  # 5 days, then 3 days, were refused
    assert out.bookmark() == "2026-01-10"
    assert any("Set window_days to" in r.getMessage() for r in caplog.records)


def test_window_refused_even_at_one_day_fails_clearly(api: FakeBackstory) -> None:
    api.config.max_window_days = 0
    with pytest.raises(ExportJobError, match=r"too large even for one day"):
        sync(make_config(api))


def test_persistently_bad_fragment_fails_naming_job_fragment_and_offset(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    api.faults.add("data", "corrupt", times=100, fragment=1)
    with pytest.raises(UnreadableDataError) as caught:
        sync(config)
    message = str(caught.value)
    job = api.created_jobs()[0]
    assert f"export job {job.job_id} (window 2026-01-01..2026-01-05), fragment 1 of 7" in message
    assert "near character" in message
    assert "the same after 3 downloads" in message


def test_tokens_that_expire_quickly_are_renewed(api: FakeBackstory) -> None:
    api.config.token_ttl_seconds = 1
    api.config.job_seconds = 1.3
    out = sync(make_config(api, poll_interval_seconds=0.05))
    assert len(out.records) == EXPECTED
    # Renewed before expiry (about every 0.9 s), never after a 401.
    assert 2 <= api.count("token") <= 6
    assert api.count("status", status=401) == 0
    assert api.count("data", status=401) == 0


def test_no_secret_appears_in_output_logs_or_state(api: FakeBackstory, tmp_path: Path) -> None:
    secret = "s3cr3t-Zq9-unique-value"
    api.config.client_secret = secret
    api.faults.add("data", "503")
    api.faults.add("status", "401")
    config = make_config(api, client_secret=secret)
    debug = {"TAP_BACKSTORY_CONTACTS_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
    ok = run_cli(tmp_path, config, env=debug)
    assert ok.returncode == 0
    assert secret not in ok.stdout + ok.stderr
    assert "DEBUG" in ok.stderr
    bad = run_cli(tmp_path, {**config, "client_secret": secret + "-wrong"}, env=debug)
    assert bad.returncode != 0
    assert secret not in bad.stdout + bad.stderr
    assert "test-client" in bad.stderr


def test_acceptance_scenario_every_record_exactly_once(api: FakeBackstory) -> None:
    """429 with Retry-After on creation, 503 on polls, a fragment cut mid-body, 1 s tokens."""
    api.config.token_ttl_seconds = 1
    api.config.job_seconds = 0.4
    api.faults.add("create", "429_retry_after", times=2, retry_after=0.3)
    api.faults.add("status", "503", times=3)
    api.faults.add("data", "drop_mid_body", fragment=2)
    out = sync(
        make_config(api, window_days=3, poll_interval_seconds=0.05, max_parallel_downloads=3)
    )
    keys = [r["contact_key"] for r in out.records]
    assert len(keys) == len(set(keys)) == EXPECTED
    assert out.bookmark() == "2026-01-10"
    assert api.count("create", status=429) == 2
    assert api.count("status", status=503) == 3
    assert api.count("token") >= 2


@pytest.mark.parametrize("endpoint", ["create", "status", "data"])
def test_401_after_a_fresh_token_fails_on_every_endpoint(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float], endpoint: str
) -> None:
    api.faults.add(endpoint, "401", times=2)
    with pytest.raises(ApiError, match=r"HTTP 401.*Object API key"):
        sync({**config, "max_parallel_downloads": 1})
    assert api.count("token") == 2


@pytest.mark.parametrize("gzip_mode", ["header", "magic"])
def test_gzip_altered_in_transit_is_caught_before_any_record_is_emitted(
    api: FakeBackstory,
    config: dict[str, t.Any],
    waits: list[float],
    monkeypatch: pytest.MonkeyPatch,
    gzip_mode: str,
) -> None:
    """The body decompresses to well-formed but wrong records; only its CRC tells."""
    monkeypatch.setattr(formats, "CHUNK_BYTES", 64)  # records are parsed before the end
    # One fragment of 150 records, well past the 64 KiB the reader sniffs at the start.
    api.config.contacts_per_day = 30
    api.config.fragment_size = 150
    api.config.gzip = gzip_mode
    api.faults.add("data", "bad_crc", fragment=0)
    out = sync({**config, "end_date": "2026-01-05"})
    expected = api.expected_records("2026-01-01", "2026-01-05")
    assert [r["email"] for r in out.records] == [r["email"] for r in expected]
    assert not api.faults.pending()


def test_retry_after_zero_on_job_creation_does_not_spin(
    api: FakeBackstory, config: dict[str, t.Any], waits: list[float]
) -> None:
    api.faults.add("create", "429_retry_after", times=5, retry_after=0)
    out = sync(
        {
            **config,
            "end_date": "2026-01-05",
            "poll_interval_seconds": 2,
            "poll_max_interval_seconds": 10,
        }
    )
    assert len(out.records) == 25
    refusal_waits = waits[:5]
    assert all(wait >= 2 for wait in refusal_waits), refusal_waits
