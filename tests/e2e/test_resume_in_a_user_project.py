"""End to end, in a user's own project set up by running docs/meltano.md's setup block as
written (`meltano init`, the tap from its Hub definition, target-postgres from
hub/target-postgres.yml, BATCH on, the tuned loader): `meltano run` stopped mid-backfill by
SIGTERM, or killed with SIGKILL, resumes from the last window the loader's drain forwarded.

One thing differs from a user's project: target-postgres (Singer SDK) drains, and forwards the
tap's STATE, when a message arrives 5 minutes after its last drain. A ``.pth`` file in the
loader's virtualenv shortens that to DRAIN_SECONDS, so that a run can pass several drains
within a test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory, FakeConfig
from local_postgres import Connection
from tests.doc_blocks import section_blocks
from tests.e2e.postgres import psql, target_env
from tests.e2e.test_meltano import REPO, STREAM, TAP, clean_environment, unavailable, yesterday

DRAIN_SECONDS = 3
DRAIN_PTH = (
    'import os; os.environ.get("BACKSTORY_E2E_DRAIN_SECONDS") '
    'and __import__("backstory_e2e_drain")\n'
)
DRAIN_MODULE = """\"\"\"Test only: the Singer SDK target's 5-minute drain period, shortened.\"\"\"
import os
from singer_sdk import target_base
seconds = float(os.environ["BACKSTORY_E2E_DRAIN_SECONDS"])
target_base.Target._MAX_RECORD_AGE_IN_MINUTES = seconds / 60
"""
WINDOW_DAYS = 14  # the tap's default window_days
WINDOWS = 10


def meltano_bin() -> str:
    executable = os.environ.get("MELTANO_BIN", "")
    if not (executable and os.access(executable, os.X_OK)):
        unavailable(f"MELTANO_BIN={executable!r} is not an executable meltano (run `make test`)")
    return executable


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, postgres_server: Connection) -> Path:
    """A project made by docs/meltano.md's setup block, run as a user would run it."""
    executable = meltano_bin()
    home = tmp_path_factory.mktemp("user")
    (home / "tap-backstory-contacts").symlink_to(REPO)  # "where you cloned this repository"
    block = section_blocks(REPO / "docs" / "meltano.md", "Set up a project")[0]
    env = clean_environment()
    env["PATH"] = f"{Path(executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        [shutil.which("bash") or "bash", "-euo", "pipefail", "-c", block.text],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{block.where} failed:\n{done.stderr[-5000:]}"
    root = home / "my-project"
    (site,) = (root / ".meltano" / "loaders" / "target-postgres" / "venv").glob(
        "lib/python3*/site-packages"
    )
    (site / "backstory_e2e_drain.pth").write_text(DRAIN_PTH)
    (site / "backstory_e2e_drain.py").write_text(DRAIN_MODULE)
    return root


@pytest.fixture
def schema(postgres_schema: str) -> str:
    """The target's schema for one test (dropped afterwards)."""
    return postgres_schema


def saved_bookmark(database: Path, state_id: str) -> str | None:
    """The bookmark in Meltano's system database, read directly (no meltano process)."""
    if not database.exists():
        return None
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        try:
            rows = connection.execute(
                "select partial_state, completed_state from state where state_id = ?",
                (state_id,),
            ).fetchall()
        except sqlite3.OperationalError:
            return None  # not created yet
    found = []
    for row in rows:
        for text in row:
            bookmarks = json.loads(text or "{}").get("singer_state", {}).get("bookmarks", {})
            value = bookmarks.get(STREAM, {}).get("replication_key_value")
            if value:
                found.append(value)
    return max(found, default=None)


def group_ended(group: int, seconds: float = 30) -> bool:
    """Whether no live process of ``group`` is left within ``seconds`` (a zombie that nobody
    reaps has ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[2]) == group and fields[0] != "Z":
                alive.append(stat.parent.name)
        if not alive:
            return True
        time.sleep(0.2)
    return False


def window_ends(start: date) -> list[str]:
    return [(start + timedelta(days=WINDOW_DAYS * (n + 1) - 1)).isoformat() for n in range(WINDOWS)]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_stopped_backfill_resumes_from_the_last_forwarded_window(
    project: Path, schema: str, tmp_path: Path, stop: signal.Signals
) -> None:
    last = yesterday() - timedelta(days=1)
    start = last - timedelta(days=WINDOW_DAYS * WINDOWS - 1)
    ends = window_ends(start)
    assert ends[-1] == last.isoformat()
    database = tmp_path / "meltano.db"
    state_id = f"dev:{TAP}-to-target-postgres"
    config = FakeConfig(contacts_per_day=3, job_seconds=1.5, polls_queued=0, polls_running=0)
    with FakeBackstory(config) as api:
        api.config.data_last_day = last.isoformat()
        env = {
            **clean_environment(),
            "MELTANO_DATABASE_URI": f"sqlite:///{database}",
            "TAP_BACKSTORY_CONTACTS_API_URL": api.url,
            "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
            "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
            "TAP_BACKSTORY_CONTACTS_START_DATE": start.isoformat(),
            "TAP_BACKSTORY_CONTACTS_END_DATE": last.isoformat(),
            "TAP_BACKSTORY_CONTACTS_MAX_CONCURRENT_JOBS": "1",
            "TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS": "1",
            "TAP_BACKSTORY_CONTACTS_POLL_MAX_INTERVAL_SECONDS": "1",
            **target_env(schema),
            "BACKSTORY_E2E_DRAIN_SECONDS": str(DRAIN_SECONDS),
        }
        run = [meltano_bin(), "run", TAP, "target-postgres"]
        with subprocess.Popen(
            run,
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ) as process:
            seen = None
            deadline = time.monotonic() + 240
            # Mid-backfill, after a drain forwarded a bookmark past the first windows.
            while seen is None or seen < ends[2]:
                assert process.poll() is None, "the run ended before it could be stopped"
                assert time.monotonic() < deadline, f"no bookmark past {ends[2]} saved"
                time.sleep(0.2)
                seen = saved_bookmark(database, state_id)
            if stop == signal.SIGKILL:
                os.killpg(process.pid, signal.SIGKILL)  # meltano, the tap and the loader
            else:
                process.send_signal(signal.SIGTERM)  # meltano alone, as a scheduler does
            process.wait(timeout=120)
        assert group_ended(process.pid), "a process of the stopped run is left"

        bookmark = json.loads(
            subprocess.run(
                [meltano_bin(), "state", "get", state_id],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        )["singer_state"]["bookmarks"][STREAM]["replication_key_value"]
        assert bookmark in ends[2:-1], "a window end, mid-backfill"
        assert bookmark >= seen
        table = f"{schema}.{STREAM}"
        where = f"export_end_date <= '{bookmark}'"
        loaded = psql(f"select count(distinct contact_key) from {table} where {where}")  # noqa: S608
        assert int(loaded) == len(api.expected_records(start.isoformat(), bookmark))

        jobs_before = len(api.created_jobs())
        done = meltano_run(project, env, *(["--force"] if stop == signal.SIGKILL else []))
        assert done.returncode == 0, done.stderr[-5000:]
        new_jobs = api.created_jobs()[jobs_before:]
        assert new_jobs
        assert all(job.params["start_date"] > bookmark for job in new_jobs), [
            (job.params["start_date"], job.params["end_date"]) for job in new_jobs
        ]
        expected = len(api.expected_records(start.isoformat(), last.isoformat()))
        rows, keys = psql(f"select count(*), count(distinct contact_key) from {table}").split("|")  # noqa: S608
        assert (int(rows), int(keys)) == (expected, expected)


def meltano_run(
    project: Path, env: dict[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    """`meltano run` of the tap into target-postgres in ``project``, to its end."""
    return subprocess.run(
        [meltano_bin(), "run", *options, TAP, "target-postgres"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def user_env(api: FakeBackstory, tmp_path: Path, schema: str, **settings: str) -> dict[str, str]:
    """The fake API, the loader's connection and a system database of the test's own."""
    return {
        **clean_environment(),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_BACKSTORY_CONTACTS_API_URL": api.url,
        "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
        "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
        "TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS": "1",
        **target_env(schema),
        **{f"TAP_BACKSTORY_CONTACTS_{name.upper()}": value for name, value in settings.items()},
    }


@pytest.mark.parametrize(
    ("setting", "typo"),
    [
        ("start_date", "2026-13-01"),
        ("start_date", "01-10-2026"),
        ("end_date", "2026/10/01"),
        ("end_date", "Oct 1 2026"),
    ],
)
def test_a_date_typo_stops_meltano_run_naming_the_setting(
    project: Path, api: FakeBackstory, schema: str, tmp_path: Path, setting: str, typo: str
) -> None:
    """Meltano passes the dates as written (kind string): its lenient parser would have read
    2026-13-01 as 2026-01-13. The tap refuses them, as it does when run alone."""
    dates = {"start_date": "2026-01-01", "end_date": "2026-01-31", setting: typo}
    env = user_env(api, tmp_path, schema, **dates)
    done = meltano_run(project, env)
    assert done.returncode != 0
    assert f"{setting}: {typo!r} is not a date in YYYY-MM-DD form" in done.stderr
    assert api.requests == []


def test_relative_dates_run_under_meltano(
    project: Path, api: FakeBackstory, schema: str, tmp_path: Path
) -> None:
    """`30 days ago` and `28 days ago`, as written in a user's settings, extract those days."""
    api.config.polls_queued = api.config.polls_running = 0
    today = yesterday() + timedelta(days=1)
    first, last = today - timedelta(days=30), today - timedelta(days=28)
    api.config.data_last_day = last.isoformat()
    env = user_env(api, tmp_path, schema, start_date="30 days ago", end_date="28 days ago")
    done = meltano_run(project, env)
    assert done.returncode == 0, done.stderr[-5000:]
    jobs = [(job.params["start_date"], job.params["end_date"]) for job in api.created_jobs()]
    assert jobs == [(first.isoformat(), last.isoformat())]
    expected = len(api.expected_records(first.isoformat(), last.isoformat()))
    rows = psql(f"select count(distinct contact_key) from {schema}.{STREAM}")  # noqa: S608
    assert int(rows) == expected > 0
