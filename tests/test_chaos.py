"""Randomized hostile runs (issue 17): the real tap CLI over real HTTP against the fake API,
with hostile answers drawn per request and a signal at a random moment; every invariant of
tests/chaos_invariants.py must hold on every example.

`make test` runs a small, derandomized budget (the same examples on every run, so CI is
reproducible); `make chaos` runs a long random soak that keeps failing examples in
.hypothesis/ (docs/development.md: reproducing a failing example).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.chaos_invariants import assert_sound
from tests.chaos_scenarios import Scenario, scenarios

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("CHAOS_EXAMPLES", "20")),
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # report a failure at once, unshrunk
    suppress_health_check=_SLOW,
    print_blob=True,
)
settings.register_profile(
    "soak",
    max_examples=int(os.environ.get("CHAOS_EXAMPLES", "400")),
    database=DirectoryBasedExampleDatabase(".hypothesis/chaos"),
    deadline=None,
    suppress_health_check=_SLOW,
    print_blob=True,
)
PROFILE = os.environ.get("CHAOS_PROFILE", "ci")


@settings(settings.get_profile(PROFILE))
@given(scenario=scenarios())
def test_every_invariant_holds_against_a_hostile_api(scenario: Scenario) -> None:
    assert_sound(scenario)
