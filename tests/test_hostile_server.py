"""A hostile or broken server never hangs the run, fills memory or disk, or loses a contact:
cancellable waits, idle reads, implausible fragment counts, odd job ids, untrusted ledger
entries and spool files (issue 13, export-engine side)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts import client as client_module
from tap_backstory_contacts import clock, limits, spool
from tap_backstory_contacts.errors import TapBackstoryError
from tap_backstory_contacts.jobs.model import fingerprint, job_params
from tap_backstory_contacts.settings import Settings
from tap_backstory_contacts.tap import TapBackstoryContacts
from tap_backstory_contacts.windows import Window
from tests.conftest import START, make_config
from tests.singer_run import cli_command, run_cli, run_until_killed, sync

# A hang would last 120 s (the Retry-After cap) or 300 s; a clean stop takes a second or two.
PROMPT_EXIT_SECONDS = 30


@pytest.fixture
def big_api() -> t.Iterator[FakeBackstory]:
    """One window, 4 fragments of 5 records."""
    with FakeBackstory(FakeConfig(contacts_per_day=4, fragment_size=5)) as server:
        yield server


def one_window(api: FakeBackstory, **overrides: t.Any) -> dict[str, t.Any]:
    return make_config(api, end_date="2026-01-05", max_concurrent_jobs=1, **overrides)


def test_a_fatal_error_ends_the_run_while_another_download_waits_out_retry_after(
    big_api: FakeBackstory, tmp_path: Path
) -> None:
    # Fragment 0 is damaged on every download (fatal after 3), while fragment 1's server
    # asks the tap to come back in 300 s.
    big_api.faults.add("data", "corrupt", times=3, fragment=0)
    big_api.faults.add("data", "503", fragment=1, retry_after=300)
    started = time.monotonic()
    result = run_cli(tmp_path, one_window(big_api), timeout=PROMPT_EXIT_SECONDS)
    assert time.monotonic() - started < PROMPT_EXIT_SECONDS
    assert result.returncode == 1
    assert "fragment 0 of 4" in result.stderr
    assert "the same after 3 downloads" in result.stderr
    assert any(r.status == 503 for r in big_api.requests if r.query.get("fragment") == "1")


def test_sigterm_during_a_retry_after_wait_exits_at_once_and_not_as_success(
    big_api: FakeBackstory, tmp_path: Path
) -> None:
    big_api.faults.add("data", "503", fragment=2, retry_after=300)
    command = cli_command(tmp_path, one_window(big_api), None)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + PROMPT_EXIT_SECONDS
        while not any(r.status == 503 for r in big_api.requests):
            assert time.monotonic() < deadline, "the fault was never served"
            time.sleep(0.05)
        time.sleep(0.3)  # the worker is now in its wait
        process.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        stdout, stderr = process.communicate(timeout=PROMPT_EXIT_SECONDS)
    assert time.monotonic() - terminated < 10
    assert process.returncode == 128 + signal.SIGTERM
    assert "waiting 120s, the most the tap honours" in stderr
    last_state = [json.loads(line) for line in stdout.splitlines() if '"STATE"' in line][-1]
    # Fragment 2 was never delivered, so the window is not bookmarked.
    assert "replication_key_value" not in last_state["value"]["bookmarks"]["enriched_contacts"]


def test_a_stalled_body_is_retried_after_the_idle_read_timeout(
    big_api: FakeBackstory, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "IDLE_READ_TIMEOUT_SECONDS", 0.5)
    big_api.faults.add("data", "stall", fragment=1, after_bytes=100)
    out = sync(one_window(big_api))
    assert len(out.records) == len(big_api.expected_records(START, "2026-01-05")) == 20
    assert len({r["contact_key"] for r in out.records}) == 20
    assert sum(r.query.get("fragment") == "1" for r in big_api.requests) == 2
    assert out.bookmark() == "2026-01-05"


@pytest.mark.parametrize("count", [100_000_000, 1_000_000_000])
def test_an_implausible_fragment_count_is_a_clear_error_naming_the_job(
    api: FakeBackstory, count: int
) -> None:
    api.config.fragments_override = count
    with pytest.raises(
        TapBackstoryError, match=rf"reports {count} fragments, more than the 100000"
    ):
        sync(one_window(api))
    assert api.count("data") == 0


def test_a_deflate_bomb_stops_at_the_fragment_size_limit(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(limits, "MAX_FRAGMENT_BYTES", 1 << 20)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    api.faults.add("data", "deflate_bomb", fragment=0, decoded_bytes=8 << 20)
    with pytest.raises(
        TapBackstoryError,
        # Stored compressed as sent (issue 17.14): the limit stops it while it is read.
        match=r"fragment 0 of 7: the fragment decompresses to more than the limit of 1 MiB",
    ):
        sync(one_window(api))
    assert list(tmp_path.glob(f"{spool.PREFIX}*")) == []  # the spool is gone too


@pytest.mark.parametrize(
    ("job_id", "encoded"),
    [
        ("../../../auth/v1/tokens", "..%2F..%2F..%2Fauth%2Fv1%2Ftokens"),
        ("x#frag", "x%23frag"),
        ("x?fragment=7&y=", "x%3Ffragment%3D7%26y%3D"),
        ("a/b", "a%2Fb"),
        (976511, "976511"),
    ],
)
def test_job_ids_are_percent_encoded_in_paths(
    api: FakeBackstory, job_id: str | int, encoded: str
) -> None:
    api.config.job_ids = (job_id,)
    out = sync(one_window(api))
    assert len(out.records) == 25
    assert {r["export_job_id"] for r in out.records} == {str(job_id)}
    job_requests = [r for r in api.requests if r.endpoint in ("status", "data")]
    assert job_requests
    for request in job_requests:
        assert request.target.startswith(f"/pull/v1/export/contacts/jobs/{encoded}")
    assert api.count("token") == 1  # the id never reached the token endpoint


def test_a_ledger_entry_claiming_more_fragments_than_the_job_has_is_not_trusted(
    api: FakeBackstory, caplog: pytest.LogCaptureFixture
) -> None:
    config = one_window(api)
    first = sync(config)
    job_id = first.records[0]["export_job_id"]
    settings = Settings.from_config(TapBackstoryContacts(config=config).config)
    window = Window(settings.start_date, settings.end_date or settings.start_date)
    entry = {
        "job_id": job_id,
        "start_date": "2026-01-01",
        "end_date": "2026-01-05",
        "fingerprint": fingerprint(job_params(settings, window)),
        "fragments_emitted": 1_000_000,
    }
    state = {"bookmarks": {"enriched_contacts": {"jobs": [entry]}}}
    out = sync(config, state)
    assert len(out.records) == 25  # nothing skipped
    assert len(api.created_jobs()) == 2
    assert {r["export_job_id"] for r in out.records} == {api.created_jobs()[1].job_id}
    assert out.bookmark() == "2026-01-05"
    assert any("not trusting that entry" in r.getMessage() for r in caplog.records)


def test_spool_files_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = spool.Spool()
    path = folder.new_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.name.startswith(f"{spool.PREFIX}{os.getpid()}-")
    folder.remove()
    assert not path.parent.exists()
    with pytest.raises(clock.CancelledError):  # a download still starting gets no new folder
        folder.new_file()
    assert list(tmp_path.glob(f"{spool.PREFIX}*")) == []


def test_a_download_ending_after_the_spool_was_removed_cleans_up_after_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = spool.Spool()
    kept = folder.new_file()
    late = folder.new_file()
    folder.release(kept)  # while the spool is in use, a finished download keeps its file
    assert kept.exists()
    folder.remove()
    # A late download's write raced the removal and re-created its file in the folder.
    late.parent.mkdir()
    late.write_bytes(b"contact data")
    folder.release(late)
    assert list(tmp_path.glob(f"{spool.PREFIX}*")) == []


def test_a_killed_runs_spool_is_removed_by_the_next_run(
    big_api: FakeBackstory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    big_api.config.throttle_bytes_per_second = 2000  # downloads are in flight when killed
    config = one_window(big_api)
    killed = run_until_killed(tmp_path, config, _first_fragment_emitted)
    left = list(temp.glob(f"{spool.PREFIX}*"))
    assert len(left) == 1
    assert stat.S_IMODE(left[0].stat().st_mode) == 0o700
    big_api.config.throttle_bytes_per_second = None
    rerun = run_cli(tmp_path, config, state=killed.states[-1])
    assert rerun.returncode == 0
    assert "Removed 1 spool folder(s) left behind by killed runs" in rerun.stderr
    assert list(temp.glob(f"{spool.PREFIX}*")) == []


def _first_fragment_emitted(message: dict[str, t.Any]) -> bool:
    if message["type"] != "STATE":
        return False
    jobs = message["value"]["bookmarks"].get("enriched_contacts", {}).get("jobs", [])
    return any(entry["fragments_emitted"] for entry in jobs)
