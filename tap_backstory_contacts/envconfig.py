"""Settings read from TAP_BACKSTORY_CONTACTS_* variables, typed by the settings schema.

``--test --config=ENV`` is what Meltano's ``meltano test`` runs (a plugin command gets no config
file, only the settings as environment variables). Meltano writes every value as text, and the
SDK's own reader leaves numbers (``poll_interval_seconds: 0.5``) as strings, which the schema
then refuses.
"""

from __future__ import annotations

import json
import typing as t

PREFIX = "TAP_BACKSTORY_CONTACTS_"
TRUE = ("1", "true", "t", "yes", "y", "on")


def config_from_environment(
    schema: t.Mapping[str, t.Any], environ: t.Mapping[str, str]
) -> dict[str, t.Any]:
    """Each schema property whose variable is set, converted to its JSON type where the text
    allows; text that does not convert is kept, for the schema to report by setting name."""
    config: dict[str, t.Any] = {}
    for name, prop in schema.get("properties", {}).items():
        text = environ.get(PREFIX + name.upper())
        if text is not None:
            config[name] = _typed(text, _types(prop))
    return config


def _types(prop: t.Mapping[str, t.Any]) -> set[str]:
    declared = prop.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _typed(text: str, types: set[str]) -> t.Any:
    try:
        if "integer" in types:
            return int(text)
        if "number" in types:
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if "boolean" in types:
            return text.strip().lower() in TRUE
        if types & {"object", "array"}:
            return json.loads(text)
    except ValueError:
        return text
    return text
