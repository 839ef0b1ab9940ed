"""The SDK's standard tap tests, run against the fake Backstory API over real HTTP."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from fake_backstory import FakeBackstory, FakeConfig
from tap_backstory_contacts.tap import TapBackstoryContacts

# The SDK builds its test class at import time, so the server must exist by then.
_API = FakeBackstory(FakeConfig(contacts_per_day=6, fragment_size=5)).start()


@pytest.fixture(scope="module", autouse=True)
def _stop_api_after_the_module() -> t.Iterator[None]:
    """Stop the server while threads can still start (not at interpreter exit, where
    Python 3.12+ refuses the thread that stop() uses)."""
    yield
    _API.stop()


TestTapBackstoryContacts = get_tap_test_class(
    tap_class=TapBackstoryContacts,
    config={
        "client_id": _API.config.client_id,
        "client_secret": _API.config.client_secret,
        "api_url": _API.url,
        "start_date": "2026-02-01",
        "end_date": "2026-02-09",
        "window_days": 3,
        "poll_interval_seconds": 0.01,
        "poll_max_interval_seconds": 0.02,
    },
    # The whole range (54 records) so that the final STATE is checked after a full sync.
    suite_config=SuiteConfig(max_records_limit=None),
)
