"""Every setting can be set from the environment (``--config ENV``), typed as the schema
says; a value that does not parse is a config error naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import pytest
from singer_sdk.exceptions import ConfigValidationError

from fake_backstory import FakeBackstory
from tap_backstory_contacts.settings import CONFIG_SCHEMA
from tap_backstory_contacts.tap import TapBackstoryContacts
from tests.singer_run import SyncOutput

PREFIX = "TAP_BACKSTORY_CONTACTS_"
# setting -> (environment text, typed value); none equals the setting's default.
SAMPLES: dict[str, tuple[str, t.Any]] = {
    "client_id": ("env-client", "env-client"),
    "client_secret": ("env-secret-value", "env-secret-value"),
    "api_url": ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    "start_date": ("2026-01-01", "2026-01-01"),
    "end_date": ("2026-01-10", "2026-01-10"),
    "lookback_days": ("3", 3),
    "include_historical": ("false", False),
    "include_existing": ("No", False),
    "is_sourced_by_people_ai": ("TRUE", True),
    "country": ("United States", "United States"),
    "state": ("New York", "New York"),
    "output_format": ("CSV", "CSV"),
    "window_days": ("7", 7),
    "max_concurrent_jobs": ("1", 1),
    "max_parallel_downloads": ("8", 8),
    "max_spool_bytes": ("2097152", 2097152),
    "poll_interval_seconds": ("0.5", 0.5),
    "poll_max_interval_seconds": ("30", 30),
    "job_timeout_seconds": ("600", 600),
    "job_retries": ("0", 0),
    "max_retries": ("2.0", 2),
    "max_retry_seconds": ("1e2", 100.0),
}


# Settings the SDK adds to every tap's schema (the tap's schema object gets them in place).
SDK_SETTINGS = {
    "batch_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "stream_map_config",
    "stream_maps",
}


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """Set TAP_BACKSTORY_CONTACTS_<SETTING> for each setting."""
    for name, text in values.items():
        monkeypatch.setenv(PREFIX + name.upper(), text)


def test_every_setting_can_be_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    own = set(CONFIG_SCHEMA["properties"]) - SDK_SETTINGS
    assert set(SAMPLES) == own, "add a sample for each setting"
    set_env(monkeypatch, {name: text for name, (text, _) in SAMPLES.items()})
    whole = '{"encoding": {"format": "jsonl", "compression": "gzip"}, "batch_size": 5}'
    monkeypatch.setenv(PREFIX + "BATCH_CONFIG", whole)
    # A part, as Meltano names batch_config.storage.root; parts win over the whole.
    monkeypatch.setenv(PREFIX + "BATCH_CONFIG_STORAGE_ROOT", "file:///tmp/batches")
    monkeypatch.setenv(PREFIX + "BATCH_CONFIG_BATCH_SIZE", "7")
    monkeypatch.setenv(PREFIX + "FLATTENING_ENABLED", "yes")
    monkeypatch.setenv(PREFIX + "FLATTENING_MAX_DEPTH", "2")
    config = TapBackstoryContacts(config={}, parse_env_config=True).config
    for name, (_, value) in SAMPLES.items():
        assert config[name] == value, name
        assert type(config[name]) is type(value), name
        assert config[name] != CONFIG_SCHEMA["properties"][name].get("default"), name
    assert config["batch_config"] == {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": "file:///tmp/batches"},
        "batch_size": 7,
    }
    assert (config["flattening_enabled"], config["flattening_max_depth"]) == (True, 2)


@pytest.mark.parametrize(
    ("setting", "text", "message"),
    [
        ("poll_interval_seconds", "five", "'five' is not of type 'number'"),
        ("poll_interval_seconds", "NaN", "'NaN' is not of type 'number'"),
        ("window_days", "7.5", "7.5 is not of type 'integer'"),
        ("window_days", "seven", "'seven' is not of type 'integer'"),
        ("include_existing", "ture", "'ture' is not of type 'boolean'"),
        ("max_retries", "true", "'true' is not of type 'integer'"),
    ],
)
def test_an_environment_value_that_does_not_parse_names_its_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, text: str, message: str
) -> None:
    set_env(monkeypatch, {"client_id": "c", "client_secret": "secret", "start_date": "2026-01-01"})
    set_env(monkeypatch, {setting: text})
    with pytest.raises(ConfigValidationError) as caught:
        TapBackstoryContacts(config={}, parse_env_config=True)
    assert f"{message}, 'null' in config['{setting}']" in str(caught.value)


def test_a_sync_configured_only_from_the_environment(api: FakeBackstory) -> None:
    env = {
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
        "api_url": api.url,
        "start_date": "2026-01-01",
        "end_date": "2026-01-10",
        "window_days": "5",
        "include_historical": "true",
        "poll_interval_seconds": "0.01",
        "poll_max_interval_seconds": "0.05",
        "job_timeout_seconds": "60",
        "max_retry_seconds": "30",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tap_backstory_contacts.tap", "--config", "ENV"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **{PREFIX + name.upper(): text for name, text in env.items()}},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = SyncOutput.parse(done.stdout)
    assert len(output.records) == 50
    assert output.bookmark() == "2026-01-10"
    assert api.count("create") == 2  # window_days 5 from the environment
