"""The singer-sdk private names the tap overrides or calls, pinned in one place.

The SDK has no public hook for these. ``tests/test_sdk_private.py`` fails when the installed
SDK renames one, changes its signature, or (for a method the tap re-implements instead of
extending) changes its body: check the override named in ``used_by`` before updating a pin.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pin:
    """One private SDK name as the tap relies on it."""

    owner: str  # "module:Class", or a module for a name imported from it
    name: str
    used_by: str
    signature: str | None = None  # inspect.signature of the method (or property getter)
    source_sha256: str | None = None  # first 16 hex digits; only for re-implemented bodies


PINS: tuple[Pin, ...] = (
    Pin(
        "singer_sdk.plugin_base:PluginBase",
        "_env_var_config",
        "tap.TapBackstoryContacts._env_var_config: settings typed by the schema, .env under "
        "the environment",
        "(cls) -> 'dict[str, t.Any]'",
    ),
    Pin(
        "singer_sdk.plugin_base:PluginBase",
        "_env_var_prefix",
        "tap.TapBackstoryContacts._env_var_config",
        "(cls) -> 'str'",
    ),
    Pin(
        "singer_sdk.plugin_base:PluginBase",
        "_validate_config",
        "tap.TapBackstoryContacts._validate_config: every problem at once, secrets unquoted",
        "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
    ),
    Pin(
        "singer_sdk.plugin_base:PluginBase",
        "_config",
        "tap.TapBackstoryContacts._validate_config (the config as given, defaults filled in)",
    ),
    Pin(
        "singer_sdk.plugin_base:PluginBase",
        "_setup_signal_handlers",
        "installs _handle_termination for SIGTERM and SIGINT",
        "(self) -> 'None'",
    ),
    Pin(
        "singer_sdk.tap_base:Tap",
        "_handle_termination",
        "tap.TapBackstoryContacts._handle_termination: replaced whole (shutdown.py)",
        "(self, signum: 'int', frame: 'FrameType | None') -> 'None'",
    ),
    Pin(
        "singer_sdk.streams.core:Stream",
        "_increment_stream_state",
        "streams.EnrichedContactsStream._increment_stream_state: no bookmark per record",
        "(self, latest_record: 'types.Record', *, context: 'types.Context | None' = None) "
        "-> 'None'",
    ),
    Pin(
        "singer_sdk.streams.core:Stream",
        "_generate_record_messages",
        "record_messages.FastRecordMessages._generate_record_messages: re-implemented without "
        "the per-record selection walk",
        "(self, record: 'types.Record') -> 't.Generator[singer.RecordMessage, None, None]'",
        "9b5f9fbcdedb7a1a",
    ),
    Pin(
        "singer_sdk.streams.core:Stream",
        "_sync_records",
        "streams.EnrichedContactsStream.get_batches: records for the tap's own BATCH files",
        "(self, context: 'types.Context | None' = None, *, write_messages: 'bool' = True) "
        "-> 't.Generator[dict, t.Any, t.Any]'",
    ),
    Pin(
        "singer_sdk.streams.core:Stream",
        "_write_batch_message",
        "streams.EnrichedContactsStream._close_batch_file: the BATCH message of a file closed "
        "at a window's end, as the SDK writes it after each file get_batches yields",
        "(self, encoding: 'BaseBatchFileEncoding', manifest: 'list[str]') -> 'None'",
    ),
    Pin(
        "singer_sdk.helpers._batch",
        "BatchConfig",
        "batches.py (BatchFiles; config_errors builds one to check batch_config), streams.py",
    ),
    Pin("singer_sdk.helpers._batch", "StorageTarget", "batches.py (types)"),
    Pin("singer_sdk.helpers._batch", "BaseBatchFileEncoding", "streams.py (types)"),
)
