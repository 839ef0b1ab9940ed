"""`--test --config=ENV`, the command `meltano test tap-backstory-contacts` runs: settings come
from environment variables (as Meltano writes them: all text) and no export job is created."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import pytest

from fake_backstory import FakeBackstory

BATCH = (
    '{"encoding": {"format": "jsonl", "compression": "gzip"}, "batch_size": 100, '
    '"storage": {"root": "file:///tmp/unused-batches"}}'
)


def run_test_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAP_BACKSTORY_CONTACTS_")}
    return subprocess.run(
        [sys.executable, "-m", "tap_backstory_contacts.tap", "--config=ENV", "--test"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def meltano_env(api: FakeBackstory, **extra: str) -> dict[str, str]:
    """Settings as Meltano exports them to a plugin command: every value as text."""
    env = {
        "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
        "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
        "TAP_BACKSTORY_CONTACTS_API_URL": api.url,
        "TAP_BACKSTORY_CONTACTS_START_DATE": "2026-08-29T16:11:58.788263",
        "TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS": "0.05",
        "TAP_BACKSTORY_CONTACTS_WINDOW_DAYS": "7",
        "TAP_BACKSTORY_CONTACTS_INCLUDE_EXISTING": "true",
        "TAP_BACKSTORY_CONTACTS_BATCH_CONFIG": BATCH,
    }
    return {**env, **extra}


def test_env_connection_test_passes_without_creating_a_job(api: FakeBackstory) -> None:
    done = run_test_command(meltano_env(api))
    assert done.returncode == 0, done.stderr
    assert "Connection test passed" in done.stderr
    assert done.stdout == ""
    assert api.count("token") == 1
    assert api.count("create") == 0
    assert api.created_jobs() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": "wrong"}, "Connection test failed"),
        ({"TAP_BACKSTORY_CONTACTS_WINDOW_DAYS": "x"}, "'x' is not of type 'integer'"),
    ],
)
def test_env_connection_test_fails_with_one_clear_error(
    api: FakeBackstory, extra: dict[str, str], message: str
) -> None:
    done = run_test_command(meltano_env(api, **extra))
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert api.created_jobs() == []


def test_env_connection_test_accepts_a_relative_date_and_refuses_a_typo(
    api: FakeBackstory,
) -> None:
    """Meltano passes the date settings (kind string) as written; the tap judges them."""
    done = run_test_command(meltano_env(api, TAP_BACKSTORY_CONTACTS_START_DATE="90 days ago"))
    assert done.returncode == 0, done.stderr
    assert "Connection test passed" in done.stderr
    done = run_test_command(meltano_env(api, TAP_BACKSTORY_CONTACTS_START_DATE="2026-13-01"))
    assert done.returncode == 1
    assert "start_date: '2026-13-01' is not a date in YYYY-MM-DD form" in done.stderr
    assert api.created_jobs() == []


def test_env_connection_test_reports_a_missing_setting(api: FakeBackstory) -> None:
    env: dict[str, t.Any] = meltano_env(api)
    del env["TAP_BACKSTORY_CONTACTS_CLIENT_SECRET"]
    done = run_test_command(env)
    assert done.returncode == 1
    assert "'client_secret' is a required property" in done.stderr
    assert api.requests == []
