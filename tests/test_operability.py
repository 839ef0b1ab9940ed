"""What an operator sees: --test, --about, --discover offline, and progress logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tests.conftest import make_config
from tests.singer_run import run_cli, sync


def test_connection_test_checks_credentials_without_creating_a_job(
    api: FakeBackstory, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, make_config(api), "--test")
    assert result.returncode == 0, result.stderr
    assert "Connection test passed: client_id 'test-client' got a token" in result.stderr
    assert api.count("token") == 1
    assert api.count("create") == 0
    assert api.count("status", status=404) == 1
    assert result.stdout == ""


def test_connection_test_reports_bad_credentials_clearly(
    api: FakeBackstory, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, make_config(api, client_secret="nope"), "--test")
    assert result.returncode == 1
    assert (
        "Connection test failed: Backstory refused the credentials for client_id" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert api.count("create") == 0


def test_connection_test_reports_an_unreachable_api(api: FakeBackstory, tmp_path: Path) -> None:
    config = make_config(api)
    api.stop()
    result = run_cli(tmp_path, config, "--test")
    assert result.returncode == 1
    assert "Connection test failed: Token request failed after 3 tries" in result.stderr
    assert "ConnectionError" in result.stderr


def test_about_and_discover_work_without_config_or_network(tmp_path: Path) -> None:
    about = run_cli(tmp_path, {}, "--about", "--format=json")
    assert about.returncode == 0
    info = json.loads(about.stdout)
    assert info["version"] == "0.1.0"
    assert "client_secret" in info["settings"]["properties"]
    assert info["settings"]["properties"]["client_secret"]["secret"] is True
    discover = run_cli(tmp_path, {}, "--discover")
    assert discover.returncode == 0
    catalog = json.loads(discover.stdout)
    (stream,) = catalog["streams"]
    assert stream["tap_stream_id"] == "enriched_contacts"
    assert stream["key_properties"] == ["contact_key"]
    assert stream["replication_key"] == "export_end_date"


def test_progress_logs_cover_jobs_fragments_and_windows(
    api: FakeBackstory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sync(make_config(api))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("tap-backstory-contacts")]
    text = "\n".join(lines)
    assert re.search(
        r"Created export job ce-000001 \(window 2026-01-01..2026-01-05\), state Queued", text
    )
    assert re.search(r"export job ce-000001 .* is Running after", text)
    assert re.search(r"export job ce-000001 .* completed: 7 fragment\(s\), results_size \d+", text)
    assert re.search(r"Downloaded fragment 3 of 7 of export job ce-000001 .*: \d+ bytes", text)
    assert re.search(r"Emitted 4 record\(s\) from export job ce-000001 .*, fragment 3 of 7", text)
    assert re.search(
        r"Window 2026-01-01..2026-01-05 done: 25 record\(s\) in [\d.]+s \(\d+ records/s\); "
        r"1 window\(s\) left, about \d+s remaining",
        text,
    )
    assert "Window 2026-01-06..2026-01-10 done: 25 record(s)" in text
    # Polls log state changes only: one line per transition, not one per poll.
    assert len([line for line in lines if "ce-000001" in line and " is " in line]) <= 2


def test_waiting_job_logs_a_heartbeat_at_most_once_a_minute(
    api: FakeBackstory, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.config.polls_running = 40
    sync(
        make_config(
            api, end_date="2026-01-05", poll_interval_seconds=5, poll_max_interval_seconds=20
        )
    )
    waited = sum(waits)
    heartbeats = [r.getMessage() for r in caplog.records if "still Running after" in r.getMessage()]
    assert waited > 600
    assert 1 <= len(heartbeats) <= waited / 60 + 1


def test_metrics_still_reach_the_log(api: FakeBackstory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sync(make_config(api))
    metrics = [r.getMessage() for r in caplog.records if r.name == "singer_sdk.metrics"]
    assert any('"metric":"record_count","value":50' in m for m in metrics)


@pytest.mark.parametrize("mode", ["--test", "--test=schema"])
def test_connection_test_with_invalid_config_says_what_is_wrong(
    api: FakeBackstory, tmp_path: Path, mode: str
) -> None:
    result = run_cli(tmp_path, make_config(api, window_days=0), mode)
    assert result.returncode == 1
    assert "1 invalid setting(s): 0 is less than the minimum of 1 in config['window_days']" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert api.requests == []


def test_explained_errors_show_their_traceback_only_at_debug(
    api: FakeBackstory, tmp_path: Path
) -> None:
    api.config.status_override = "Exploded"
    quiet = run_cli(tmp_path, make_config(api))
    assert quiet.returncode == 1
    assert "unknown state 'Exploded'" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = run_cli(tmp_path, make_config(api), env={"TAP_BACKSTORY_CONTACTS_LOGLEVEL": "DEBUG"})
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr
