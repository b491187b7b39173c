"""Django's flush, able to empty the append-only ledger tables on SQLite too.

On PostgreSQL flush is TRUNCATE, which the row triggers of migration 0002 let
through: wiping a whole database is an operator's act, not an edit of the ledger.
On SQLite flush is DELETE FROM each table, which those triggers refuse, so this
command lifts every trigger for the length of the flush and puts it back, in one
transaction. Django's test framework flushes after each transactional test.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        database = options.get("database", "default")
        connection = connections[database]
        if connection.vendor != "sqlite":
            super().handle(**options)
            return
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            triggers = cursor.fetchall()
            for name, _sql in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
            super().handle(**options)
            for _name, sql in triggers:
                cursor.execute(sql)
