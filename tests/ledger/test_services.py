"""Posting, refusing, reversing, and opening ledger accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from simcare.accounts.models import Subscriber
from simcare.ledger import queries, services
from simcare.ledger.errors import (
    AlreadyReversed,
    EmptyTransaction,
    IdempotencyKeyConflict,
    InsufficientFunds,
    InvalidEntry,
    ReversalNotReversible,
    UnbalancedTransaction,
    UnknownAccount,
)
from simcare.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from simcare.stores.models import Store

from .conftest import LedgerSnapshot

Snapshot = Callable[[], LedgerSnapshot]
Post = Callable[..., LedgerTransaction]


def _entries(txn: LedgerTransaction) -> list[tuple[str, int]]:
    return list(txn.entries.order_by("id").values_list("account__code", "amount_cents"))


def test_top_up_moves_money_from_clearing_into_the_wallet(
    wallet: LedgerAccount, clearing: LedgerAccount, top_up: Post
) -> None:
    # when
    txn = top_up(wallet, 2000, memo="card top-up", reference="order:311")

    # then
    assert _entries(txn) == [("clearing:stripe", -2000), (wallet.code, 2000)]
    assert (txn.kind, txn.memo, txn.reference, txn.reverses_id) == (
        "wallet_topup",
        "card top-up",
        "order:311",
        None,
    )
    assert queries.balance_cents(wallet) == 2000
    assert queries.balance_from_entries(wallet) == 2000
    assert queries.balance_cents(clearing) == -2000
    assert queries.balance_from_entries(clearing) == -2000
    # The wallet handed in carries its new balance; the business-wide account keeps none.
    assert (wallet.cached_balance_cents, clearing.cached_balance_cents) == (2000, 0)
    assert queries.find_breaks() == []


def test_a_payment_with_a_coupon_posts_three_entries(
    wallet: LedgerAccount, revenue: LedgerAccount, top_up: Post
) -> None:
    # given
    top_up(wallet, 5000)
    promotions = services.system_account("expense:promotions")

    # when
    txn = services.post_transaction(
        kind="order_payment",
        entries=[(wallet, -3000), (promotions, -500), (revenue, 3500)],
        reference="order:12",
    )

    # then
    assert _entries(txn) == [
        (wallet.code, -3000),
        ("expense:promotions", -500),
        ("revenue:plans", 3500),
    ]
    assert queries.balance_cents(wallet) == 2000
    assert queries.balance_cents(promotions) == -500
    assert queries.balance_cents(revenue) == 3500


def test_an_unbalanced_transaction_is_refused_and_changes_nothing(
    wallet: LedgerAccount, clearing: LedgerAccount, top_up: Post, snapshot: Snapshot
) -> None:
    # given
    top_up(wallet, 1000)
    before = snapshot()

    # when
    with pytest.raises(UnbalancedTransaction) as refused:
        services.post_transaction(kind="wallet_topup", entries=[(clearing, -500), (wallet, 600)])

    # then
    assert refused.value.code == "unbalanced_transaction"
    assert refused.value.details == {"total_cents": 100}
    assert snapshot() == before


@pytest.mark.parametrize("shape", ["no entries", "one entry", "one account twice"])
def test_a_transaction_must_touch_two_accounts(
    shape: str, wallet: LedgerAccount, snapshot: Snapshot
) -> None:
    entries = {
        "no entries": [],
        "one entry": [(wallet, 0)],
        "one account twice": [(wallet, 500), (wallet, -500)],
    }[shape]
    before = snapshot()

    with pytest.raises(EmptyTransaction) as refused:
        services.post_transaction(kind="adjustment", entries=entries)

    assert refused.value.code == "empty_transaction"
    assert snapshot() == before


def test_an_entry_of_zero_cents_is_refused(
    wallet: LedgerAccount, clearing: LedgerAccount, revenue: LedgerAccount, snapshot: Snapshot
) -> None:
    before = snapshot()

    with pytest.raises(InvalidEntry) as refused:
        services.post_transaction(
            kind="adjustment", entries=[(clearing, -500), (wallet, 500), (revenue, 0)]
        )

    assert refused.value.code == "invalid_entry"
    assert refused.value.details == {"account": "revenue:plans", "amount_cents": 0}
    assert snapshot() == before


def test_an_entry_on_an_unsaved_account_is_refused(
    clearing: LedgerAccount, snapshot: Snapshot
) -> None:
    before = snapshot()
    unsaved = LedgerAccount(code="revenue:addons", kind=AccountKind.REVENUE)

    with pytest.raises(InvalidEntry):
        services.post_transaction(kind="adjustment", entries=[(clearing, -500), (unsaved, 500)])

    assert snapshot() == before


@pytest.mark.parametrize("amount", [0, -100])
def test_transfer_needs_a_positive_amount(
    amount: int, wallet: LedgerAccount, clearing: LedgerAccount, snapshot: Snapshot
) -> None:
    before = snapshot()

    with pytest.raises(InvalidEntry):
        services.transfer(
            kind="wallet_topup", source=clearing, destination=wallet, amount_cents=amount
        )

    assert snapshot() == before


def test_a_transaction_kind_is_a_snake_case_word(
    wallet: LedgerAccount, clearing: LedgerAccount
) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        services.post_transaction(kind="Top Up!", entries=[(clearing, -500), (wallet, 500)])


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(
    wallet: LedgerAccount, top_up: Post, spend: Post, snapshot: Snapshot
) -> None:
    # given
    top_up(wallet, 1000)
    before = snapshot()

    # when
    with pytest.raises(InsufficientFunds) as refused:
        spend(wallet, 1001, idempotency_key="renewal:7:2026-03:1")

    # then
    assert refused.value.code == "insufficient_funds"
    assert refused.value.details == {
        "account": wallet.code,
        "balance_cents": 1000,
        "requested_cents": 1001,
        "overdraft_limit_cents": 0,
    }
    assert snapshot() == before
    assert queries.balance_cents(wallet) == 1000
    assert not LedgerTransaction.objects.filter(idempotency_key="renewal:7:2026-03:1").exists()


def test_spending_the_whole_balance_leaves_zero(
    wallet: LedgerAccount, top_up: Post, spend: Post
) -> None:
    top_up(wallet, 1000)

    spend(wallet, 1000)

    assert queries.balance_cents(wallet) == 0
    assert queries.balance_from_entries(wallet) == 0


def test_an_empty_wallet_cannot_pay(wallet: LedgerAccount, spend: Post, snapshot: Snapshot) -> None:
    before = snapshot()

    with pytest.raises(InsufficientFunds):
        spend(wallet, 1)

    assert snapshot() == before


def test_the_overdraft_limit_lets_a_wallet_go_that_far_below_zero_and_no_further(
    subscriber: Subscriber, top_up: Post, spend: Post, snapshot: Snapshot
) -> None:
    # given: a wallet allowed $5 of overdraft
    wallet = services.wallet_for(subscriber)
    LedgerAccount.objects.filter(pk=wallet.pk).update(overdraft_limit_cents=500)
    wallet.refresh_from_db()
    top_up(wallet, 1000)

    # when: spending down to -$5 works
    spend(wallet, 1500)
    before = snapshot()

    # then: one more cent is refused
    with pytest.raises(InsufficientFunds) as refused:
        spend(wallet, 1)
    assert refused.value.details["balance_cents"] == -500
    assert snapshot() == before
    assert queries.balance_cents(wallet) == -500
    assert queries.find_breaks() == []


def test_system_accounts_run_negative_by_the_sign_convention(
    subscriber: Subscriber, top_up: Post
) -> None:
    drawer = services.store_drawer(
        Store.objects.create(
            code="TOR-01",
            name="Toronto Downtown",
            address="300 Yonge St",
            city="Toronto",
            province="ON",
            postal_code="M5B 2L7",
        )
    )
    vouchers = services.system_account("liability:vouchers")

    # A voucher card sold for cash, then redeemed into a wallet.
    services.transfer(kind="voucher_sale", source=drawer, destination=vouchers, amount_cents=2500)
    services.transfer(
        kind="voucher_redemption",
        source=vouchers,
        destination=services.wallet_for(subscriber),
        amount_cents=2500,
    )

    assert queries.balance_cents(drawer) == -2500
    assert queries.balance_cents(vouchers) == 0
    assert queries.wallet_balance_cents(subscriber) == 2500


def test_the_same_idempotency_key_posts_once_and_returns_the_first_transaction(
    wallet: LedgerAccount, top_up: Post, snapshot: Snapshot
) -> None:
    # given
    first = top_up(wallet, 2000, idempotency_key="stripe:cs_test_1")
    after_first = snapshot()

    # when
    second = top_up(wallet, 2000, idempotency_key="stripe:cs_test_1", memo="retried webhook")

    # then
    assert second.pk == first.pk
    assert snapshot() == after_first
    assert queries.balance_cents(wallet) == 2000


def test_an_idempotency_key_reused_for_other_entries_is_refused(
    wallet: LedgerAccount, top_up: Post, snapshot: Snapshot
) -> None:
    first = top_up(wallet, 2000, idempotency_key="stripe:cs_test_1")
    before = snapshot()

    with pytest.raises(IdempotencyKeyConflict) as refused:
        top_up(wallet, 2500, idempotency_key="stripe:cs_test_1")

    assert refused.value.code == "idempotency_key_conflict"
    assert refused.value.details == {
        "idempotency_key": "stripe:cs_test_1",
        "transaction": first.pk,
    }
    assert snapshot() == before


def test_a_refused_posting_leaves_its_idempotency_key_free(
    wallet: LedgerAccount, top_up: Post, spend: Post
) -> None:
    # given: the first attempt is refused
    with pytest.raises(InsufficientFunds):
        spend(wallet, 3500, idempotency_key="renewal:7:2026-03:1")

    # when: the retry comes after a top-up
    top_up(wallet, 5000)
    txn = spend(wallet, 3500, idempotency_key="renewal:7:2026-03:1")

    # then
    assert txn.idempotency_key == "renewal:7:2026-03:1"
    assert queries.balance_cents(wallet) == 1500


def test_a_refusal_inside_a_larger_transaction_leaves_it_usable(
    wallet: LedgerAccount, top_up: Post, spend: Post
) -> None:
    # An order service catches the refusal and carries on in its own transaction.
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            spend(wallet, 100)
        top_up(wallet, 300)
        spend(wallet, 100)

    assert queries.balance_cents(wallet) == 200
    assert LedgerEntry.objects.filter(account=wallet).count() == 2
    assert queries.find_breaks() == []


def test_reversing_posts_the_negated_entries_pointing_at_the_original(
    wallet: LedgerAccount, clearing: LedgerAccount, top_up: Post, spend: Post
) -> None:
    # given
    top_up(wallet, 5000)
    payment = spend(wallet, 3500, reference="order:44")

    # when
    reversal = services.reverse_transaction(payment, memo="order cancelled")

    # then
    assert (reversal.kind, reversal.memo, reversal.reference, reversal.reverses_id) == (
        "reversal",
        "order cancelled",
        "order:44",
        payment.pk,
    )
    assert _entries(reversal) == [(wallet.code, 3500), ("revenue:plans", -3500)]
    assert queries.balance_cents(wallet) == 5000
    assert queries.balance_cents(services.system_account("revenue:plans")) == 0
    assert queries.find_breaks() == []


def test_a_transaction_is_reversed_only_once(
    wallet: LedgerAccount, top_up: Post, snapshot: Snapshot
) -> None:
    # given
    txn = top_up(wallet, 5000)
    reversal = services.reverse_transaction(txn, memo="duplicate charge", idempotency_key="fix:1")
    before = snapshot()

    # when / then: the same request again returns the same reversal
    again = services.reverse_transaction(txn, memo="duplicate charge", idempotency_key="fix:1")
    assert again.pk == reversal.pk
    assert snapshot() == before

    # when / then: any other second reversal is refused
    with pytest.raises(AlreadyReversed) as refused:
        services.reverse_transaction(txn, memo="again")
    assert refused.value.code == "already_reversed"
    assert refused.value.details == {"transaction": txn.pk, "reversal": reversal.pk}
    assert snapshot() == before


def test_a_reversal_is_not_reversed(
    wallet: LedgerAccount, top_up: Post, snapshot: Snapshot
) -> None:
    reversal = services.reverse_transaction(top_up(wallet, 5000), memo="mistake")
    before = snapshot()

    with pytest.raises(ReversalNotReversible) as refused:
        services.reverse_transaction(reversal, memo="undo the undo")

    assert refused.value.code == "reversal_not_reversible"
    assert snapshot() == before


def test_reversing_a_top_up_already_spent_is_refused(
    wallet: LedgerAccount, top_up: Post, spend: Post, snapshot: Snapshot
) -> None:
    # given
    topped_up = top_up(wallet, 5000)
    spend(wallet, 3500)
    before = snapshot()

    # when
    with pytest.raises(InsufficientFunds):
        services.reverse_transaction(topped_up, memo="chargeback")

    # then
    assert snapshot() == before
    assert not LedgerTransaction.objects.filter(reverses=topped_up).exists()


def test_the_database_refuses_a_second_reversal_of_one_transaction(
    wallet: LedgerAccount, top_up: Post
) -> None:
    txn = top_up(wallet, 5000)
    LedgerTransaction.objects.create(kind="reversal", reverses=txn)

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerTransaction.objects.create(kind="reversal", reverses=txn)


def test_wallet_for_opens_one_wallet_per_subscriber(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber]
) -> None:
    first = services.wallet_for(subscriber)
    again = services.wallet_for(subscriber)
    other = services.wallet_for(make_subscriber())

    assert first.pk == again.pk
    assert (first.code, first.kind, first.subscriber_id, first.overdraft_limit_cents) == (
        f"wallet:{subscriber.pk}",
        "wallet",
        subscriber.pk,
        0,
    )
    assert other.pk != first.pk
    assert LedgerAccount.objects.filter(kind=AccountKind.WALLET).count() == 2


def test_a_wallet_balance_is_zero_before_the_wallet_is_opened(subscriber: Subscriber) -> None:
    assert queries.wallet_balance_cents(subscriber) == 0
    assert not LedgerAccount.objects.exists()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("clearing:stripe", "clearing"),
        ("clearing:paypal", "clearing"),
        ("liability:vouchers", "liability"),
        ("revenue:plans", "revenue"),
        ("revenue:addons", "revenue"),
        ("expense:promotions", "expense"),
        ("payable:refunds", "payable"),
    ],
)
def test_system_account_opens_each_business_account_once(db: Any, code: str, kind: str) -> None:
    account = services.system_account(code)

    assert (account.code, account.kind) == (code, kind)
    assert services.system_account(code).pk == account.pk
    assert LedgerAccount.objects.count() == 1


@pytest.mark.parametrize(
    "code", ["wallet:1", "cash:TOR-01", "float:acme", "bogus:x", "revenue:", ""]
)
def test_system_account_refuses_other_codes(db: Any, code: str) -> None:
    with pytest.raises(UnknownAccount) as refused:
        services.system_account(code)

    assert refused.value.code == "unknown_ledger_account"
    assert not LedgerAccount.objects.exists()


def test_store_drawer_and_reseller_float(db: Any) -> None:
    store = Store.objects.create(
        code="TOR-01",
        name="Toronto Downtown",
        address="300 Yonge St",
        city="Toronto",
        province="ON",
        postal_code="M5B 2L7",
    )

    drawer = services.store_drawer(store)
    float_account = services.reseller_float("acme")

    assert (drawer.code, drawer.kind, drawer.store_id) == ("cash:TOR-01", "cash_drawer", store.pk)
    assert services.store_drawer(store).pk == drawer.pk
    assert (float_account.code, float_account.kind, float_account.owner_ref) == (
        "float:acme",
        "reseller_float",
        "acme",
    )
    assert services.reseller_float("acme").pk == float_account.pk


def test_a_float_cannot_go_below_its_limit(clearing: LedgerAccount, snapshot: Snapshot) -> None:
    float_account = services.reseller_float("acme")
    before = snapshot()

    with pytest.raises(InsufficientFunds):
        services.transfer(
            kind="order_payment",
            source=float_account,
            destination=clearing,
            amount_cents=100,
        )

    assert snapshot() == before


def test_the_database_keeps_account_codes_and_kinds_together(subscriber: Subscriber) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(code="revenue:plans", kind=AccountKind.WALLET)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(code="wallet:x", kind=AccountKind.WALLET)  # no subscriber
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(
            code="revenue:x", kind=AccountKind.REVENUE, overdraft_limit_cents=-1
        )
    assert not LedgerAccount.objects.exists()


def test_entries_for_lists_an_account_newest_first(
    wallet: LedgerAccount, top_up: Post, spend: Post
) -> None:
    top_up(wallet, 1000)
    spend(wallet, 300)

    history = [
        (entry.transaction.kind, entry.amount_cents) for entry in queries.entries_for(wallet)
    ]

    assert history == [("order_payment", -300), ("wallet_topup", 1000)]
