"""The money truth: double-entry ledger accounts, transactions and entries (20-money.md).

Sign convention (the one rule every posting follows)
----------------------------------------------------
An account's balance is the plain sum of its entries' ``amount_cents``; a positive
entry adds value to the account. A transaction moves value from the accounts with
negative entries to the accounts with positive entries, and its entries sum to zero,
so the whole ledger always sums to zero.

| account | its balance means |
| --- | --- |
| ``wallet:42`` | + what subscriber 42 can spend (never below -overdraft limit) |
| ``float:acme`` | + the prepaid float reseller acme can spend (never below -overdraft limit) |
| ``liability:vouchers`` | + value of sold vouchers not yet redeemed |
| ``payable:refunds`` | + refunds owed to customers, not yet paid out |
| ``revenue:plans``, ``revenue:addons`` | + revenue earned |
| ``clearing:stripe``, ``clearing:paypal`` | - money the provider collected for us |
| ``cash:TOR-01`` | - cash the store's drawer took in |
| ``expense:promotions`` | - discounts given |

In accounting terms ``amount_cents = credit - debit``: liabilities and revenue
(credit-normal) carry positive balances, assets and expenses (debit-normal) negative
ones. Money entering from outside (a provider, a drawer, the promotion budget) is
drawn from an account that therefore runs negative.

Examples, one transaction each:
- card top-up of $20: ``clearing:stripe -2000``, ``wallet:42 +2000``
- renewal from the wallet, $35 with a $5 coupon:
  ``wallet:42 -3000``, ``expense:promotions -500``, ``revenue:plans +3500``
- voucher card sold for cash: ``cash:TOR-01 -2500``, ``liability:vouchers +2500``;
  redeemed later: ``liability:vouchers -2500``, ``wallet:42 +2500``

Entries and transactions are append-only: the model and queryset refuse updates and
deletes, the admin is read-only, and database triggers (migration 0002) refuse UPDATE
and DELETE of their rows on SQLite and PostgreSQL alike. A correction is a new
transaction that ``reverses`` the wrong one.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.kit.money import CURRENCY

from .errors import AppendOnlyViolation


class AccountKind(models.TextChoices):
    WALLET = "wallet", _("Subscriber wallet")
    RESELLER_FLOAT = "reseller_float", _("Reseller float")
    CLEARING = "clearing", _("Payment clearing")
    LIABILITY = "liability", _("Liability")
    PAYABLE = "payable", _("Payable")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")
    CASH_DRAWER = "cash_drawer", _("Store cash drawer")


# The code of every account starts with its kind's prefix: "wallet:42", "cash:TOR-01".
CODE_PREFIXES: dict[str, str] = {
    AccountKind.WALLET: "wallet",
    AccountKind.RESELLER_FLOAT: "float",
    AccountKind.CLEARING: "clearing",
    AccountKind.LIABILITY: "liability",
    AccountKind.PAYABLE: "payable",
    AccountKind.REVENUE: "revenue",
    AccountKind.EXPENSE: "expense",
    AccountKind.CASH_DRAWER: "cash",
}

# Accounts someone spends from: their balance never goes below -overdraft_limit_cents.
# The others are the business's own books and run negative by the sign convention.
LIMITED_KINDS: frozenset[str] = frozenset({AccountKind.WALLET, AccountKind.RESELLER_FLOAT})

# Accounts that exist once for the whole business, reached by code (services.system_account).
SYSTEM_KINDS: frozenset[str] = frozenset(
    {
        AccountKind.CLEARING,
        AccountKind.LIABILITY,
        AccountKind.PAYABLE,
        AccountKind.REVENUE,
        AccountKind.EXPENSE,
    }
)


# Accounts that keep their balance in cached_balance_cents, updated under a row lock with every
# posting: the per-owner accounts (wallets, floats, drawers), where the no-negative rule of the
# limited ones needs the exact balance at once. The business-wide SYSTEM_KINDS accounts, which
# every order touches, keep no cached balance: their balance is the sum of their entries, read
# when asked (simcare.ledger.queries.balance_cents), so postings never queue on their row.
CACHED_KINDS: frozenset[str] = frozenset(kind for kind in AccountKind if kind not in SYSTEM_KINDS)


def _code_matches_kind() -> Q:
    condition = Q()
    for kind, prefix in CODE_PREFIXES.items():
        condition |= Q(kind=kind, code__startswith=f"{prefix}:")
    return condition


class TransactionKind(models.TextChoices):
    """Kinds the money flows use; the column takes any short snake_case word."""

    WALLET_TOPUP = "wallet_topup", _("Wallet top-up")
    ORDER_PAYMENT = "order_payment", _("Order payment")
    VOUCHER_SALE = "voucher_sale", _("Voucher sale")
    VOUCHER_REDEMPTION = "voucher_redemption", _("Voucher redemption")
    USAGE_CHARGE = "usage_charge", _("Usage charge")
    REFUND = "refund", _("Refund")
    FLOAT_TOPUP = "float_topup", _("Reseller float top-up")
    ADJUSTMENT = "adjustment", _("Adjustment")
    REVERSAL = "reversal", _("Reversal")


class LedgerAccount(models.Model):
    """One place money sits, e.g. "wallet:42" (subscriber 42's wallet) or "revenue:plans".

    For CACHED_KINDS (wallets, floats, drawers) cached_balance_cents is the sum of the
    account's entries, kept in the same database transaction as every posting; `simcare
    ledger verify` checks it. For the business-wide accounts (SYSTEM_KINDS) it is not kept
    (stays 0): their balance is summed from their entries (queries.balance_cents).
    """

    code = models.CharField(_("code"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)
    subscriber = models.OneToOneField(
        "accounts.Subscriber",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_account",
        verbose_name=_("subscriber"),
    )
    store = models.OneToOneField(
        "stores.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cash_drawer_account",
        verbose_name=_("store"),
    )
    # Who a float belongs to until resellers have their own table, e.g. "acme".
    owner_ref = models.CharField(_("owner"), max_length=64, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default=CURRENCY)
    overdraft_limit_cents = models.BigIntegerField(_("overdraft limit (cents)"), default=0)
    cached_balance_cents = models.BigIntegerField(_("balance (cents)"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "ledger_account"
        ordering = ["code"]
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(overdraft_limit_cents__gte=0),
                name="ledger_account_overdraft_limit_not_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=AccountKind.WALLET, subscriber__isnull=False)
                    | (~Q(kind=AccountKind.WALLET) & Q(subscriber__isnull=True))
                ),
                name="ledger_account_wallet_has_subscriber",
            ),
            models.CheckConstraint(
                condition=Q(store__isnull=True) | Q(kind=AccountKind.CASH_DRAWER),
                name="ledger_account_store_only_on_drawer",
            ),
            models.CheckConstraint(
                condition=_code_matches_kind(),
                name="ledger_account_code_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_limited(self) -> bool:
        return self.kind in LIMITED_KINDS

    @property
    def is_cached(self) -> bool:
        return self.kind in CACHED_KINDS


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Rows are inserted, never changed or deleted (the database refuses it as well)."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be updated")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be deleted")


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyViolation(f"{type(self).__name__} {self.pk} cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{type(self).__name__} {self.pk} cannot be deleted")


class LedgerTransaction(AppendOnlyModel):
    """One money movement: two or more entries that sum to zero.

    Example: #812 "wallet_topup" at 2026-03-02 14:05 UTC, reference "order:311",
    idempotency key "stripe:cs_test_a1b2", entries clearing:stripe -2000 and wallet:42 +2000.
    A reversal (#840, kind "reversal", reverses #812) carries the negated entries.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=40)
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    # What caused the movement, e.g. "order:311", until orders have their own table.
    reference = models.CharField(_("reference"), max_length=100, blank=True, db_index=True)
    # NULL, not "", for "no key": the unique constraint must ignore missing keys.
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=200, null=True, blank=True, unique=True
    )
    # One-to-one: a transaction is reversed at most once, enforced by the database.
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
        verbose_name=_("reverses"),
    )

    objects: ClassVar[models.Manager[LedgerTransaction]] = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "ledger_transaction"
        ordering = ["-id"]
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"

    @property
    def kind_label(self) -> str:
        if self.kind in TransactionKind.values:
            return str(TransactionKind(self.kind).label)
        return self.kind


class LedgerEntry(AppendOnlyModel):
    """One leg of a transaction on one account, e.g. wallet:42 +2000 (a $20 top-up).

    Signed by the convention in this module's docstring: positive adds to the account.
    """

    transaction = models.ForeignKey(
        LedgerTransaction,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("transaction"),
    )
    account = models.ForeignKey(
        LedgerAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("account"),
        # Covered by the (account, id) index below, which also serves an account's history.
        db_index=False,
    )
    amount_cents = models.BigIntegerField(_("amount (cents)"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects: ClassVar[models.Manager[LedgerEntry]] = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "ledger_entry"
        ordering = ["id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [models.Index(fields=["account", "id"], name="ledger_entry_account_id")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_cents=0), name="ledger_entry_amount_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_cents:+d}"
