"""Back office for the ledger: read-only lists of accounts, transactions and entries.

Nothing here writes: money moves only through simcare.ledger.services, and
entries are corrected by reversing transactions, never edited.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import display

from simcare.admin_site import ReadOnlyModelAdmin
from simcare.kit.money import format_cents

from .models import LedgerAccount, LedgerEntry, LedgerTransaction
from .queries import balance_cents


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyModelAdmin):
    list_display = ("code", "kind", "owner", "balance", "overdraft_limit", "currency")
    list_filter = ("kind",)
    search_fields = ("code", "owner_ref")
    fields = (
        "code",
        "kind",
        "subscriber",
        "store",
        "owner_ref",
        "currency",
        "balance",
        "overdraft_limit",
        "created_at",
    )
    readonly_fields = fields
    list_select_related = ("subscriber__user", "store")

    @display(description=_("owner"))
    def owner(self, account: LedgerAccount) -> str:
        if account.subscriber is not None:
            return str(account.subscriber)
        if account.store is not None:
            return str(account.store)
        return account.owner_ref

    @display(description=_("balance"))
    def balance(self, account: LedgerAccount) -> str:
        # Summed from the entries for the business-wide accounts (models.CACHED_KINDS).
        return format_cents(balance_cents(account))

    @display(description=_("overdraft limit"), ordering="overdraft_limit_cents")
    def overdraft_limit(self, account: LedgerAccount) -> str:
        return format_cents(account.overdraft_limit_cents)


class LedgerEntryInline(TabularInline):
    model = LedgerEntry
    fields = ("account", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @display(description=_("amount"))
    def amount(self, entry: LedgerEntry) -> str:
        return format_cents(entry.amount_cents)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "kind", "reference", "memo", "idempotency_key", "reverses")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "reference", "entries__account__code")
    fields = ("created_at", "kind", "memo", "reference", "idempotency_key", "reverses")
    readonly_fields = fields
    inlines = (LedgerEntryInline,)
    date_hierarchy = "created_at"
    list_select_related = ("reverses",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "created_at", "transaction", "account", "amount")
    search_fields = ("account__code", "transaction__idempotency_key", "transaction__reference")
    fields = ("transaction", "account", "amount", "created_at")
    readonly_fields = fields
    list_select_related = ("transaction", "account")

    @display(description=_("amount"), ordering="amount_cents")
    def amount(self, entry: LedgerEntry) -> str:
        return format_cents(entry.amount_cents)
