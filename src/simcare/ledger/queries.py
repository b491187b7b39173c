"""Reads of the ledger: balances, an account's entries, and the invariant check behind
`simcare ledger verify`.

Balances follow the sign convention in simcare.ledger.models (a wallet's balance is
the money its subscriber can spend).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet, Sum

from simcare.accounts.models import Subscriber
from simcare.kit.prepared import Prepared

from .models import CACHED_KINDS, LIMITED_KINDS, LedgerAccount, LedgerEntry, LedgerTransaction


def balance_cents(account: LedgerAccount) -> int:
    """The account's balance now: the cached sum kept with every posting for wallets, floats
    and drawers; summed from the entries for the business-wide accounts (CACHED_KINDS)."""
    if account.kind not in CACHED_KINDS:
        return balance_from_entries(account)
    return LedgerAccount.objects.values_list("cached_balance_cents", flat=True).get(pk=account.pk)


def balances_by_code() -> dict[str, int]:
    """Every account's balance by code, as balance_cents gives it (two queries)."""
    summed = dict(
        LedgerEntry.objects.exclude(account__kind__in=sorted(CACHED_KINDS))
        .values("account_id")
        .annotate(total=Sum("amount_cents"))
        .values_list("account_id", "total")
    )
    return {
        code: int(cached) if kind in CACHED_KINDS else int(summed.get(pk) or 0)
        for pk, code, kind, cached in LedgerAccount.objects.values_list(
            "pk", "code", "kind", "cached_balance_cents"
        )
    }


def balance_from_entries(account: LedgerAccount) -> int:
    """The account's balance summed from its entries: the truth the cache must equal."""
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_cents"))
    return int(total["total"] or 0)


def wallet_balance_cents(subscriber: Subscriber) -> int:
    """What the subscriber can spend; 0 before their wallet is first used (none is opened)."""
    balances = _WALLET_BALANCE(subscriber_id=subscriber.pk)
    return int(balances[0] or 0) if balances else 0


def _wallet_balance(subscriber_id: int) -> QuerySet[LedgerAccount, int]:
    return (
        LedgerAccount.objects.filter(subscriber_id=subscriber_id)
        .order_by("code")
        .values_list("cached_balance_cents", flat=True)[:1]
    )


# Compiled once: every portal page shows the balance.
_WALLET_BALANCE: Prepared[int] = Prepared(_wallet_balance, subscriber_id=int)


def entries_for(account: LedgerAccount) -> QuerySet[LedgerEntry]:
    """The account's entries, newest first, with their transactions."""
    return LedgerEntry.objects.filter(account=account).select_related("transaction").order_by("-id")


@dataclass(frozen=True)
class LedgerBreak:
    """One broken invariant, e.g. code "unbalanced_transaction", subject "transaction 17",
    check "sum of entries", expected "0", actual "500"."""

    code: str
    subject: str
    check: str
    expected: str
    actual: str


@dataclass(frozen=True)
class LedgerSize:
    transactions: int
    accounts: int


def ledger_size() -> LedgerSize:
    return LedgerSize(
        transactions=LedgerTransaction.objects.count(), accounts=LedgerAccount.objects.count()
    )


# Every check is one set-based query (GROUP BY over all entries), not a loop over rows.
# A transaction's entries are counted and summed in the same pass.
_TRANSACTIONS_SQL = """
SELECT t.id, COUNT(e.id), COALESCE(SUM(e.amount_cents), 0)
FROM ledger_transaction t
LEFT JOIN ledger_entry e ON e.transaction_id = t.id
GROUP BY t.id
HAVING COUNT(e.id) < 2 OR COALESCE(SUM(e.amount_cents), 0) <> 0
ORDER BY t.id
"""

_ACCOUNTS_SQL = """
SELECT a.code, a.kind, a.cached_balance_cents, a.overdraft_limit_cents, COALESCE(s.total, 0)
FROM ledger_account a
LEFT JOIN (
    SELECT account_id, SUM(amount_cents) AS total FROM ledger_entry GROUP BY account_id
) s ON s.account_id = a.id
WHERE (a.kind IN ({cached}) AND a.cached_balance_cents <> COALESCE(s.total, 0))
   OR (a.kind IN ({limited}) AND COALESCE(s.total, 0) < -a.overdraft_limit_cents)
ORDER BY a.code
"""

# A reversal's entries must be its original's entries negated, one for one: count each
# (account, amount) on both sides, with the original's amounts negated.
_REVERSALS_SQL = """
SELECT pair.reversal_id, pair.reversed_id, a.code, pair.amount,
       SUM(pair.in_reversal), SUM(pair.in_original)
FROM (
    SELECT r.id AS reversal_id, r.reverses_id AS reversed_id, e.account_id,
           e.amount_cents AS amount, 1 AS in_reversal, 0 AS in_original
    FROM ledger_transaction r JOIN ledger_entry e ON e.transaction_id = r.id
    WHERE r.reverses_id IS NOT NULL
    UNION ALL
    SELECT r.id, r.reverses_id, e.account_id, -e.amount_cents, 0, 1
    FROM ledger_transaction r JOIN ledger_entry e ON e.transaction_id = r.reverses_id
    WHERE r.reverses_id IS NOT NULL
) pair
JOIN ledger_account a ON a.id = pair.account_id
GROUP BY pair.reversal_id, pair.reversed_id, a.code, pair.amount
HAVING SUM(pair.in_reversal) <> SUM(pair.in_original)
ORDER BY pair.reversal_id, a.code, pair.amount
"""


def find_breaks() -> list[LedgerBreak]:
    """Every broken ledger invariant, transactions first, then accounts, then reversals."""
    breaks: list[LedgerBreak] = []
    limited = sorted(LIMITED_KINDS)
    cached_kinds = sorted(CACHED_KINDS)
    with connection.cursor() as cursor:
        cursor.execute(_TRANSACTIONS_SQL)
        for transaction_id, entry_count, raw_total in cursor.fetchall():
            # PostgreSQL sums bigints as numeric (Decimal); SQLite as integers.
            total = int(raw_total)
            subject = f"transaction {transaction_id}"
            if entry_count < 2:
                breaks.append(
                    LedgerBreak(
                        "too_few_entries",
                        subject,
                        "number of entries",
                        "2 or more",
                        str(entry_count),
                    )
                )
            if total != 0:
                breaks.append(
                    LedgerBreak(
                        "unbalanced_transaction", subject, "sum of entries", "0", str(total)
                    )
                )

        cursor.execute(
            _ACCOUNTS_SQL.format(
                cached=", ".join(["%s"] * len(cached_kinds)),
                limited=", ".join(["%s"] * len(limited)),
            ),
            [*cached_kinds, *limited],
        )
        for code, kind, cached, overdraft_limit, raw_total in cursor.fetchall():
            total = int(raw_total)
            subject = f"account {code}"
            # The business-wide accounts keep no cached balance (models.CACHED_KINDS).
            if kind in CACHED_KINDS and cached != total:
                breaks.append(
                    LedgerBreak(
                        "cached_balance_mismatch",
                        subject,
                        "cached balance (expected: the sum of its entries)",
                        str(total),
                        str(cached),
                    )
                )
            if kind in LIMITED_KINDS and total < -overdraft_limit:
                breaks.append(
                    LedgerBreak(
                        "below_overdraft_limit",
                        subject,
                        "sum of entries",
                        f"{-overdraft_limit} or more",
                        str(total),
                    )
                )

        cursor.execute(_REVERSALS_SQL)
        for reversal_id, reversed_id, code, amount, in_reversal, in_original in cursor.fetchall():
            breaks.append(
                LedgerBreak(
                    "reversal_mismatch",
                    f"transaction {reversal_id} (reverses {reversed_id})",
                    f"entries of {amount} on {code}",
                    str(in_original),
                    str(in_reversal),
                )
            )
    return breaks
