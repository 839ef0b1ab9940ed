"""tap-backstory-contacts: the Tap class (settings, validation, streams)."""

from __future__ import annotations

import logging
import typing as t
from pathlib import PurePath

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib import StateMessage
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_backstory_contacts import PLUGIN_NAME, batches, redaction
from tap_backstory_contacts.connection import check_connection
from tap_backstory_contacts.environment import env_config, load_dotenv_file
from tap_backstory_contacts.errors import TapBackstoryError
from tap_backstory_contacts.output import StateFlushingWriter
from tap_backstory_contacts.saved_state import readable_state
from tap_backstory_contacts.settings import CONFIG_SCHEMA, semantic_errors
from tap_backstory_contacts.shutdown import Shutdown
from tap_backstory_contacts.streams import EnrichedContactsStream

if t.TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from singer_sdk.streams import Stream

#: Settings whose value no message ever quotes.
SECRET_SETTINGS = frozenset(
    name for name, spec in CONFIG_SCHEMA["properties"].items() if spec.get("secret")
)
# Meltano hands the tap its own logging config, so the tap's variable has no effect there.
LOG_LEVEL_HINT = (
    "set TAP_BACKSTORY_CONTACTS_LOGLEVEL=DEBUG to see the traceback; under Meltano, run "
    "`meltano --log-level=debug run ...` instead"
)
TEST_HELP = (
    "Use --test to check the credentials and API access without creating an export job "
    "(no record is synced). Use --test=schema to print the schema without syncing records."
)


class TapBackstoryContacts(Tap):
    """Singer tap for Backstory Enriched Contacts, through the bulk export API."""

    name = PLUGIN_NAME
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = StateFlushingWriter
    # The SDK's list minus activate-version: the stream runs INCREMENTAL only and never
    # sends ACTIVATE_VERSION (see EnrichedContactsStream.apply_catalog).
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    def __init__(self, *, state: t.Any = None, **kwargs: t.Any) -> None:
        """The SDK's tap, given only the parts of ``state`` it can load (see saved_state)."""
        if not isinstance(state, str | PurePath):
            state = readable_state(state)
        # Set before the SDK's constructor, which installs the signal handlers.
        self.shutdown = Shutdown()
        super().__init__(state=state, **kwargs)

    @override
    @property
    def _env_var_config(self) -> dict[str, t.Any]:
        """Settings from TAP_BACKSTORY_CONTACTS_* variables, typed as the schema says; a
        ``.env`` file fills in only what the environment does not set."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        load_dotenv_file()
        return env_config(schema, self._env_var_prefix)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Report schema errors and semantic errors (dates, order, URL) together.

        No message quotes a secret setting's value: those are described from the error's
        path and rule instead. Secrets that turn up anywhere else (say, a secret pasted
        into another setting) are redacted as whole occurrences.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = _config_errors(self._config, schema)
        if errors and raise_errors:
            self._raise_config_errors(errors)
        return errors

    def _raise_config_errors(self, errors: list[str]) -> t.NoReturn:
        # One message listing every problem, so one run shows all there is to fix.
        summary = f"{len(errors)} invalid setting(s): " + "; ".join(errors)
        raise ConfigValidationError(summary, errors=[summary], schema=self.config_jsonschema)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """On SIGTERM/SIGINT: stop downloads at once (no thread may keep the process alive),
        write the buffered messages and the state (never from inside a write in progress),
        and exit with 128 + the signal number: a run cut short is not a success."""
        writer = self.message_writer
        self.shutdown.terminate(
            signum,
            writer if isinstance(writer, StateFlushingWriter) else None,
            self.write_final_state,
        )

    def write_final_state(self) -> None:
        """The state, also when unchanged since the last STATE (the SDK's state writer would
        skip it): records may have followed that one, and the stream ends with the state."""
        self.message_writer.write_message(StateMessage(value=self.state))

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with ``--test`` described as what it does here."""
        command = super().get_singer_command()
        for param in command.params:
            if isinstance(param, click.Option) and "--test" in param.opts:
                param.help = TEST_HELP
        return command

    @override
    def discover_streams(self) -> list[Stream]:
        return [EnrichedContactsStream(self, shutdown=self.shutdown, flush=self.flush_output)]

    def flush_output(self) -> None:
        """Write out the Singer messages the tap's writer still holds."""
        if isinstance(self.message_writer, StateFlushingWriter):
            self.message_writer.flush()

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test`` checks credentials and reachability without creating an export job.

        The SDK's default would sync a record, which here means a whole export job.
        ``--test=schema`` keeps the SDK's behaviour.
        """
        try:
            if value != CliTestOptionValue.All.value:
                super().cb_test(ctx, param, value)
                return
            config_input = ctx.params.get("config")
            config = dict(getattr(config_input, "config", {}))
            if getattr(config_input, "parse_env", False):
                tap = cls._tap_from_environment(config)
            else:
                tap = cls(config=config, validate_config=True)
            message = check_connection(tap.config)
        except ConfigValidationError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 (the message says it all; no traceback)
            ctx.exit(1)
        except TapBackstoryError as exc:
            cls.logger.error("Connection test failed: %s", exc)  # noqa: TRY400
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:
            _report_unexpected(cls.logger, exc, "Connection test failed")
            ctx.exit(1)
        cls.logger.info("Connection test passed: %s", message)
        ctx.exit()

    @classmethod
    def _tap_from_environment(cls, config: dict[str, t.Any]) -> TapBackstoryContacts:
        """The tap for ``--test --config=ENV``, what Meltano's `test` command runs: a plugin
        command gets the settings only as environment variables, all text. Meltano passes the
        date settings as written (they are `string` settings), so every setting is checked
        here as in a run."""
        return cls(config=config, parse_env_config=True, validate_config=True)

    @override
    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        """Run the tap; an error the tap explains ends it with that message and exit 1.

        Its traceback is logged at DEBUG only: it adds nothing to a message that names the
        job, window, fragment or setting.
        """
        try:
            super().invoke(**kwargs)
        except TapBackstoryError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400
            cls.logger.debug("Traceback of the error above", exc_info=exc)
            raise SystemExit(1) from None
        except (ConfigValidationError, click.exceptions.Exit, click.ClickException):
            raise  # the SDK's command reports these
        except Exception as exc:
            _report_unexpected(cls.logger, exc, "The tap stopped")
            raise SystemExit(1) from None


def _report_unexpected(logger: logging.Logger, exc: Exception, what: str) -> None:
    """One ERROR line for an error the tap did not foresee: its type and message, and what
    to do; the traceback goes to DEBUG."""
    detail = str(exc)
    logger.error(
        "%s on an unexpected error: %s%s. This is an error the tap does not explain: check "
        "what the message names (a file, the temp directory, the network), run again, and "
        "report it with the traceback if it persists (%s).",
        what,
        type(exc).__name__,
        f": {detail}" if detail else "",
        LOG_LEVEL_HINT,
    )
    logger.debug("Traceback of the error above", exc_info=exc)


def _config_errors(config: dict[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """Every schema and semantic problem of ``config``, secrets redacted; fills in defaults."""
    for name in SECRET_SETTINGS:
        if config.get(name) is not None:
            redaction.register(config[name], name)
    validator = JSONSchemaValidator(schema)  # also fills in defaults, as the SDK's
    errors = [_describe(error) for error in validator.iter_errors(config)]
    errors += semantic_errors(config)
    errors += batches.config_errors(config.get("batch_config"))
    return [redaction.redact(error) for error in errors]


class _SchemaError(t.Protocol):
    """What ``_describe`` reads of a jsonschema ValidationError."""

    message: str
    path: Sequence[str | int]
    validator: str
    validator_value: t.Any


def _describe(error: _SchemaError) -> str:
    """A schema error as the SDK words it, but without quoting a secret setting's value."""
    where = "".join(f"[{part!r}]" for part in error.path)
    message = error.message
    if error.path and error.path[0] in SECRET_SETTINGS:
        if error.validator == "type":
            types = error.validator_value
            types = [types] if isinstance(types, str) else types
            message = "the value is not of type " + " or ".join(repr(name) for name in types)
        elif error.validator == "minLength":
            message = "the value is empty"
        else:
            message = f"the value fails the schema rule {error.validator!r}"
    return f"{message} in config{where}" if where else message


if __name__ == "__main__":
    TapBackstoryContacts.cli()
