"""The back office: Django's admin with the unfold theme, for verified staff only.

The sidebar (settings.UNFOLD["SIDEBAR"]["navigation"] points at
`sidebar_navigation`) groups the registered models by what staff do with them.
A model registered by an app not listed in SIDEBAR_SECTIONS still appears,
in a section named after its app, so a new app never hides its admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import DropdownFilter
from unfold.sites import UnfoldAdminSite

from simcare.accounts.forms import StaffOTPAuthenticationForm

STAFF_ROLES = ("admin", "agent", "clerk")

# (section title, ((model label, Material Symbols icon), …)), in sidebar order.
SIDEBAR_SECTIONS: tuple[tuple[StrOrPromise, tuple[tuple[str, str], ...]], ...] = (
    (_("Catalog"), (("catalog.plan", "sim_card"), ("catalog.addon", "add_circle"))),
    (
        _("Lines & stock"),
        (
            ("lines.line", "phone_android"),
            ("lines.number", "dialpad"),
            ("lines.simcard", "sd_card"),
            ("lines.bucket", "data_usage"),
            ("lines.lineevent", "history"),
            ("stores.store", "storefront"),
        ),
    ),
    (
        _("Customers"),
        (
            ("accounts.subscriber", "person"),
            ("accounts.user", "badge"),
            ("auth.group", "groups"),
        ),
    ),
    (
        _("Money"),
        (
            ("ledger.ledgeraccount", "account_balance_wallet"),
            ("ledger.ledgertransaction", "receipt_long"),
            ("ledger.ledgerentry", "list_alt"),
            ("orders.order", "shopping_cart"),
            ("orders.payment", "payments"),
            ("orders.receipt", "receipt"),
            ("orders.coupon", "sell"),
            ("orders.promotion", "redeem"),
            ("orders.savedpaymentmethod", "credit_card"),
            ("orders.autorenewattempt", "autorenew"),
        ),
    ),
    (_("Notifications"), (("notify.notification", "outgoing_mail"),)),
    (
        _("Operations"),
        (
            ("accounts.auditevent", "policy"),
            ("ops.jobrun", "schedule"),
            ("ops.workerheartbeat", "monitor_heart"),
            ("otp_totp.totpdevice", "key"),
            ("axes.accessattempt", "lock_clock"),
            ("axes.accessfailurelog", "gpp_bad"),
            ("axes.accesslog", "login"),
        ),
    ),
)
DEFAULT_ICON = "folder"


class SimcareAdminSite(UnfoldAdminSite):
    """Only staff who signed in with a TOTP code reach the admin (70-trust.md)."""

    login_form = StaffOTPAuthenticationForm
    login_template = "admin/simcare_login.html"
    site_header = "simcare"
    site_title = "simcare back office"
    index_title = "Back office"

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(super().has_permission(request) and user.is_verified())


def _item(request: HttpRequest, model_admin: Any, icon: str) -> dict[str, Any] | None:
    """The sidebar entry of one model, or None when the user may not see its list."""
    if not (
        model_admin.has_module_permission(request)
        and model_admin.has_view_or_change_permission(request)
    ):
        return None
    opts = model_admin.model._meta
    try:
        link = reverse(
            f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"
        )
    except NoReverseMatch:
        return None
    title = conditional_escape(capfirst(opts.verbose_name_plural))
    return {"title": title, "icon": icon, "link": link}


def sidebar_navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """unfold's SIDEBAR navigation for this request: only the models the user may see."""
    registry: dict[str, Any] = {
        model._meta.label_lower: model_admin for model, model_admin in admin.site._registry.items()
    }
    placed: set[str] = set()
    sections: list[dict[str, Any]] = []
    for title, entries in SIDEBAR_SECTIONS:
        items = []
        for label, icon in entries:
            placed.add(label)
            model_admin = registry.get(label)
            item = _item(request, model_admin, icon) if model_admin is not None else None
            if item is not None:
                items.append(item)
        if items:
            sections.append({"title": title, "collapsible": False, "items": items})
    by_app: dict[str, list[dict[str, Any]]] = {}
    app_titles: dict[str, StrOrPromise] = {}
    for label in sorted(set(registry) - placed):
        model_admin = registry[label]
        item = _item(request, model_admin, DEFAULT_ICON)
        if item is not None:
            opts = model_admin.model._meta
            by_app.setdefault(opts.app_label, []).append(item)
            app_titles[opts.app_label] = opts.app_config.verbose_name
    sections.extend(
        {"title": app_titles[app_label], "collapsible": True, "items": items}
        for app_label, items in by_app.items()
    )
    return sections


class DistinctValuesFilter(DropdownFilter):
    """A dropdown of the values a column actually holds, e.g. every audit action seen so far.

    Subclasses set `title` and `parameter_name` (the column's name).
    """

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        column = self.parameter_name
        values = (
            model_admin.get_queryset(request)
            .order_by(column)
            .values_list(column, flat=True)
            .distinct()
        )
        return [(value, value) for value in values if value]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value else queryset


class ReadOnlyModelAdmin(ModelAdmin):
    """For rows that only services write (lines, ledger, job runs): staff look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
