"""Failing examples the randomized harness (tests/test_chaos.py) found, kept as fixed cases:
each replays one Scenario and checks every invariant (tests/chaos_invariants.py), plus the
outcome that names the defect."""

from __future__ import annotations

import pytest

from tests.chaos_invariants import assert_sound, violations
from tests.chaos_run import scenario_run
from tests.chaos_scenarios import PENDING_DEFECTS, FaultSpec, Scenario, SignalSpec


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


# One fixed example per hostile answer that reaches a defect of PENDING_DEFECTS. While the
# defect is listed there, its example must still break an invariant (the harness sees it);
# once the fix is on main this test fails until the tag leaves PENDING_DEFECTS, and from
# then on the example is an ordinary regression test that must hold every invariant.
REPRODUCERS: dict[str, Scenario] = {
    "empty_body": Scenario(days=2, faults=(FaultSpec("data", "empty_body", times=3),)),
    "csv_no_header": Scenario(
        days=1,
        fake=(("contacts_per_day", 4), ("fragment_size", 1), ("seed", 1)),
        tap=(("output_format", "CSV"),),
        faults=(FaultSpec("data", "no_header", opts=(("fragment", 3),)),),
    ),
    "bad_integer": Scenario(
        days=1, faults=(FaultSpec("data", "bad_integer", opts=(("value", "1e300"),)),)
    ),
    "status_other_job": Scenario(
        days=4,
        fake=(("polls_queued", 0), ("polls_running", 0)),
        faults=(FaultSpec("status", "patch_json", opts=(("fields", {"job_id": "ce-000002"}),)),),
    ),
    "create_lost_answer": Scenario(
        days=2,
        tap=(("max_retries", 2),),
        faults=(FaultSpec("create", "lost_answer", opts=(("status", 504),)),),
    ),
    "token_answer": Scenario(
        days=1,
        faults=(FaultSpec("token", "patch_json", opts=(("fields", {"access_token": None}),)),),
    ),
    "proxy_env": Scenario(days=1, env=("proxy_env",)),
    "signal_full_pipe": Scenario(  # SIGTERM once the download is in, stdout full (~64 KiB)
        days=4,
        fake=(("contacts_per_day", 60), ("fragment_size", 400)),
        tap=(("window_days", 4),),
        signal=SignalSpec(signum=15, after_requests=6, delay=0.3, stalled_target=True),
    ),
    "netrc": Scenario(days=1, env=("netrc",)),
}


@pytest.mark.parametrize("tag", sorted(REPRODUCERS))
def test_each_open_defect_is_seen_and_each_fixed_one_stays_fixed(tag: str) -> None:
    scenario = REPRODUCERS[tag]
    if tag not in PENDING_DEFECTS:
        assert_sound(scenario)
        return
    with scenario_run(scenario) as outcome:
        assert violations(outcome), (
            f"{tag} ({PENDING_DEFECTS[tag]}) holds every invariant now: its fix has landed, so "
            "remove it from PENDING_DEFECTS in tests/chaos_scenarios.py"
        )


def test_sigterm_as_downloads_start_ends_the_run_promptly() -> None:
    # Found by the harness (about 1 run in 12 hung until killed, spool left behind): SIGTERM
    # landing while a fragment download was being submitted deadlocked the handler on the
    # thread pool's lock. Timing-dependent; tests/test_signal_reentry.py pins it exactly.
    scenario = Scenario(
        days=2,
        fake=(("contacts_per_day", 3),),
        signal=SignalSpec(signum=15, after_requests=6, delay=0.02),
    )
    for _ in range(3):
        assert_sound(scenario)


def test_a_redirected_create_under_a_proxy_setting_leaks_nothing() -> None:
    # Found by the soak, a false alarm of the harness itself: the create POST followed a 307
    # to another origin (without the token), and the listener standing for that origin was
    # also the proxy, so the call looked proxied. Redirect target and proxy are now apart.
    scenario = Scenario(
        days=1,
        faults=(
            FaultSpec("token", "429", opts=(("retry_after", 0),)),
            FaultSpec("create", "redirect", opts=(("location", "SINK"),)),
        ),
        env=("proxy_env",),
    )
    run = assert_sound(scenario)[0]
    assert run.returncode == 1
