"""Fixtures of the end-to-end tests: PostgreSQL (tests/e2e/postgres.py)."""

from tests.e2e.postgres import postgres, postgres_database, postgres_schema, postgres_server

__all__ = ["postgres", "postgres_database", "postgres_schema", "postgres_server"]
