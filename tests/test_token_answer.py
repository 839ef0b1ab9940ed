"""The token answer is checked before it is used, and the secret and the tokens stay
redacted however many tokens a run fetches (issue 17, items 5 and 10)."""

from __future__ import annotations

import logging
import typing as t

import pytest
import requests

from fake_backstory import FakeBackstory
from tap_backstory_contacts import redaction
from tap_backstory_contacts.auth import MAX_LIFETIME_SECONDS
from tap_backstory_contacts.errors import AuthenticationError, RetriesExhaustedError
from tests.conftest import START, make_config
from tests.singer_run import sync

# Form-encoded, JSON-escaped and repr'd differently from its raw text.
SECRET = 'pinned&s3cret/"never"+forgotten'
SECRET_FORMS = (SECRET, "pinned%26s3cret%2F%22never%22%2Bforgotten", "s3cret")
ONE_DAY = {"start_date": START, "end_date": START}


def test_the_secret_stays_redacted_after_many_token_renewals(
    api: FakeBackstory,
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    api.config.client_secret = SECRET
    # 1 s tokens and polls 2 s apart (on the tap's virtual clock): a new token every poll.
    api.config.token_ttl_seconds = 1
    api.config.polls_queued = 100
    api.faults.add("token", "echo", after=75, times=20, status=500, plain=True)
    config = make_config(
        api,
        client_secret=SECRET,
        poll_interval_seconds=2,
        poll_max_interval_seconds=2,
        max_retries=2,
        **ONE_DAY,
    )
    with pytest.raises(RetriesExhaustedError, match="Token request failed after 3 tries") as caught:
        sync(config)
    assert (api.count("token", 200), api.count("token", 500)) == (75, 3)
    assert api.count("status") >= 74
    captured = capfd.readouterr()
    output = caplog.text + str(caught.value) + captured.out + captured.err
    assert "Cannot process POST /auth/v1/tokens" in caplog.text  # the form was echoed
    assert "<client_secret>" in caplog.text
    assert "<client_secret>" in str(caught.value)
    for form in SECRET_FORMS:
        assert form not in output


def test_tokens_are_redacted_while_they_can_appear_and_memory_stays_bounded() -> None:
    redaction.register("configured-secret-value-1", "client_secret")
    tokens = [f"token-{serial:04d}-abcdef" for serial in range(200)]
    for token in tokens:
        redaction.register_token(token)
    newest = tokens[-redaction.MAX_REMEMBERED_TOKENS :]
    text = " ".join(["configured-secret-value-1", *newest])
    expected = " ".join(["<client_secret>"] + ["<bearer token>"] * len(newest))
    assert redaction.redact(text) == expected
    assert redaction.redact(tokens[0]) == tokens[0]  # long replaced: forgotten


def test_a_label_put_in_is_never_redacted_again() -> None:
    redaction.register("labelword", "client labelword")
    redaction.register("outer-labelword-value", "client_secret")
    text = "labelword outer-labelword-value labelword_x"
    assert redaction.redact(text) == "<client labelword> <client_secret> <client labelword>_x"


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ({"access_token": None}, "with no access_token"),
        ({"omit": ["access_token"]}, "with no access_token"),
        ({"access_token": ""}, "an access_token that is empty"),
        ({"access_token": 12345678}, "an access_token that is a JSON int"),
        ({"access_token": ["a-token-in-a-list"]}, "an access_token that is a JSON list"),
        ({"access_token": "two words"}, "text with spaces, control or non-ASCII"),
        ({"access_token": "line\nbreak"}, "text with spaces, control or non-ASCII"),
        ({"expires_in": 0}, "its expires_in 0 is not a token lifetime of at least 1 s"),
        ({"expires_in": -60}, "its expires_in -60 is not a token lifetime"),
        ({"expires_in": 0.5}, "its expires_in 0.5 is not a token lifetime"),
        ({"expires_in": "soon"}, "its expires_in 'soon' is not a token lifetime"),
        ({"expires_in": "inf"}, "its expires_in 'inf' is not a token lifetime"),
        ({"expires_in": True}, "its expires_in True is not a token lifetime"),
        ({"expires_in": [3600]}, "its expires_in [3600] is not a token lifetime"),
    ],
)
def test_an_unusable_token_answer_is_a_clear_error_before_any_api_call(
    api: FakeBackstory, config: dict[str, t.Any], answer: dict[str, t.Any], complaint: str
) -> None:
    api.faults.add("token", "token_answer", times=50, **answer)
    with pytest.raises(AuthenticationError) as caught:
        sync(config)
    message = str(caught.value)
    assert f"The token endpoint {api.url}/auth/v1/tokens answered HTTP 200, but" in message
    assert complaint in message
    assert "Bearer" not in message
    # One token request, then the error: never "Bearer None", never a token per call.
    assert (api.count("token"), len(api.requests)) == (1, 1)


def test_a_token_answer_that_is_no_json_object_names_the_endpoint(
    api: FakeBackstory, config: dict[str, t.Any]
) -> None:
    api.faults.add("token", "echo", status=200, plain=True)
    with pytest.raises(AuthenticationError, match="answered HTTP 200, but not with JSON") as caught:
        sync(config)
    assert f"{api.url}/auth/v1/tokens" in str(caught.value)
    assert api.count("create") == 0


@pytest.mark.parametrize(
    "answer", [{"expires_in": "7200"}, {"expires_in": None}, {"omit": ["expires_in"]}]
)
def test_a_lifetime_as_text_or_left_out_is_accepted(
    api: FakeBackstory, config: dict[str, t.Any], answer: dict[str, t.Any]
) -> None:
    api.faults.add("token", "token_answer", times=50, **answer)
    out = sync(config)
    assert out.bookmark() == "2026-01-10"
    assert api.count("token") == 1


def test_an_absurdly_long_lifetime_is_renewed_after_a_day(
    api: FakeBackstory, waits: list[float]
) -> None:
    api.faults.add("token", "token_answer", times=50, expires_in=1e300)
    api.config.polls_queued = 30  # polls an hour apart: 30 h on the tap's clock
    config = make_config(
        api,
        poll_interval_seconds=3600,
        poll_max_interval_seconds=3600,
        job_timeout_seconds=7 * 24 * 3600,
        **ONE_DAY,
    )
    out = sync(config)
    assert out.bookmark() == START
    assert sum(waits) > MAX_LIFETIME_SECONDS
    assert api.count("token") == 2  # once at the start, once a day later


def test_the_fakes_token_answer_fault_sets_and_leaves_out_fields(api: FakeBackstory) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": api.config.client_id,
        "client_secret": api.config.client_secret,
    }
    api.faults.add("token", "token_answer", access_token=None, omit=["token_type"])
    api.faults.add("token", "token_answer", expires_in=-5)
    first = requests.post(f"{api.url}/auth/v1/tokens", data=form, timeout=10).json()
    second = requests.post(f"{api.url}/auth/v1/tokens", data=form, timeout=10).json()
    assert first == {"access_token": None, "expires_in": 7200}
    assert second["expires_in"] == -5
    assert second["access_token"] in api.tokens
