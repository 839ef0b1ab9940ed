"""tap-backstory-contacts: the Tap class (settings, validation, streams)."""

from __future__ import annotations

import copy
import os
import typing as t

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_backstory_contacts.connection import check_connection
from tap_backstory_contacts.envconfig import config_from_environment
from tap_backstory_contacts.errors import TapBackstoryError
from tap_backstory_contacts.output import StateFlushingWriter
from tap_backstory_contacts.settings import CONFIG_SCHEMA, semantic_errors
from tap_backstory_contacts.streams import EnrichedContactsStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream


class TapBackstoryContacts(Tap):
    """Singer tap for Backstory Enriched Contacts, through the bulk export API."""

    name = "tap-backstory-contacts"
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

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Report schema errors and semantic errors (dates, order, URL) together."""
        errors = super()._validate_config(raise_errors=False)
        errors += semantic_errors(self._config)
        secret = self._config.get("client_secret")
        if secret not in (None, ""):
            # The schema validator quotes bad values; never this one.
            errors = [error.replace(str(secret), "<client_secret>") for error in errors]
        if errors and raise_errors:
            self._raise_config_errors(errors)
        return errors

    def _raise_config_errors(self, errors: list[str]) -> t.NoReturn:
        # One message listing every problem, so one run shows all there is to fix.
        summary = f"{len(errors)} invalid setting(s): " + "; ".join(errors)
        raise ConfigValidationError(summary, errors=[summary], schema=self.config_jsonschema)

    @override
    def discover_streams(self) -> list[Stream]:
        return [EnrichedContactsStream(self)]

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
        cls.logger.info("Connection test passed: %s", message)
        ctx.exit()

    @classmethod
    def _tap_from_environment(cls, config: dict[str, t.Any]) -> TapBackstoryContacts:
        """The tap for ``--test --config=ENV``, what Meltano's `test` command runs: a plugin
        command gets the settings only as environment variables, all text.

        Meltano passes date settings there as written ('90 days ago') and converts them only
        for a run, so a date it would convert cannot be judged here: it draws a warning.
        """
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        config.update(config_from_environment(schema, os.environ))
        tap = cls(config=config, validate_config=False)
        errors = tap._validate_config(raise_errors=False)
        for error in errors:
            if error.startswith(("start_date: ", "end_date: ")):
                cls.logger.warning("Not checked by --test with --config=ENV: %s", error)
        errors = [e for e in errors if not e.startswith(("start_date: ", "end_date: "))]
        if errors:
            tap._raise_config_errors(errors)
        return tap

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


if __name__ == "__main__":
    TapBackstoryContacts.cli()
