"""The environment wins over a `.env` file on every path (`--config ENV` runs and `--test`),
and a `.env` still supplies what the environment lacks (as .env.example promises)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fake_backstory import FakeBackstory
from tests.conftest import END, START
from tests.singer_run import SyncOutput

PREFIX = "TAP_BACKSTORY_CONTACTS_"
# The tap's CLI, with the SDK's .env search (from its installation upward) pointed at the
# current folder's .env, as it reaches a Meltano project's root: the SDK loads that file.
CLI = (
    "import singer_sdk.configuration._dict_config as sdk_env\n"
    "sdk_env.find_dotenv = lambda *args, **kwargs: '.env'\n"
    "from tap_backstory_contacts.tap import TapBackstoryContacts\n"
    "TapBackstoryContacts.cli()\n"
)


def run_tap(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The tap with ``--config ENV`` in ``cwd``, given only ``env`` of the tap's variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    return subprocess.run(
        [sys.executable, "-c", CLI, "--config", "ENV", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(Path(__file__).parents[1]), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings(api: FakeBackstory, **extra: str) -> dict[str, str]:
    values = {
        "CLIENT_ID": api.config.client_id,
        "CLIENT_SECRET": api.config.client_secret,
        "API_URL": api.url,
        "START_DATE": START,
        "END_DATE": END,
        "POLL_INTERVAL_SECONDS": "0.01",
        "POLL_MAX_INTERVAL_SECONDS": "0.05",
        **extra,
    }
    return {PREFIX + name: value for name, value in values.items()}


def write_dotenv(folder: Path, values: dict[str, str]) -> None:
    (folder / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))


def test_a_stale_dotenv_secret_loses_to_the_environment_in_the_connection_test(
    api: FakeBackstory, tmp_path: Path
) -> None:
    write_dotenv(tmp_path, {PREFIX + "CLIENT_SECRET": "stale-secret"})
    done = run_tap(tmp_path, settings(api), "--test")
    assert done.returncode == 0, done.stderr
    assert "Connection test passed" in done.stderr
    assert api.count("create") == 0


def test_a_stale_dotenv_loses_to_the_environment_in_a_run(
    api: FakeBackstory, tmp_path: Path
) -> None:
    write_dotenv(
        tmp_path,
        {
            PREFIX + "CLIENT_SECRET": "stale-secret",
            PREFIX + "API_URL": "http://127.0.0.1:9/wrong",
            PREFIX + "START_DATE": "2026-01-09",
        },
    )
    done = run_tap(tmp_path, settings(api))
    assert done.returncode == 0, done.stderr
    output = SyncOutput.parse(done.stdout)
    assert len(output.records) == 50  # from START, not the .env's later start_date
    assert output.bookmark() == END


def test_the_dotenv_supplies_what_the_environment_lacks(api: FakeBackstory, tmp_path: Path) -> None:
    env = settings(api)
    secret = env.pop(PREFIX + "CLIENT_SECRET")
    write_dotenv(tmp_path, {PREFIX + "CLIENT_SECRET": secret, PREFIX + "CLIENT_ID": "stale-id"})
    done = run_tap(tmp_path, env, "--test")
    assert done.returncode == 0, done.stderr
    assert f"client_id '{api.config.client_id}' got a token" in done.stderr

    write_dotenv(tmp_path, {PREFIX + "CLIENT_SECRET": "wrong-secret"})
    refused = run_tap(tmp_path, env, "--test")
    assert refused.returncode == 1
    assert "Connection test failed" in refused.stderr
