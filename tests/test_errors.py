"""Failures end the run with a message naming what failed; bad config never reaches the API."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from fake_backstory import FakeBackstory
from tap_backstory_contacts.errors import AuthenticationError, ExportJobError
from tap_backstory_contacts.tap import TapBackstoryContacts
from tests.conftest import make_config
from tests.singer_run import bookmark_state, run_cli, sync


@pytest.mark.parametrize(
    ("switch", "state"), [("fail_jobs", "Failed"), ("cancel_jobs", "Canceled")]
)
def test_ended_job_is_recreated_then_the_run_fails_naming_jobs_window_and_states(
    api: FakeBackstory, config: dict[str, t.Any], switch: str, state: str
) -> None:
    setattr(api.config, switch, 2)
    with pytest.raises(ExportJobError) as caught:
        sync({**config, "max_concurrent_jobs": 1})
    first, second = (j for j in api.created_jobs() if j.params["start_date"] == "2026-01-01")
    message = str(caught.value)
    assert f"export job {first.job_id} (window 2026-01-01..2026-01-05) ended {state}" in message
    assert f"export job {second.job_id} (window 2026-01-01..2026-01-05) ended {state}" in message
    assert "job_retries is 1" in message


def test_one_failed_job_is_replaced_and_the_sync_completes(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    api.config.fail_jobs = 1
    out = sync(config)
    jobs = api.created_jobs()
    assert sorted((j.params["start_date"], j.state) for j in jobs) == [
        ("2026-01-01", "Completed"),
        ("2026-01-01", "Failed"),
        ("2026-01-06", "Completed"),
    ]
    assert len(out.records) == 50
    used = {r["export_job_id"] for r in out.records}
    assert used == {j.job_id for j in jobs if j.state == "Completed"}
    assert out.bookmark() == "2026-01-10"


def test_no_job_retries_fails_at_the_first_failed_job(api: FakeBackstory) -> None:
    api.config.fail_jobs = 1
    with pytest.raises(ExportJobError, match="after 1 tries"):
        sync(make_config(api, job_retries=0))


def test_failed_second_window_keeps_the_first_windows_bookmark(
    api: FakeBackstory, tmp_path: Path
) -> None:
    config = make_config(api, max_concurrent_jobs=1, job_retries=0)
    # Fail only the second job: let the first complete, then switch the fault on.
    first = run_cli(tmp_path, make_config(api, end_date="2026-01-05"))
    assert first.returncode == 0
    api.config.fail_jobs = 1
    state = first.output.final_state
    second = run_cli(tmp_path, config, state=state)
    assert second.returncode == 1
    assert "ended Failed" in second.stderr
    assert "Traceback" not in second.stderr
    assert "2026-01-06..2026-01-10" in second.stderr
    assert second.output.records == []
    assert all(second.output.bookmark(s) == "2026-01-05" for s in second.output.states)


def test_job_that_never_finishes_times_out(api: FakeBackstory) -> None:
    api.config.polls_running = 10_000
    config = make_config(
        api, job_timeout_seconds=1, poll_interval_seconds=0.05, poll_max_interval_seconds=0.1
    )
    with pytest.raises(
        ExportJobError, match=r"was still Running after \d+s; job_timeout_seconds is 1"
    ):
        sync(config)


def test_unknown_job_state_is_an_error_quoting_it(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    api.config.status_override = "Exploded"
    with pytest.raises(ExportJobError, match="unknown state 'Exploded'"):
        sync(config)


def test_bad_credentials_fail_at_once_naming_the_client_id_not_the_secret(
    api: FakeBackstory, tmp_path: Path
) -> None:
    config = make_config(api, client_secret="wrong-secret-value")
    with pytest.raises(AuthenticationError, match=r"client_id 'test-client'.*Object API key"):
        sync(config)
    assert api.count("token") == 1
    assert api.count("create") == 0
    cli = run_cli(tmp_path, config)
    assert cli.returncode == 1
    assert "Object API key" in cli.stderr
    assert "Traceback" not in cli.stderr
    assert "wrong-secret-value" not in cli.stderr + cli.stdout


@pytest.mark.parametrize(
    ("overrides", "messages"),
    [
        ({"client_id": None}, ["'client_id' is a required property"]),
        (
            {"start_date": "2026/01/01"},
            ["start_date: '2026/01/01' is not a date in YYYY-MM-DD form"],
        ),
        ({"end_date": "2025-12-01"}, ["end_date: 2025-12-01 is before start_date 2026-01-01"]),
        ({"window_days": 0, "output_format": "XML"}, ["window_days", "'XML' is not one of"]),
        (
            {"max_parallel_downloads": 0, "end_date": "2026-02-30"},
            ["max_parallel_downloads", "end_date: '2026-02-30'"],
        ),
        ({"api_url": "ftp://example"}, ["api_url: 'ftp://example' is not an http(s) URL"]),
        ({"start_dat": "2026-01-01"}, ["start_dat"]),
    ],
)
def test_invalid_config_is_rejected_before_any_request(
    api: FakeBackstory, overrides: dict[str, t.Any], messages: list[str]
) -> None:
    config = make_config(api)
    for key, value in overrides.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    with pytest.raises(ConfigValidationError) as caught:
        TapBackstoryContacts(config=config)
    for message in messages:
        assert message in str(caught.value)
    assert api.requests == []


def test_invalid_config_ends_the_cli_with_exit_1_and_one_message(
    api: FakeBackstory, tmp_path: Path
) -> None:
    config = make_config(api, window_days=0, output_format="XML")
    result = run_cli(tmp_path, config)
    assert result.returncode == 1
    assert "2 invalid setting(s)" in result.stderr
    assert "window_days" in result.stderr
    assert "'XML' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert api.requests == []


def test_a_bad_secret_value_is_not_quoted_in_config_errors(
    api: FakeBackstory, tmp_path: Path
) -> None:
    result = run_cli(tmp_path, make_config(api, client_secret=98765432123))
    assert result.returncode == 1
    assert "is not of type 'string' in config['client_secret']" in result.stderr
    assert "98765432123" not in result.stderr


def test_an_unreadable_bookmark_restarts_at_start_date_with_a_warning(
    api: FakeBackstory, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    state = bookmark_state("2026/01/03")
    out = sync(config, state)
    assert len(out.records) == 50
    assert out.bookmark() == "2026-01-10"
    assert any("'2026/01/03' in the state is not" in r.getMessage() for r in caplog.records)
