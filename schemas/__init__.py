"""The record schemas (JSON), installed as the package ``tap_backstory_contacts.schemas``."""
