"""End to end: the Dagster example runs two orgs' pipelines in process against two fake orgs into
two schemas of PostgreSQL (configured, or embedded), refuses an overlapping launch of one org's
pipeline, and shows a failed run's exit status and last error. Run by `nox -s dagster`."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from examples.dagster import backstory_dagster
from fake_backstory import FakeBackstory, FakeConfig
from local_postgres import Connection
from tests.e2e.postgres import (
    postgres,
    postgres_env,
    postgres_server,
    psql,
    row_counts,
)
from tests.e2e.test_deployment import ORGS, deployment
from tests.e2e.test_meltano import STREAM, Meltano, yesterday

__all__ = ["deployment", "postgres", "postgres_server"]  # fixtures used here
HERE = Path(__file__).resolve().parent


@pytest.fixture
def two_orgs(
    deployment: Meltano, postgres: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, FakeBackstory]]:
    """A fake API per org, and the environment the org plugins of the project read."""
    last = yesterday() - timedelta(days=1)
    start = last - timedelta(days=2)
    configs = {
        "org-a": FakeConfig(client_id="org-a-key", client_secret="org-a-secret", seed=1),
        "org-b": FakeConfig(client_id="org-b-key", client_secret="org-b-secret", seed=2),
    }
    with FakeBackstory(configs["org-a"]) as api_a, FakeBackstory(configs["org-b"]) as api_b:
        apis = {"org-a": api_a, "org-b": api_b}
        env = postgres_env(api_a, tmp_path, start, last)
        for var in ("CLIENT_ID", "CLIENT_SECRET", "API_URL"):
            del env[f"TAP_BACKSTORY_CONTACTS_{var}"]
        schemas = []
        for org, api in apis.items():
            api.config.data_last_day = last.isoformat()
            var = org_var(org)
            schema = f"dagster_{var.lower()}_{uuid.uuid4().hex[:8]}"
            schemas.append(schema)
            env[f"BACKSTORY_{var}_CLIENT_ID"] = api.config.client_id
            env[f"BACKSTORY_{var}_CLIENT_SECRET"] = api.config.client_secret
            env[f"BACKSTORY_{var}_SCHEMA"] = schema
            env[f"TAP_BACKSTORY_{var}_API_URL"] = api.url
        env["BACKSTORY_MELTANO_PROJECT"] = str(deployment.root)
        env["MELTANO_BIN"] = deployment.executable
        env["BACKSTORY_LOCK_DIR"] = str(tmp_path / "locks")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield apis
        for schema in schemas:
            psql(f"drop schema if exists {schema} cascade")


def run(job: dg.JobDefinition) -> dg.ExecuteInProcessResult:
    """Run ``job`` in process on an instance of its own, disposed of in the calling thread."""
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def failure(result: dg.ExecuteInProcessResult) -> dg.Failure | None:
    """The step failure's user error (its description and metadata), if the run failed."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.user_failure_data
            if error is not None:
                return dg.Failure(description=error.description, metadata=error.metadata)
    return None


def test_one_job_per_org_loads_each_org_into_its_schema_with_its_own_state(
    two_orgs: dict[str, FakeBackstory], deployment: Meltano
) -> None:
    defs = backstory_dagster.definitions(list(ORGS))
    env = dict(os.environ)
    tables = {org: f"{env[f'BACKSTORY_{org_var(org)}_SCHEMA']}.{STREAM}" for org in ORGS}
    for org, api in two_orgs.items():
        slug = org.replace("-", "_")
        result = run(defs.get_job_def(f"backstory_{slug}"))
        assert result.success
        assert result.output_for_node(f"meltano_run_{slug}") == 0
        (job,) = api.created_jobs()
        expected = api.expected_records(job.params["start_date"], job.params["end_date"])
        assert row_counts(tables[org]) == (len(expected), len(expected)) != (0, 0)
        state_id = f"dev:tap-backstory-{org}-to-target-postgres-{org}"
        assert deployment.bookmark(state_id, env) == job.params["end_date"]
    keys = {org: set(psql(f"select contact_key from {tables[org]}").split()) for org in ORGS}  # noqa: S608
    assert keys["org-a"]
    assert keys["org-b"]
    assert not keys["org-a"] & keys["org-b"]


def org_var(org: str) -> str:
    return org.upper().replace("-", "_")


def test_a_second_launch_of_a_running_org_is_refused(two_orgs: dict[str, FakeBackstory]) -> None:
    """While org-a's run waits on its export job, a second launch fails at once and creates no
    export job; the first run then completes with one job."""
    api = two_orgs["org-a"]
    api.config.job_seconds = 8.0  # the export job takes 8 s: the first run is still going
    job = backstory_dagster.definitions(["org-a"]).get_job_def("backstory_org_a")
    first: list[dg.ExecuteInProcessResult] = []
    thread = threading.Thread(target=lambda: first.append(run(job)))
    thread.start()
    deadline = time.monotonic() + 120
    while not api.created_jobs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.created_jobs(), "the first run created its export job"

    second = run(job)

    thread.join(timeout=300)
    assert not second.success
    refused = failure(second)
    assert refused is not None
    assert "still going" in (refused.description or "")
    assert first[0].success
    assert len(api.created_jobs()) == 1


def test_a_failed_run_shows_the_exit_status_and_last_error(
    two_orgs: dict[str, FakeBackstory], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKSTORY_ORG_B_CLIENT_SECRET", "wrong-secret")
    job = backstory_dagster.definitions(["org-b"]).get_job_def("backstory_org_b")

    result = run(job)

    assert not result.success
    failed = failure(result)
    assert failed is not None
    assert (failed.description or "").startswith("org-b: meltano run exited 1: ")
    assert failed.metadata["exit_status"].value == 1
    assert "wrong-secret" not in (failed.description or "")
    assert two_orgs["org-b"].created_jobs() == []


def test_dagster_yaml_queues_a_second_run_of_the_same_org(tmp_path: Path) -> None:
    """The shipped instance settings load, with one run at a time per `backstory/org` value."""
    (tmp_path / "dagster.yaml").write_text((HERE / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        limits = coordinator.get_run_queue_config().tag_concurrency_limits  # type: ignore[attr-defined]
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    assert limits == [
        {"key": backstory_dagster.ORG_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
