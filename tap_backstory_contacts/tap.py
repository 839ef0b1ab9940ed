"""tap-backstory-contacts: the Tap class (settings, validation, streams)."""

from __future__ import annotations

import typing as t

from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_backstory_contacts.settings import CONFIG_SCHEMA, semantic_errors
from tap_backstory_contacts.streams import EnrichedContactsStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream


class TapBackstoryContacts(Tap):
    """Singer tap for Backstory Enriched Contacts, through the bulk export API."""

    name = "tap-backstory-contacts"
    config_jsonschema = CONFIG_SCHEMA
    # msgspec serialises Singer messages about a third faster than the default writer.
    message_writer_class = MsgSpecWriter

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Report schema errors and semantic errors (dates, order, URL) together."""
        errors = super()._validate_config(raise_errors=False)
        errors += semantic_errors(self._config)
        if errors and raise_errors:
            # One message listing every problem, so one run shows all there is to fix.
            summary = f"{len(errors)} invalid setting(s): " + "; ".join(errors)
            raise ConfigValidationError(summary, errors=[summary], schema=self.config_jsonschema)
        return errors

    @override
    def discover_streams(self) -> list[Stream]:
        return [EnrichedContactsStream(self)]


if __name__ == "__main__":
    TapBackstoryContacts.cli()
