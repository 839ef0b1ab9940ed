"""Settings from environment variables (``--config ENV``), typed as the config schema says.

The SDK passes numbers through as text (so ``TAP_BACKSTORY_CONTACTS_POLL_INTERVAL_SECONDS=5``
failed validation as "'5' is not of type 'number'"), crashes on a malformed integer and
reads any unknown boolean word as false. Here a value that does not parse stays text, so
that config validation names the setting.

A ``.env`` file fills in only the variables the environment does not set: the SDK's own
reading loads it over them, so a stale ``.env`` would beat the environment.
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import dotenv
import singer_sdk

# Booleans as settings are written in environment variables and switches (not data values).
SETTING_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
SETTING_FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def load_dotenv_file() -> Path | None:
    """Set the variables of the nearest ``.env`` that the environment lacks; return its path.

    The nearest is the first found from the current directory upward, else (as the SDK
    looks) from the SDK's installation upward: a Meltano project's root, or a checkout's.
    """
    for start in (Path.cwd(), Path(singer_sdk.__file__).parent):
        for folder in (start, *start.parents):
            path = folder / ".env"
            if path.is_file():
                dotenv.load_dotenv(path, override=False)
                return path
    return None


def env_var_name(prefix: str, setting: str) -> str:
    """The environment variable of ``setting``, e.g. TAP_BACKSTORY_CONTACTS_WINDOW_DAYS."""
    return prefix + setting.upper().replace("-", "_")


def env_config(
    schema: t.Mapping[str, t.Any], prefix: str, environ: t.Mapping[str, str] | None = None
) -> dict[str, t.Any]:
    """Every setting of ``schema`` that has an environment variable, typed."""
    environ = os.environ if environ is None else environ
    config: dict[str, t.Any] = {}
    for setting, definition in schema.get("properties", {}).items():
        name = env_var_name(prefix, setting)
        if name in environ:
            config[setting] = typed_value(environ[name], _types(definition))
        if "properties" in definition:
            # Parts of an object setting, as Meltano names them: e.g. batch_config.storage.root
            # is TAP_BACKSTORY_CONTACTS_BATCH_CONFIG_STORAGE_ROOT; they win over the whole.
            # Meltano also puts them in the whole's JSON under dotted keys ("storage.root").
            whole = config.get(setting)
            whole = _undotted(whole) if isinstance(whole, dict) else whole
            parts = env_config(definition, name + "_", environ)
            if parts:
                whole = _merged(whole if isinstance(whole, dict) else {}, parts)
            if whole is not None or name in environ:
                config[setting] = whole
    return config


def _undotted(value: dict[str, t.Any]) -> dict[str, t.Any]:
    """``value`` with dotted keys ("storage.root") made nested; they win over nested ones."""
    plain = {key: item for key, item in value.items() if "." not in key}
    for key, item in value.items():
        if "." in key:
            head, _, rest = key.partition(".")
            inner = plain.get(head)
            plain[head] = _merged(inner if isinstance(inner, dict) else {}, _undotted({rest: item}))
    return plain


def _merged(base: dict[str, t.Any], parts: dict[str, t.Any]) -> dict[str, t.Any]:
    """``base`` with ``parts`` laid over it, object by object."""
    merged = dict(base)
    for key, value in parts.items():
        inner = merged.get(key)
        both = isinstance(value, dict) and isinstance(inner, dict)
        merged[key] = _merged(t.cast("dict[str, t.Any]", inner), value) if both else value
    return merged


def typed_value(text: str, types: set[str]) -> t.Any:
    """``text`` as the first JSON type of ``types`` it parses as; else ``text`` unchanged."""
    if "string" in types:
        return text
    word = text.strip().lower()
    if "boolean" in types and word in SETTING_TRUE_WORDS | SETTING_FALSE_WORDS:
        return word in SETTING_TRUE_WORDS
    try:
        value = json.loads(text, parse_constant=_refuse)
    except ValueError:
        return text
    if isinstance(value, bool) and "boolean" not in types:
        return text
    if "integer" in types and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _types(definition: t.Mapping[str, t.Any]) -> set[str]:
    """The JSON types a schema property allows (``type`` and any ``anyOf``/``oneOf``)."""
    declared = definition.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for key in ("anyOf", "oneOf"):
        for option in definition.get(key, []):
            types |= _types(option)
    return types


def _refuse(constant: str) -> t.NoReturn:
    """NaN and Infinity are no numbers a setting can take."""
    raise ValueError(constant)
