"""End to end: `meltano run` of the tap against the fake API into target-jsonl and target-postgres.

Meltano runs from MELTANO_BIN (``make test`` sets it) on a temporary copy of meltano.yml whose
plugins are installed once per session. PostgreSQL is the configured server or an embedded one
(tests/e2e/postgres.py). Without meltano these tests are skipped, or fail under CI=true, where
everything must run.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import typing as t
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from fake_backstory import FakeBackstory
from local_postgres import Connection
from tests.e2e.postgres import postgres_env, psql, row_counts

# Kept importable from here for tests that import them from this module.
__all__ = ["postgres_env", "psql", "row_counts"]

REPO = Path(__file__).resolve().parents[2]
TAP = "tap-backstory-contacts"
STREAM = "enriched_contacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Config of the copied project's extractor (the fake API's jobs finish within a few polls).
# Fractional values must be in meltano.yml: from the environment Meltano casts them to int.
TEST_CONFIG = {"poll_interval_seconds": 0.05, "poll_max_interval_seconds": 0.2, "window_days": 7}
# Variables of the developer's shell that would change what the copied project does.
FOREIGN_PREFIXES = ("TAP_BACKSTORY_CONTACTS_", "TARGET_JSONL_", "TARGET_POSTGRES_", "MELTANO_")
# What `make demo` and docs/batch-files.md use for target-jsonl, which cannot read BATCH.
RECORDS_ONLY = '{"enabled": false}'


def unavailable(reason: str) -> t.NoReturn:
    """Skip for ``reason``; under CI=true fail instead, since CI must run every test."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: end-to-end tests must run)")
    pytest.skip(reason)


class Meltano:
    """A Meltano project in a temporary directory, driven through the meltano CLI."""

    def __init__(self, executable: str, root: Path) -> None:
        self.executable = executable
        self.root = root

    def run(self, *args: str, env: dict[str, str], timeout: float = 300) -> str:
        """Run ``meltano <args>`` in the project; return stdout, fail the test on an error."""
        done = subprocess.run(
            [self.executable, *args],
            cwd=self.root,
            env={**clean_environment(), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            command = " ".join(args)
            pytest.fail(f"meltano {command} exited {done.returncode}:\n{done.stderr[-5000:]}")
        return done.stdout

    def bookmark(self, state_id: str, env: dict[str, str]) -> t.Any:
        """The stream's replication_key_value in Meltano's saved state ``state_id``."""
        state = json.loads(self.run("state", "get", state_id, env=env))
        return state["singer_state"]["bookmarks"][STREAM]["replication_key_value"]


def clean_environment() -> dict[str, str]:
    """This process's environment without settings meant for other Meltano projects."""
    return {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}


def tap_plugin(project: dict[str, t.Any]) -> dict[str, t.Any]:
    """The tap's entry under ``plugins.extractors`` of a parsed meltano.yml."""
    (extractor,) = (p for p in project["plugins"]["extractors"] if p["name"] == TAP)
    return extractor


def project_file(text: str) -> str:
    """The repo's meltano.yml, with the tap installed from this checkout and fast polling."""
    project = yaml.safe_load(text)
    extractor = tap_plugin(project)
    extractor["pip_url"] = f"-e {REPO}"
    extractor.setdefault("config", {}).update(TEST_CONFIG)
    return yaml.safe_dump(project, sort_keys=False)


@pytest.fixture(scope="session")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> Meltano:
    """A copy of meltano.yml with every plugin installed, shared by the session's tests."""
    executable = os.environ.get("MELTANO_BIN", "")
    if not (executable and os.access(executable, os.X_OK)):
        unavailable(f"MELTANO_BIN={executable!r} is not an executable meltano (run `make test`)")
    root = tmp_path_factory.mktemp("meltano-project")
    (root / "meltano.yml").write_text(project_file((REPO / "meltano.yml").read_text()))
    project = Meltano(executable, root)
    project.run("install", env={}, timeout=600)
    return project


def tap_env(api: FakeBackstory, tmp_path: Path, start: date, end: date) -> dict[str, str]:
    """Settings for one test: the fake API, the date range and a state database of its own."""
    return {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_BACKSTORY_CONTACTS_API_URL": api.url,
        "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
        "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
        "TAP_BACKSTORY_CONTACTS_START_DATE": start.isoformat(),
        "TAP_BACKSTORY_CONTACTS_END_DATE": end.isoformat(),
    }


def yesterday() -> date:
    """The last complete UTC day: the tap never extracts past it."""
    return datetime.now(UTC).date() - timedelta(days=1)


def test_jsonl_receives_every_contact_once(
    meltano: Meltano, api: FakeBackstory, tmp_path: Path
) -> None:
    """A 10-day first run lands exactly the API's contacts and bookmarks the last day."""
    start, end = yesterday() - timedelta(days=13), yesterday() - timedelta(days=4)
    api.config.data_last_day = yesterday().isoformat()
    env = tap_env(api, tmp_path, start, end)
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "output")
    env["TAP_BACKSTORY_CONTACTS_BATCH_CONFIG"] = RECORDS_ONLY
    batch_files_before = batch_files(meltano)

    meltano.run("run", TAP, "target-jsonl", env=env)

    lines = (tmp_path / "output" / f"{STREAM}.jsonl").read_text().splitlines()
    keys = [json.loads(line)["contact_key"] for line in lines]
    assert len(keys) == len(api.expected_records(start.isoformat(), end.isoformat())) > 0
    assert len(set(keys)) == len(keys)
    assert meltano.bookmark(f"dev:{TAP}-to-target-jsonl", env) == end.isoformat()
    assert batch_files(meltano) == batch_files_before


def batch_files(meltano: Meltano) -> list[Path]:
    """The files in the BATCH directory meltano.yml ships (under the project's .meltano/)."""
    directory = batch_directory(meltano)
    return sorted(directory.iterdir()) if directory.exists() else []


def batch_directory(meltano: Meltano) -> Path:
    """Where the shipped meltano.yml has the tap write BATCH files."""
    return meltano.root / ".meltano" / "batches" / TAP


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_shipped_pipeline_loads_batch_files_once_and_updates_re_extracted_rows(
    meltano: Meltano, api: FakeBackstory, postgres_schema: str, tmp_path: Path
) -> None:
    """As shipped: BATCH files (owner-only, removed by the next run) into a tuned loader; one
    row per contact, an immediate second run adds none, a re-extracted window updates rows."""
    last = yesterday() - timedelta(days=2)
    start = last - timedelta(days=6)
    api.config.data_last_day = last.isoformat()
    env = postgres_env(api, tmp_path, start, last, postgres_schema)
    table = f"{postgres_schema}.{STREAM}"
    loader = json.loads(meltano.run("config", "print", "target-postgres", env=env))
    assert (loader["use_copy"], loader["validate_records"], loader["batch_size_rows"]) == (
        True,
        False,
        100000,
    )

    meltano.run("run", TAP, "target-postgres", env=env)
    expected = len(api.expected_records(start.isoformat(), last.isoformat()))
    assert row_counts(table) == (expected, expected)
    assert expected > 0
    files = batch_files(meltano)
    assert files, "the shipped meltano.yml sends BATCH messages"
    assert [mode(path) for path in files] == [0o600] * len(files)
    assert mode(batch_directory(meltano)) == 0o700

    jobs = len(api.created_jobs())
    meltano.run("run", TAP, "target-postgres", env=env)
    assert row_counts(table) == (expected, expected)
    assert len(api.created_jobs()) == jobs
    assert batch_files(meltano) == [], "the second run removed the first run's files"

    env["TAP_BACKSTORY_CONTACTS_LOOKBACK_DAYS"] = "2"
    meltano.run("run", TAP, "target-postgres", env=env)
    (job,) = api.created_jobs()[jobs:]
    assert (job.params["start_date"], job.params["end_date"]) == (
        (last - timedelta(days=1)).isoformat(),
        last.isoformat(),
    )
    assert row_counts(table) == (expected, expected)
    updated = psql(f"select count(*) from {table} where export_job_id = '{job.job_id}'")  # noqa: S608
    assert int(updated) == len(api.expected_records(job.params["start_date"], last.isoformat()))


def test_postgres_second_run_is_incremental(
    meltano: Meltano, api: FakeBackstory, postgres_schema: str, tmp_path: Path
) -> None:
    """A second run asks for the one new day only, and the table holds every contact once."""
    last = yesterday() - timedelta(days=2)
    start, new_day = last - timedelta(days=6), last + timedelta(days=1)
    api.config.data_last_day = last.isoformat()
    env = postgres_env(api, tmp_path, start, last, postgres_schema)
    table = f"{postgres_schema}.{STREAM}"
    state_id = f"dev:{TAP}-to-target-postgres"

    meltano.run("run", TAP, "target-postgres", env=env)
    expected = len(api.expected_records(start.isoformat(), last.isoformat()))
    assert row_counts(table) == (expected, expected)
    assert expected > 0
    assert meltano.bookmark(state_id, env) == last.isoformat()

    jobs_before = len(api.created_jobs())
    api.config.data_last_day = new_day.isoformat()
    env["TAP_BACKSTORY_CONTACTS_END_DATE"] = new_day.isoformat()
    meltano.run("run", TAP, "target-postgres", env=env)

    jobs = api.created_jobs()
    assert len(jobs) == jobs_before + 1
    assert (jobs[-1].params["start_date"], jobs[-1].params["end_date"]) == (
        new_day.isoformat(),
        new_day.isoformat(),
    )
    expected = len(api.expected_records(start.isoformat(), new_day.isoformat()))
    assert expected > 0
    assert row_counts(table) == (expected, expected)
    assert meltano.bookmark(state_id, env) == new_day.isoformat()


def test_quick_pipeline_benchmark_runs_on_the_installed_project(
    meltano: Meltano, postgres: Connection
) -> None:
    """`make bench`'s end-to-end case still runs (its figures are judged there, not here)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "pipeline-postgres"],
        cwd=REPO,
        env={
            **os.environ,
            "BENCH_MELTANO_PROJECT": str(meltano.root),
            "MELTANO_BIN": meltano.executable,
            **postgres.libpq_env(),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| pipeline into")]
    assert [row.split("|")[3].strip() for row in rows] == ["2,000", "2,000", "0", "2,000"]
    assert "meltano run as shipped" in rows[1]
    assert "psql \\copy" in rows[3]
