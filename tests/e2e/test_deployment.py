"""End to end, as a deployment runs the tap (docs/meltano.md, docs/production.md): Meltano's
relative dates, `meltano test`, a backfill under its own state ID, Meltano's system database in
PostgreSQL, and one pipeline per org through plugin inheritance.

Uses meltano.yml (plus the two inherited org plugins of docs/production.md) in a temporary copy
installed once per session. PostgreSQL is the configured server or an embedded one
(tests/e2e/postgres.py). Without meltano these tests are skipped, or fail under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from fake_backstory import FakeBackstory, FakeConfig
from local_postgres import Connection
from tests.e2e.postgres import postgres_env, psql, row_counts, system_database_uri
from tests.e2e.test_meltano import (
    RECORDS_ONLY,
    REPO,
    STREAM,
    TAP,
    Meltano,
    clean_environment,
    project_file,
    tap_env,
    unavailable,
    yesterday,
)

ORGS = ("org-a", "org-b")


def org_plugins() -> dict[str, list[dict[str, t.Any]]]:
    """One extractor and one loader per org, inheriting from the project's (as in the docs)."""
    extractors = []
    loaders = []
    for org in ORGS:
        var = org.upper().replace("-", "_")
        extractors.append(
            {
                "name": f"tap-backstory-{org}",
                "inherit_from": TAP,
                "config": {
                    "client_id": f"${{BACKSTORY_{var}_CLIENT_ID}}",
                    "client_secret": f"${{BACKSTORY_{var}_CLIENT_SECRET}}",
                },
            }
        )
        loaders.append(
            {
                "name": f"target-postgres-{org}",
                "inherit_from": "target-postgres",
                "config": {"default_target_schema": f"${{BACKSTORY_{var}_SCHEMA}}"},
            }
        )
    return {"extractors": extractors, "loaders": loaders}


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Meltano:
    """meltano.yml plus the org plugins, installed once for this module's tests."""
    executable = os.environ.get("MELTANO_BIN", "")
    if not (executable and os.access(executable, os.X_OK)):
        unavailable(f"MELTANO_BIN={executable!r} is not an executable meltano (run `make test`)")
    root = tmp_path_factory.mktemp("meltano-deployment")
    project = yaml.safe_load(project_file((REPO / "meltano.yml").read_text()))
    for kind, plugins in org_plugins().items():
        project["plugins"][kind] += plugins
    (root / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    meltano = Meltano(executable, root)
    meltano.run("install", env={}, timeout=600)
    return meltano


def meltano_raw(
    project: Meltano, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``meltano <args>`` whatever its exit code."""
    return subprocess.run(
        [project.executable, *args],
        cwd=project.root,
        env={**clean_environment(), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def job_windows(api: FakeBackstory) -> list[tuple[str, str]]:
    return [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]


def test_relative_start_date_runs_end_to_end(
    deployment: Meltano, api: FakeBackstory, tmp_path: Path
) -> None:
    """`start_date: 90 days ago`, passed by Meltano as written, extracts from that UTC day."""
    before = datetime.now(UTC).date()
    api.config.data_last_day = yesterday().isoformat()
    env = tap_env(api, tmp_path, before, before)
    env["TAP_BACKSTORY_CONTACTS_START_DATE"] = "90 days ago"
    env["TAP_BACKSTORY_CONTACTS_END_DATE"] = "88 days ago"
    env["TAP_BACKSTORY_CONTACTS_BATCH_CONFIG"] = RECORDS_ONLY  # target-jsonl reads no BATCH
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "output")

    config = json.loads(deployment.run("config", "print", TAP, "--format=json", env=env))
    assert config["start_date"] == "90 days ago"  # a string setting: the tap parses it
    deployment.run("run", TAP, "target-jsonl", env=env)

    after = datetime.now(UTC).date()
    expected = {
        ((day - timedelta(days=90)).isoformat(), (day - timedelta(days=88)).isoformat())
        for day in (before, after)
    }
    (window,) = job_windows(api)
    assert window in expected
    lines = (tmp_path / "output" / f"{STREAM}.jsonl").read_text().splitlines()
    assert len(lines) == len(api.expected_records(*window)) > 0
    state_id = f"dev:{TAP}-to-target-jsonl"
    assert deployment.bookmark(state_id, env) == window[1]


def test_meltano_test_checks_the_connection_without_creating_a_job(
    deployment: Meltano, api: FakeBackstory, tmp_path: Path
) -> None:
    env = tap_env(api, tmp_path, yesterday(), yesterday())
    env["TAP_BACKSTORY_CONTACTS_START_DATE"] = "90 days ago"

    passed = meltano_raw(deployment, "test", TAP, env=env)
    assert passed.returncode == 0, passed.stderr[-3000:]
    assert "Connection test passed" in passed.stdout + passed.stderr
    assert api.count("token") == 1
    assert api.count("create") == 0
    assert api.created_jobs() == []

    env["TAP_BACKSTORY_CONTACTS_CLIENT_SECRET"] = "wrong-secret"
    failed = meltano_raw(deployment, "test", TAP, env=env)
    assert failed.returncode != 0
    assert "Connection test failed" in failed.stdout + failed.stderr
    assert "wrong-secret" not in failed.stdout + failed.stderr
    assert api.created_jobs() == []


def test_backfill_under_a_state_id_suffix_leaves_the_main_state_alone(
    deployment: Meltano, api: FakeBackstory, tmp_path: Path
) -> None:
    """docs/meltano.md's backfill recipe: own dates, own state, main bookmark untouched."""
    last = yesterday() - timedelta(days=1)
    api.config.data_last_day = last.isoformat()
    env = tap_env(api, tmp_path, last - timedelta(days=2), last)
    env["TAP_BACKSTORY_CONTACTS_BATCH_CONFIG"] = RECORDS_ONLY  # target-jsonl reads no BATCH
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "output")
    main_id = f"dev:{TAP}-to-target-jsonl"
    deployment.run("run", TAP, "target-jsonl", env=env)
    assert deployment.bookmark(main_id, env) == last.isoformat()
    main_state = deployment.run("state", "get", main_id, env=env)

    backfill_start, backfill_end = last - timedelta(days=30), last - timedelta(days=25)
    backfill = {
        **env,
        "TAP_BACKSTORY_CONTACTS_START_DATE": backfill_start.isoformat(),
        "TAP_BACKSTORY_CONTACTS_END_DATE": backfill_end.isoformat(),
    }
    deployment.run("run", "--state-id-suffix", "backfill", TAP, "target-jsonl", env=backfill)

    assert job_windows(api)[-1] == (backfill_start.isoformat(), backfill_end.isoformat())
    assert deployment.run("state", "get", main_id, env=env) == main_state
    assert deployment.bookmark(f"{main_id}:backfill", env) == backfill_end.isoformat()
    ids = deployment.run("state", "list", env=env).split()
    assert sorted(ids) == sorted([main_id, f"{main_id}:backfill"])


def test_state_lives_in_a_postgres_system_database(
    deployment: Meltano,
    api: FakeBackstory,
    postgres_database: str,
    org_schemas: dict[str, str],
    tmp_path: Path,
) -> None:
    """docs/production.md: MELTANO_DATABASE_URI in PostgreSQL holds state and the job ledger."""
    last = yesterday() - timedelta(days=1)
    api.config.data_last_day = last.isoformat()
    env = postgres_env(api, tmp_path, last - timedelta(days=3), last)
    env["MELTANO_DATABASE_URI"] = system_database_uri(postgres_database)
    schema = org_schemas["main"]
    env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    state_id = f"dev:{TAP}-to-target-postgres"

    deployment.run("run", TAP, "target-postgres", env=env)

    assert deployment.bookmark(state_id, env) == last.isoformat()
    stored = psql(
        f"select completed_state from state where state_id = '{state_id}'",  # noqa: S608
        database=postgres_database,
    )
    bookmark = json.loads(stored)["singer_state"]["bookmarks"][STREAM]
    assert bookmark["replication_key_value"] == last.isoformat()
    assert bookmark["jobs"] == []  # the job ledger, in the same row
    assert not (tmp_path / "meltano.db").exists()
    expected = len(api.expected_records((last - timedelta(days=3)).isoformat(), last.isoformat()))
    assert row_counts(f"{schema}.{STREAM}") == (expected, expected)


@pytest.fixture
def org_schemas(postgres: Connection) -> Iterator[dict[str, str]]:
    """A PostgreSQL schema per org (and one for a single pipeline), dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    schemas = {org: f"backstory_{org.replace('-', '_')}_{suffix}" for org in (*ORGS, "main")}
    yield schemas
    for schema in schemas.values():
        psql(f"drop schema if exists {schema} cascade")


def test_two_orgs_run_as_two_pipelines_into_two_schemas(
    deployment: Meltano, org_schemas: dict[str, str], tmp_path: Path
) -> None:
    """Each org: its own fake API and credentials, schema and state ID; neither sees the other."""
    last = yesterday() - timedelta(days=1)
    start = last - timedelta(days=2)
    configs = {
        "org-a": FakeConfig(client_id="org-a-key", client_secret="org-a-secret", seed=1),
        "org-b": FakeConfig(
            client_id="org-b-key", client_secret="org-b-secret", seed=2, contacts_per_day=3
        ),
    }
    with FakeBackstory(configs["org-a"]) as api_a, FakeBackstory(configs["org-b"]) as api_b:
        apis = {"org-a": api_a, "org-b": api_b}
        env = postgres_env(api_a, tmp_path, start, last)
        for var in ("CLIENT_ID", "CLIENT_SECRET", "API_URL"):
            del env[f"TAP_BACKSTORY_CONTACTS_{var}"]
        for org, api in apis.items():
            api.config.data_last_day = last.isoformat()
            var = org.upper().replace("-", "_")
            env[f"BACKSTORY_{var}_CLIENT_ID"] = api.config.client_id
            env[f"BACKSTORY_{var}_CLIENT_SECRET"] = api.config.client_secret
            env[f"BACKSTORY_{var}_SCHEMA"] = org_schemas[org]
            env[f"TAP_BACKSTORY_{var}_API_URL"] = api.url

        for org in ORGS:
            deployment.run("run", f"tap-backstory-{org}", f"target-postgres-{org}", env=env)

        for org, api in apis.items():
            expected = api.expected_records(start.isoformat(), last.isoformat())
            assert job_windows(api) == [(start.isoformat(), last.isoformat())]
            assert row_counts(f"{org_schemas[org]}.{STREAM}") == (len(expected), len(expected))
            state_id = f"dev:tap-backstory-{org}-to-target-postgres-{org}"
            assert deployment.bookmark(state_id, env) == last.isoformat()
        keys = {
            org: set(psql(f"select contact_key from {org_schemas[org]}.{STREAM}").split())  # noqa: S608
            for org in ORGS
        }
        assert keys["org-a"] != keys["org-b"]
        assert len(api_b.expected_records(start.isoformat(), last.isoformat())) < len(
            api_a.expected_records(start.isoformat(), last.isoformat())
        )
