"""State changes of the ledger: posting and reversing transactions, opening accounts.

Amounts follow the sign convention in simcare.ledger.models: a positive entry adds
value to its account, a wallet's balance is the money its subscriber can spend.

Every posting assumes it runs concurrently with itself: the touched accounts that
keep a cached balance (wallets, floats, drawers: models.CACHED_KINDS) are updated,
and so locked, in primary-key order as the posting's last statements (no deadlock
between two postings over the same accounts, and the locks are held only from there
to the commit), in the same database transaction as the entries; the business-wide
accounts (revenue, tax, clearing, ...) are not locked at all, their balances being
the sums of their entries. The idempotency key is a unique column, so the same key
posted twice, or twice at once, moves money once.

The ledger writes no audit event of its own: its rows are the audit trail, and the
service that moves money (an order, a redemption) records who acted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, F, Value, When
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.kit.bulk import insert_rows
from simcare.kit.money import CURRENCY
from simcare.stores.models import Store

from .errors import (
    AlreadyReversed,
    EmptyTransaction,
    IdempotencyKeyConflict,
    InsufficientFunds,
    InvalidEntry,
    ReversalNotReversible,
    UnbalancedTransaction,
    UnknownAccount,
)
from .models import (
    CACHED_KINDS,
    CODE_PREFIXES,
    LIMITED_KINDS,
    SYSTEM_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)

Leg = tuple[LedgerAccount, int]

_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ACCOUNT_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,50}")
_KIND_BY_PREFIX = {prefix: kind for kind, prefix in CODE_PREFIXES.items()}


@transaction.atomic
def post_transaction(
    *,
    kind: str,
    entries: Sequence[Leg],
    memo: str = "",
    idempotency_key: str | None = None,
    reference: str = "",
) -> LedgerTransaction:
    """Post one balanced transaction, e.g. entries=[(clearing, -2000), (wallet, +2000)].

    Refuses (nothing written): EmptyTransaction, InvalidEntry, UnbalancedTransaction,
    InsufficientFunds (a wallet or float would go below -overdraft limit),
    IdempotencyKeyConflict (the key was used for a different transaction).
    The same idempotency key again returns the first transaction and posts nothing.
    The account objects passed in with a cached balance (wallets, floats, drawers) get
    their cached_balance_cents refreshed; the business-wide ones are neither locked nor
    updated (see models.CACHED_KINDS).
    """
    legs = list(entries)
    _check_shape(kind, legs)
    key = idempotency_key or None
    # A key seen before fails the transaction row's insert, and _post answers with the
    # first transaction (or the conflict): no read ahead of it.
    return _post(
        kind=kind, legs=legs, memo=memo, idempotency_key=key, reference=reference, reverses=None
    )


@dataclass(frozen=True)
class Posting:
    """One transaction of post_transactions: what post_transaction takes, as a value."""

    kind: str
    entries: Sequence[Leg]
    memo: str = ""
    idempotency_key: str | None = None
    reference: str = ""


@transaction.atomic(savepoint=False)
def post_transactions(postings: Sequence[Posting]) -> list[LedgerTransaction]:
    """Post many balanced transactions at once (a batch of orders): the same rules as
    post_transaction, in a bounded number of statements whatever their number.

    The transactions, then all their entries, are inserted in one statement each, and the
    cached balances of the touched accounts move last (as in post_transaction: in
    primary-key order, under their row locks to the commit). Refuses like post_transaction
    (EmptyTransaction, InvalidEntry, UnbalancedTransaction, InsufficientFunds), all or
    nothing (no savepoint of its own: called inside a transaction, a refusal fails that
    transaction, as the caller's batch wants). Idempotency keys must be new: one seen
    before fails the insert (IntegrityError) instead of returning the first transaction;
    callers give keys made from rows of their own transaction (an order's id).
    """
    for posting in postings:
        _check_shape(posting.kind, list(posting.entries))
    if not postings:
        return []
    now = timezone.now()
    transactions = [
        LedgerTransaction(
            created_at=now,
            kind=posting.kind,
            memo=posting.memo,
            reference=posting.reference,
            idempotency_key=posting.idempotency_key or None,
        )
        for posting in postings
    ]
    insert_rows(transactions, returning_pk=True)
    deltas: dict[int, int] = defaultdict(int)
    accounts: dict[int, LedgerAccount] = {}
    entries = []
    for txn, posting in zip(transactions, postings, strict=True):
        for account, amount in posting.entries:
            entries.append(
                LedgerEntry(
                    transaction=txn, account_id=account.pk, amount_cents=amount, created_at=now
                )
            )
            if account.kind in CACHED_KINDS:
                deltas[account.pk] += amount
                accounts[account.pk] = account
    insert_rows(entries)
    balances = _move_cached_balances({pk: delta for pk, delta in deltas.items() if delta})
    for pk, balance in balances.items():
        accounts[pk].cached_balance_cents = balance
    return transactions


@transaction.atomic
def reverse_transaction(
    txn: LedgerTransaction, *, memo: str, idempotency_key: str | None = None
) -> LedgerTransaction:
    """Post the negated entries of txn as a "reversal" transaction pointing at it.

    A transaction is reversed at most once (AlreadyReversed), a reversal is never
    reversed (ReversalNotReversible), and a reversal that would take a wallet below
    its limit is refused (InsufficientFunds), e.g. a top-up already spent.
    With the idempotency key of an earlier reversal, returns that reversal.
    """
    original = LedgerTransaction.objects.get(pk=txn.pk)
    legs = [
        (entry.account, -entry.amount_cents)
        for entry in original.entries.select_related("account").order_by("id")
    ]
    key = idempotency_key or None
    if key is not None:
        existing = LedgerTransaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _same_or_conflict(
                existing,
                kind=TransactionKind.REVERSAL,
                legs=legs,
                reference=original.reference,
                reverses=original,
            )
    if original.reverses_id is not None:
        raise ReversalNotReversible(transaction=original.pk)
    earlier = LedgerTransaction.objects.filter(reverses=original).first()
    if earlier is not None:
        raise AlreadyReversed(transaction=original.pk, reversal=earlier.pk)
    _check_shape(TransactionKind.REVERSAL, legs)
    return _post(
        kind=TransactionKind.REVERSAL,
        legs=legs,
        memo=memo,
        idempotency_key=key,
        reference=original.reference,
        reverses=original,
    )


def transfer(
    *,
    kind: str,
    source: LedgerAccount,
    destination: LedgerAccount,
    amount_cents: int,
    memo: str = "",
    idempotency_key: str | None = None,
    reference: str = "",
) -> LedgerTransaction:
    """Move amount_cents (> 0) from source to destination: the two-entry post_transaction."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidEntry(amount_cents=amount_cents)
    return post_transaction(
        kind=kind,
        entries=[(source, -amount_cents), (destination, amount_cents)],
        memo=memo,
        idempotency_key=idempotency_key,
        reference=reference,
    )


def wallet_for(subscriber: Subscriber) -> LedgerAccount:
    """The subscriber's wallet ("wallet:<subscriber id>"), opened on first use."""
    account, _created = LedgerAccount.objects.get_or_create(
        subscriber=subscriber,
        defaults={"kind": AccountKind.WALLET, "code": f"wallet:{subscriber.pk}"},
    )
    return account


def system_account(code: str) -> LedgerAccount:
    """A business-wide account by code, opened on first use.

    Codes are "<prefix>:<name>" with prefix clearing, liability, payable, revenue or
    expense: "clearing:stripe", "clearing:paypal", "liability:vouchers",
    "revenue:plans", "revenue:addons", "expense:promotions", "payable:refunds".
    """
    prefix, _separator, name = code.partition(":")
    kind = _KIND_BY_PREFIX.get(prefix)
    if kind not in SYSTEM_KINDS or not _ACCOUNT_NAME_PATTERN.fullmatch(name):
        raise UnknownAccount(code=code)
    account, _created = LedgerAccount.objects.get_or_create(code=code, defaults={"kind": kind})
    return account


def system_accounts(codes: Sequence[str]) -> dict[str, LedgerAccount]:
    """Several business-wide accounts by code in one query, each opened on first use."""
    found = {account.code: account for account in LedgerAccount.objects.filter(code__in=codes)}
    for code in codes:
        if code not in found or found[code].kind not in SYSTEM_KINDS:
            found[code] = system_account(code)
    return found


def store_drawer(store: Store) -> LedgerAccount:
    """The store's cash drawer ("cash:TOR-01"), opened on first use."""
    account, _created = LedgerAccount.objects.get_or_create(
        store=store,
        defaults={"kind": AccountKind.CASH_DRAWER, "code": f"cash:{store.code}"},
    )
    return account


def reseller_float(owner_ref: str) -> LedgerAccount:
    """A reseller's prepaid float ("float:acme"), opened on first use."""
    if not _ACCOUNT_NAME_PATTERN.fullmatch(owner_ref):
        raise UnknownAccount(code=f"float:{owner_ref}")
    account, _created = LedgerAccount.objects.get_or_create(
        code=f"float:{owner_ref}",
        defaults={"kind": AccountKind.RESELLER_FLOAT, "owner_ref": owner_ref},
    )
    return account


def _check_shape(kind: str, legs: list[Leg]) -> None:
    if not _KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"a transaction kind is a short snake_case word, not {kind!r}")
    if len(legs) < 2 or len({account.pk for account, _amount in legs}) < 2:
        raise EmptyTransaction(entries=len(legs))
    for account, amount in legs:
        if (
            account.pk is None
            or isinstance(amount, bool)
            or not isinstance(amount, int)
            or amount == 0
            or account.currency != CURRENCY
        ):
            raise InvalidEntry(account=account.code, amount_cents=amount)
    total = sum(amount for _account, amount in legs)
    if total != 0:
        raise UnbalancedTransaction(total_cents=total)


_BALANCE_CHUNK = 500
# Up to this many cached accounts in one posting move one UPDATE … RETURNING each (an
# order: a wallet or a float); more (a usage charge over many wallets) move in chunks.
_ONE_BY_ONE = 8


def _add_to_balances(deltas: dict[int, int]) -> None:
    """cached_balance_cents += delta for each account: one UPDATE per 500 accounts (a usage
    charge has a leg per wallet), not one per account."""
    ordered = sorted(deltas.items())
    for start in range(0, len(ordered), _BALANCE_CHUNK):
        chunk = ordered[start : start + _BALANCE_CHUNK]
        if len(chunk) == 1:
            account_id, delta = chunk[0]
            LedgerAccount.objects.filter(pk=account_id).update(
                cached_balance_cents=F("cached_balance_cents") + delta
            )
            continue
        LedgerAccount.objects.filter(pk__in=[account_id for account_id, _delta in chunk]).update(
            cached_balance_cents=F("cached_balance_cents")
            + Case(
                *(When(pk=account_id, then=Value(delta)) for account_id, delta in chunk),
                output_field=BigIntegerField(),
            )
        )


def _post(
    *,
    kind: str,
    legs: list[Leg],
    memo: str,
    idempotency_key: str | None,
    reference: str,
    reverses: LedgerTransaction | None,
) -> LedgerTransaction:
    deltas: dict[int, int] = defaultdict(int)
    accounts: dict[int, LedgerAccount] = {}
    for account, amount in legs:
        deltas[account.pk] += amount
        accounts[account.pk] = account

    now = timezone.now()
    try:
        # A savepoint, so a key or reversal taken by a concurrent posting leaves this
        # transaction usable for reading the winner.
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(
                created_at=now,
                kind=kind,
                memo=memo,
                reference=reference,
                idempotency_key=idempotency_key,
                reverses=reverses,
            )
    except IntegrityError:
        if idempotency_key is not None:
            winner = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if winner is not None:
                return _same_or_conflict(
                    winner, kind=kind, legs=legs, reference=reference, reverses=reverses
                )
        if reverses is not None:
            earlier = LedgerTransaction.objects.filter(reverses=reverses).first()
            if earlier is not None:
                raise AlreadyReversed(transaction=reverses.pk, reversal=earlier.pk) from None
        raise

    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=txn, account_id=account.pk, amount_cents=amount, created_at=now)
        for account, amount in legs
    )
    # Last, so the row locks are held for as short a time as the transaction allows.
    balances = _move_cached_balances(
        {pk: delta for pk, delta in deltas.items() if accounts[pk].kind in CACHED_KINDS and delta}
    )
    for account, _amount in legs:
        if account.pk in balances:
            account.cached_balance_cents = balances[account.pk]
    return txn


_MOVE_BALANCE_SQL = (
    "UPDATE ledger_account SET cached_balance_cents = cached_balance_cents + %s "
    "WHERE id = %s RETURNING cached_balance_cents, overdraft_limit_cents, kind, code"
)


def _move_cached_balances(deltas: dict[int, int]) -> dict[int, int]:
    """Add each delta to its (cached-kind) account's balance; their new balances.

    One UPDATE ... RETURNING per account, in primary-key order: the UPDATE takes the row
    lock and reads the latest committed balance, so two postings over the same accounts
    queue instead of deadlocking, and a limited account taken below -overdraft limit
    raises InsufficientFunds (the caller's atomic block undoes the entries above).
    The business-wide accounts are never locked: they have no cached balance to keep.
    """
    if len(deltas) > _ONE_BY_ONE:
        return _move_many_balances(deltas)
    balances: dict[int, int] = {}
    with connection.cursor() as cursor:
        for account_id, delta in sorted(deltas.items()):
            cursor.execute(_MOVE_BALANCE_SQL, [delta, account_id])
            row = cursor.fetchone()
            if row is None:
                raise UnknownAccount(account_ids=[account_id])
            balance, overdraft_limit, account_kind, code = row
            _check_limit(code, account_kind, balance, delta, overdraft_limit)
            balances[account_id] = int(balance)
    return balances


def _check_limit(code: str, kind: str, balance: int, delta: int, overdraft_limit: int) -> None:
    """A limited account taken below -overdraft limit by `delta` (its new `balance`)."""
    if delta < 0 and kind in LIMITED_KINDS and balance < -overdraft_limit:
        raise InsufficientFunds(
            account=code,
            balance_cents=balance - delta,
            requested_cents=-delta,
            overdraft_limit_cents=overdraft_limit,
        )


def _move_many_balances(deltas: dict[int, int]) -> dict[int, int]:
    """The same for a posting with many cached accounts (a usage charge has a leg per
    wallet): one UPDATE per 500 accounts, in primary-key order, then one read of the
    new balances per 500, checked against the limits."""
    _add_to_balances(deltas)
    balances: dict[int, int] = {}
    ordered = sorted(deltas)
    for start in range(0, len(ordered), _BALANCE_CHUNK):
        rows = LedgerAccount.objects.filter(
            pk__in=ordered[start : start + _BALANCE_CHUNK]
        ).values_list("pk", "cached_balance_cents", "overdraft_limit_cents", "kind", "code")
        for account_id, balance, overdraft_limit, account_kind, code in rows:
            delta = deltas[account_id]
            _check_limit(code, account_kind, balance, delta, overdraft_limit)
            balances[account_id] = int(balance)
    missing = sorted(set(deltas) - set(balances))
    if missing:
        raise UnknownAccount(account_ids=missing)
    return balances


def _same_or_conflict(
    existing: LedgerTransaction,
    *,
    kind: str,
    legs: list[Leg],
    reference: str,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    stored = sorted(existing.entries.values_list("account_id", "amount_cents"))
    wanted = sorted((account.pk, amount) for account, amount in legs)
    if (
        existing.kind != kind
        or stored != wanted
        or existing.reference != reference
        or existing.reverses_id != (reverses.pk if reverses is not None else None)
    ):
        raise IdempotencyKeyConflict(
            idempotency_key=existing.idempotency_key, transaction=existing.pk
        )
    return existing
