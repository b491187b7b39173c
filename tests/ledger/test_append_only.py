"""Entries and transactions are written once: the ORM and the database both refuse changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from simcare.ledger import queries
from simcare.ledger.errors import AppendOnlyViolation
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

Post = Callable[..., LedgerTransaction]


@pytest.fixture
def posted(wallet: LedgerAccount, top_up: Post) -> LedgerTransaction:
    return top_up(wallet, 2000, memo="card top-up")


def _rows() -> list[tuple[Any, ...]]:
    entries = list(LedgerEntry.objects.order_by("id").values_list("id", "amount_cents"))
    transactions = list(LedgerTransaction.objects.order_by("id").values_list("id", "memo"))
    return [*entries, *transactions]


def test_saving_a_changed_entry_is_refused(posted: LedgerTransaction) -> None:
    before = _rows()
    entry = posted.entries.get(amount_cents=2000)
    entry.amount_cents = 200000

    with pytest.raises(AppendOnlyViolation):
        entry.save()

    assert _rows() == before


def test_saving_a_changed_transaction_is_refused(posted: LedgerTransaction) -> None:
    before = _rows()
    posted.memo = "edited"

    with pytest.raises(AppendOnlyViolation):
        posted.save()

    assert _rows() == before


def test_a_new_entry_with_a_chosen_primary_key_is_refused(posted: LedgerTransaction) -> None:
    # Django would UPDATE the row of that key instead of inserting one.
    before = _rows()
    existing = posted.entries.first()
    assert existing is not None

    with pytest.raises(AppendOnlyViolation):
        LedgerEntry(
            pk=existing.pk, transaction=posted, account=existing.account, amount_cents=1
        ).save()

    assert _rows() == before


@pytest.mark.parametrize("model", [LedgerEntry, LedgerTransaction])
def test_queryset_updates_and_deletes_are_refused(posted: LedgerTransaction, model: Any) -> None:
    before = _rows()

    with pytest.raises(AppendOnlyViolation):
        model.objects.all().update(created_at=posted.created_at)
    with pytest.raises(AppendOnlyViolation):
        model.objects.all().delete()
    with pytest.raises(AppendOnlyViolation):
        model.objects.bulk_update(list(model.objects.all()), ["created_at"])

    assert _rows() == before


def test_deleting_an_entry_or_a_transaction_is_refused(posted: LedgerTransaction) -> None:
    before = _rows()
    entry = posted.entries.first()
    assert entry is not None

    with pytest.raises(AppendOnlyViolation):
        entry.delete()
    with pytest.raises(AppendOnlyViolation):
        posted.delete()

    assert _rows() == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET amount_cents = amount_cents * 100",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET memo = 'edited'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_the_database_refuses_raw_updates_and_deletes(
    posted: LedgerTransaction, statement: str
) -> None:
    # given
    before = _rows()

    # when: straight SQL, past the ORM
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    # then
    assert _rows() == before
    assert queries.find_breaks() == []


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_ledger_and_keeps_it_append_only(
    wallet: LedgerAccount, top_up: Post
) -> None:
    # given: committed ledger rows (Django flushes like this after transactional tests)
    top_up(wallet, 2000)

    # when
    call_command("flush", interactive=False, verbosity=0)

    # then
    assert not LedgerEntry.objects.exists()
    assert not LedgerTransaction.objects.exists()
    assert not LedgerAccount.objects.exists()
    # and the guard is back for new rows
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (created_at, kind, memo, reference) "
            "VALUES (CURRENT_TIMESTAMP, 'adjustment', '', '')"
        )
    with pytest.raises(IntegrityError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_transaction")
