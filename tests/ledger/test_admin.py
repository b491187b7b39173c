"""The ledger in the back office: lists and details to read, nothing to change."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from simcare.accounts.models import Role, Subscriber, User
from simcare.ledger import services
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests.conftest import signed_in_client

from .conftest import LedgerSnapshot, take_snapshot

Post = Callable[..., LedgerTransaction]


@pytest.fixture
def books(
    wallet: LedgerAccount,
    make_subscriber: Callable[..., Subscriber],
    top_up: Post,
    spend: Post,
) -> LedgerTransaction:
    """$20 topped up into one wallet, $7.50 spent; another wallet with $1."""
    payment = top_up(wallet, 2000, idempotency_key="stripe:cs_test_books")
    spend(wallet, 750, reference="order:311")
    top_up(services.wallet_for(make_subscriber()), 100)
    return payment


def test_the_account_list_shows_formatted_balances(
    admin_client_verified: Client, wallet: LedgerAccount, books: LedgerTransaction
) -> None:
    response = admin_client_verified.get(reverse("admin:ledger_ledgeraccount_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert wallet.code in page
    assert "$12.50" in page
    assert "-$21.00" in page  # clearing:stripe
    assert "$7.50" in page  # revenue:plans


def test_accounts_are_searched_by_code(
    admin_client_verified: Client, wallet: LedgerAccount, books: LedgerTransaction
) -> None:
    response = admin_client_verified.get(
        reverse("admin:ledger_ledgeraccount_changelist"), {"q": "revenue:plans"}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [
        LedgerAccount.objects.get(code="revenue:plans")
    ]


def test_transactions_are_searched_by_idempotency_key_and_show_their_entries(
    admin_client_verified: Client, wallet: LedgerAccount, books: LedgerTransaction
) -> None:
    listing = admin_client_verified.get(
        reverse("admin:ledger_ledgertransaction_changelist"), {"q": "stripe:cs_test_books"}
    )
    detail = admin_client_verified.get(
        reverse("admin:ledger_ledgertransaction_change", args=[books.pk])
    )

    assert list(listing.context["cl"].result_list) == [books]
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "clearing:stripe" in page
    assert wallet.code in page
    assert "-$20.00" in page
    assert "$20.00" in page


def test_entries_are_searched_by_account_code(
    admin_client_verified: Client, wallet: LedgerAccount, books: LedgerTransaction
) -> None:
    response = admin_client_verified.get(
        reverse("admin:ledger_ledgerentry_changelist"), {"q": wallet.code}
    )

    assert response.status_code == 200
    assert sorted(entry.amount_cents for entry in response.context["cl"].result_list) == [
        -750,
        2000,
    ]


@pytest.mark.parametrize("model", ["ledgeraccount", "ledgertransaction", "ledgerentry"])
def test_nothing_can_be_added_changed_or_deleted(
    admin_client_verified: Client,
    books: LedgerTransaction,
    model: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: the refusals are expected; rendering their logged tracebacks only costs time
    caplog.set_level(logging.ERROR, logger="django.request")
    before: LedgerSnapshot = take_snapshot()
    instance = {
        "ledgeraccount": LedgerAccount.objects.first(),
        "ledgertransaction": books,
        "ledgerentry": LedgerEntry.objects.first(),
    }[model]
    assert instance is not None

    # when
    add = admin_client_verified.post(reverse(f"admin:ledger_{model}_add"), {})
    change = admin_client_verified.post(
        reverse(f"admin:ledger_{model}_change", args=[instance.pk]), {"memo": "edited"}
    )
    delete = admin_client_verified.post(
        reverse(f"admin:ledger_{model}_delete", args=[instance.pk]), {"post": "yes"}
    )
    bulk_delete = admin_client_verified.post(
        reverse(f"admin:ledger_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [instance.pk], "post": "yes"},
    )

    # then
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert bulk_delete.status_code in {200, 302}
    assert take_snapshot() == before


def test_staff_without_a_verified_second_factor_are_kept_out(
    make_staff: Callable[..., User], books: LedgerTransaction
) -> None:
    client = signed_in_client(make_staff(Role.ADMIN), verified=False)

    response = client.get(reverse("admin:ledger_ledgeraccount_changelist"))

    assert response.status_code == 302
