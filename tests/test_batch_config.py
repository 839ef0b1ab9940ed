"""batch_config is checked with the other settings: a partial or invalid one stops the run
before any request, naming batch_config; relative dates are the tap's own (Meltano passes
them as written)."""

from __future__ import annotations

import datetime
import json
import os
import typing as t
from pathlib import Path

import pytest

from fake_backstory import FakeBackstory
from tap_backstory_contacts import clock
from tap_backstory_contacts.tap import TapBackstoryContacts
from tests.conftest import make_config
from tests.singer_run import SyncOutput, run_cli, sync

COMPLETE = {
    "encoding": {"format": "jsonl", "compression": "gzip"},
    "storage": {"root": "file:///tmp/unused"},
    "batch_size": 100,
}


@pytest.mark.parametrize(
    ("batch_config", "message"),
    [
        # What docs/batch-files.md used to show: the SDK crashed on it with a TypeError.
        (
            {"storage": {"root": "file:///var/lib/backstory/batches"}},
            "batch_config: encoding.format, encoding.compression, batch_size missing",
        ),
        (
            {**COMPLETE, "storage": {"prefix": "b-"}},
            "batch_config: storage.root missing",
        ),
        ({**COMPLETE, "enabled": "maybe"}, "batch_config: enabled 'maybe' is neither"),
        (
            {**COMPLETE, "encoding": {"format": "csv", "compression": "gzip"}},
            "'csv' is not one of ['jsonl', 'parquet'] in config['batch_config']['encoding']",
        ),
        ({**COMPLETE, "batch_size": 0}, "in config['batch_config']['batch_size']"),
    ],
)
def test_an_unusable_batch_config_stops_the_run_before_any_request(
    api: FakeBackstory, tmp_path: Path, batch_config: dict[str, t.Any], message: str
) -> None:
    done = run_cli(tmp_path, make_config(api, batch_config=batch_config))
    assert done.returncode == 1
    assert message in done.stderr
    assert "TypeError" not in done.stderr
    assert "Traceback" not in done.stderr
    assert api.requests == []


@pytest.mark.parametrize("batch_config", [{"enabled": False}, {"enabled": "off"}, {}])
def test_batch_off_needs_no_other_part(api: FakeBackstory, batch_config: dict[str, t.Any]) -> None:
    out = sync(make_config(api, batch_config=batch_config))
    assert len(out.records) == 50
    assert not [m for m in out.messages if m["type"] == "BATCH"]


def test_a_relative_start_date_is_counted_from_todays_utc_date(
    api: FakeBackstory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "utc_today", lambda: datetime.date(2026, 1, 11))
    out: SyncOutput = sync(make_config(api, start_date="10 days ago", end_date="yesterday"))
    jobs = [(j.params["start_date"], j.params["end_date"]) for j in api.created_jobs()]
    assert jobs == [("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-10")]
    assert out.bookmark() == "2026-01-10"


def test_batch_config_as_meltano_exports_it_to_a_plugin_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`meltano test` passes batch_config as JSON holding its parts under dotted keys."""
    for name in [n for n in os.environ if n.startswith("TAP_BACKSTORY_CONTACTS_")]:
        monkeypatch.delenv(name)
    exported = {
        "enabled": True,
        "encoding": {"format": "parquet"},  # meltano.yml's config, under the parts' values
        "encoding.format": "jsonl",
        "encoding.compression": "gzip",
        "storage.root": "file:///tmp/batches",
        "storage.prefix": "batch-",
        "batch_size": 20000,
    }
    for name, value in {
        "CLIENT_ID": "c",
        "CLIENT_SECRET": "s",
        "START_DATE": "2026-01-01",
        "BATCH_CONFIG": json.dumps(exported),
    }.items():
        monkeypatch.setenv(f"TAP_BACKSTORY_CONTACTS_{name}", value)
    config = TapBackstoryContacts(config={}, parse_env_config=True).config
    assert config["batch_config"] == {
        "enabled": True,
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": "file:///tmp/batches", "prefix": "batch-"},
        "batch_size": 20000,
    }
