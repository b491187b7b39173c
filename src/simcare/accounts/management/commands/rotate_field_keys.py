"""`simcare rotate-field-keys`: re-encrypt every encrypted field value with the newest key.

Rotation (kit/crypto.py): put a new key first in SIMCARE_FIELD_KEYS, keeping the
old ones after it, restart, run this command, then drop the old keys. Values are
read and written as ciphertext in batches of rows, in primary-key order, each
batch in its own transaction; a value someone saved meanwhile (already under the
newest key) is left alone. Running it again skips values already on the newest
key, so an interrupted run is simply run again. Exit 1 when a value cannot be
read with any configured key (it is listed by row and left unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from simcare.kit import crypto

UNREADABLE_SHOWN = 20


@dataclass
class FieldRotation:
    """What rotating one column did, e.g. accounts.Subscriber.id_document_number: 120 rotated."""

    label: str
    rotated: int = 0
    already_current: int = 0
    unreadable: list[Any] = field(default_factory=list)


def encrypted_fields() -> Iterator[tuple[type[models.Model], models.Field[Any, Any]]]:
    """Every EncryptedTextField column of every installed model (each table once)."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, crypto.EncryptedTextField):
                yield model, model_field


def rotate_column(
    model: type[models.Model], model_field: models.Field[Any, Any], *, batch_size: int
) -> FieldRotation:
    """Re-encrypt one column's values with the newest key, batch by batch."""
    quote = connection.ops.quote_name
    # Concrete fields always have a column; every model has a primary key.
    table, column = quote(model._meta.db_table), quote(str(model_field.column))
    primary_key = quote(str(model._meta.pk.column if model._meta.pk else "id"))
    newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode())
    rotation = FieldRotation(f"{model._meta.label}.{model_field.name}")
    # Identifiers come from the model's metadata, never from input; values are parameters.
    select = (
        f"SELECT {primary_key}, {column} FROM {table} "  # noqa: S608
        f"WHERE {column} IS NOT NULL AND {column} <> ''"
    )
    order = f" ORDER BY {primary_key} LIMIT %s"
    update = f"UPDATE {table} SET {column} = %s WHERE {primary_key} = %s AND {column} = %s"  # noqa: S608
    last_key: Any = None
    while True:
        with connection.cursor() as cursor:
            if last_key is None:
                cursor.execute(select + order, [batch_size])
            else:
                cursor.execute(f"{select} AND {primary_key} > %s{order}", [last_key, batch_size])
            rows = cursor.fetchall()
        if not rows:
            return rotation
        changes = []
        for key, token in rows:
            try:
                newest.decrypt(token.encode())
            except InvalidToken:
                pass
            else:
                rotation.already_current += 1
                continue
            try:
                changes.append((crypto.rotate(token), key, token))
            except InvalidToken:
                rotation.unreadable.append(key)
        if changes:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(update, changes)
            rotation.rotated += len(changes)
        last_key = rows[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field value with the newest key of SIMCARE_FIELD_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows read and written per transaction"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        unreadable: list[str] = []
        for model, model_field in encrypted_fields():
            rotation = rotate_column(model, model_field, batch_size=batch_size)
            self.stdout.write(
                f"{rotation.label}: {rotation.rotated} re-encrypted, "
                f"{rotation.already_current} already on the newest key, "
                f"{len(rotation.unreadable)} unreadable"
            )
            unreadable.extend(f"{rotation.label} row {key}" for key in rotation.unreadable)
        if unreadable:
            shown = "; ".join(unreadable[:UNREADABLE_SHOWN])
            more = (
                f" and {len(unreadable) - UNREADABLE_SHOWN} more"
                if len(unreadable) > UNREADABLE_SHOWN
                else ""
            )
            raise CommandError(
                f"{len(unreadable)} values cannot be read with any configured key and were "
                f"left unchanged: {shown}{more}"
            )
