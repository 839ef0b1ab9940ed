"""Singer tap for Backstory (People.ai) Enriched Contacts via the bulk export API."""

import logging

#: The tap's name, and the name of its one logger: the SDK's plugin logger (``Tap.logger``),
#: which every log line of the tap names, whichever module writes it.
PLUGIN_NAME = "tap-backstory-contacts"
logger = logging.getLogger(PLUGIN_NAME)
