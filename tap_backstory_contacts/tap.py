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
            # One message listing every problem, so one run shows all there is to fix.
            summary = f"{len(errors)} invalid setting(s): " + "; ".join(errors)
            raise ConfigValidationError(summary, errors=[summary], schema=self.config_jsonschema)
        return errors

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
                # Meltano's `test` command passes the settings only as environment variables.
                schema = copy.deepcopy(cls.config_jsonschema)
                cls.append_builtin_config(schema)
                config.update(config_from_environment(schema, os.environ))
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
