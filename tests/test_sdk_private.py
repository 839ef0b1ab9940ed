"""The SDK's private names the tap relies on (tap_backstory_contacts.sdk_private) still exist
in the installed singer-sdk, with the pinned signatures and, where pinned, the same body."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import typing as t

import pytest

from tap_backstory_contacts.sdk_private import PINS, Pin


def _resolve(pin: Pin) -> t.Any:
    module_name, _, class_name = pin.owner.partition(":")
    owner: t.Any = importlib.import_module(module_name)
    if class_name:
        owner = getattr(owner, class_name)
        if pin.name in getattr(owner, "__annotations__", {}):
            return None  # an annotated instance attribute: being declared is the pin
    try:
        raw = inspect.getattr_static(owner, pin.name)
    except AttributeError:
        pytest.fail(f"singer-sdk has no {pin.owner}.{pin.name} any more (used by {pin.used_by})")
    return getattr(raw, "fget", raw)  # a (class)property: its getter


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: f"{pin.owner}.{pin.name}")
def test_private_sdk_name_is_as_pinned(pin: Pin) -> None:
    found = _resolve(pin)
    if pin.signature is not None:
        assert str(inspect.signature(found)) == pin.signature, pin.used_by
    if pin.source_sha256 is not None:
        digest = hashlib.sha256(inspect.getsource(found).encode()).hexdigest()[:16]
        assert digest == pin.source_sha256, (
            f"the SDK changed the body re-implemented by {pin.used_by}"
        )


def test_every_private_override_of_the_tap_is_pinned() -> None:
    from tap_backstory_contacts.streams import EnrichedContactsStream
    from tap_backstory_contacts.tap import TapBackstoryContacts

    pinned = {pin.name for pin in PINS}
    for cls in (TapBackstoryContacts, EnrichedContactsStream):
        ours = [k for k in cls.__mro__ if k.__module__.startswith("tap_backstory_contacts")]
        assert cls in ours
        for klass in ours:  # the classes themselves and the tap's own base classes
            for base in cls.__mro__:
                if not base.__module__.startswith("singer_sdk"):
                    continue
                overridden = {n for n in vars(klass) if n.startswith("_") and n in vars(base)}
                internal = {n for n in overridden if n.startswith("__")} | {"_abc_impl"}
                assert overridden - internal <= pinned, f"{klass.__name__} overrides {base}"
