"""End to end, as docs/meltano.md tells a new user: a fresh `meltano init` project adds the tap
from the Hub definition with `meltano add --from-ref`, configures it with `meltano config set`,
and runs a sync against the fake API (offline: pip_url points at this checkout)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from fake_backstory import FakeBackstory
from tests.e2e.test_meltano import REPO, STREAM, TAP, clean_environment, unavailable, yesterday

HUB_FILE = REPO / "hub" / f"{TAP}.yml"
# A loader defined the same way, so that nothing asks the (unreachable) Hub.
TARGET_JSONL = {
    "name": "target-jsonl",
    "namespace": "target_jsonl",
    "variant": "andyh1203",
    "pip_url": "target-jsonl==0.1.4",
    "executable": "target-jsonl",
    "settings": [
        {"name": "destination_path", "kind": "string"},
        {"name": "do_timestamp_file", "kind": "boolean"},
    ],
}


def meltano(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``meltano <args>`` in ``cwd``; its stdout, failing the test on an error."""
    executable = os.environ.get("MELTANO_BIN", "")
    if not (executable and os.access(executable, os.X_OK)):
        unavailable(f"MELTANO_BIN={executable!r} is not an executable meltano (run `make test`)")
    done = subprocess.run(
        [executable, *args],
        cwd=cwd,
        env={**clean_environment(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"meltano {' '.join(args)} exited {done.returncode}:\n{done.stderr[-5000:]}")
    return done.stdout


def test_add_from_ref_in_a_fresh_project_and_sync(api: FakeBackstory, tmp_path: Path) -> None:
    definition = yaml.safe_load(HUB_FILE.read_text())
    assert definition["pip_url"] == TAP
    definition["pip_url"] = str(REPO)  # the checkout, built and installed like a release
    tap_ref = tmp_path / f"{TAP}.yml"
    tap_ref.write_text(yaml.safe_dump(definition, sort_keys=False))
    target_ref = tmp_path / "target-jsonl.yml"
    target_ref.write_text(yaml.safe_dump(TARGET_JSONL, sort_keys=False))

    meltano(tmp_path, "init", "project", "--no-usage-stats")
    project = tmp_path / "project"
    meltano(project, "add", "--plugin-type", "extractor", TAP, "--from-ref", str(tap_ref))
    meltano(
        project, "add", "--plugin-type", "loader", "target-jsonl", "--from-ref", str(target_ref)
    )
    added = yaml.safe_load((project / "meltano.yml").read_text())
    (extractor,) = added["plugins"]["extractors"]
    assert extractor["commands"] == definition["commands"]
    assert [s["name"] for s in extractor["settings"]] == [s["name"] for s in definition["settings"]]

    last = yesterday() - timedelta(days=1)
    start = last - timedelta(days=2)
    api.config.data_last_day = last.isoformat()
    api.config.polls_queued = api.config.polls_running = 0
    for name, value in {
        "api_url": api.url,
        "start_date": start.isoformat(),
        "end_date": last.isoformat(),
        "poll_interval_seconds": "1",
        "poll_max_interval_seconds": "1",
    }.items():
        meltano(project, "config", "set", TAP, name, value)
    meltano(project, "config", "set", "target-jsonl", "do_timestamp_file", "false")
    env = {
        "TAP_BACKSTORY_CONTACTS_CLIENT_ID": api.config.client_id,
        "TAP_BACKSTORY_CONTACTS_CLIENT_SECRET": api.config.client_secret,
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "output"),
    }

    meltano(project, "test", TAP, env=env)
    assert api.created_jobs() == []
    meltano(project, "run", TAP, "target-jsonl", env=env)

    lines = (tmp_path / "output" / f"{STREAM}.jsonl").read_text().splitlines()
    expected = api.expected_records(start.isoformat(), last.isoformat())
    keys = [json.loads(line)["contact_key"] for line in lines]
    assert len(keys) == len(set(keys)) == len(expected) > 0
    state = json.loads(meltano(project, "state", "get", f"dev:{TAP}-to-target-jsonl", env=env))
    bookmark = state["singer_state"]["bookmarks"][STREAM]["replication_key_value"]
    assert bookmark == last.isoformat()
    installed = project / ".meltano" / "extractors" / TAP / "venv"
    assert list(installed.glob("lib/python3*/site-packages/tap_backstory_contacts/schemas/*.json"))
