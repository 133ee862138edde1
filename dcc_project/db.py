"""Database connection tuning."""

from __future__ import annotations

import sqlite3

from django.db.backends.signals import connection_created

# SQLite ≥ 3.32 allows 32,766 bound variables per statement; Django assumes the old 999, which would
# split bulk writes of a large task into many statements.
_SQLITE_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def _tune(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.features.max_query_params = _SQLITE_MAX_VARIABLES


def connect() -> None:
    connection_created.connect(_tune, dispatch_uid="dcc_project.db.tune")
