"""Failing examples the randomized harness (tests/test_chaos.py) found, kept as fixed cases:
each replays one Scenario and checks every invariant (tests/chaos_invariants.py), plus the
outcome that names the defect."""

from __future__ import annotations

import pytest

from tests.chaos_invariants import assert_sound
from tests.chaos_scenarios import FaultSpec, Scenario


@pytest.mark.parametrize("endpoint", ["token", "status"])
@pytest.mark.parametrize("cut", ["drop_mid_body", "short_body"])
def test_a_json_answer_cut_mid_body_is_retried_as_a_dropped_connection(
    endpoint: str, cut: str
) -> None:
    # Found by the harness: a token or status answer whose connection dropped after the
    # headers ended the run at once as "an unexpected error ... IncompleteRead".
    scenario = Scenario(days=2, tap=(("max_retries", 2),), faults=(FaultSpec(endpoint, cut),))
    run = assert_sound(scenario)[0]
    assert run.returncode == 0
    answered = [r.status for r in run.requests if r.endpoint == endpoint]
    assert answered[:2] == [200, 200]  # the cut answer, then its retry
    assert "dropped mid-answer" in run.stderr
