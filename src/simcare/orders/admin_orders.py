"""Back office of orders, payments, receipts, coupons, promotions, saved cards and auto-renew tries.

Orders, payments, receipts, saved payment methods and auto-renew attempts are
written only by the money services (ordering, cards, paypal, receipts,
autorenew): here they are read-only. Coupons and promotions are offers staff
set up, so they are edited here, with their rules checked by the forms.
Every amount is shown as money in the admin's language.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    BooleanRadioFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
)
from unfold.decorators import display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from simcare.admin_site import ReadOnlyModelAdmin
from simcare.kit.money import format_cents
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.time import business_zone
from simcare.orders.models import (
    AutoRenewAttempt,
    AutoRenewSetting,
    Coupon,
    DiscountKind,
    Order,
    OrderItem,
    Payment,
    Promotion,
    PromotionKind,
    Receipt,
    SalesChannel,
    SavedPaymentMethod,
)
from simcare.orders.services.receipts import RECEIPTABLE_STATES, TAX_NAMES, format_rate

ORDER_NUMBER = re.compile(r"^\s*SC-?(\d{1,12})\s*$", re.IGNORECASE)
RECEIPT_NUMBER = re.compile(r"^\s*R-?\d{4}-?(\d{1,12})\s*$", re.IGNORECASE)
DASH = "-"


# --- shared pieces -------------------------------------------------------------------------------


def _money(cents: int | None) -> str:
    return DASH if cents is None else format_cents(cents)


def _pk_in(pattern: re.Pattern[str], search_term: str) -> int | None:
    match = pattern.match(search_term)
    return int(match.group(1)) if match else None


def _msisdn_in(search_term: str) -> str | None:
    """ "(416) 555-0142" → "+14165550142"; None when the term is no phone number."""
    if not re.search(r"\d{3}", search_term):
        return None
    try:
        return normalize_msisdn(search_term)
    except InvalidPhoneNumber:
        return None


def _search_orders_too(
    queryset: QuerySet[Any], results: QuerySet[Any], search_term: str, prefix: str = ""
) -> QuerySet[Any]:
    """Also find an order by its number ("SC-0001042") and by a phone number in any format."""
    extra = Q()
    order_id = _pk_in(ORDER_NUMBER, search_term)
    if order_id is not None:
        extra |= Q(**{f"{prefix}pk" if prefix else "pk": order_id})
    msisdn = _msisdn_in(search_term)
    if msisdn is not None:
        extra |= Q(**{f"{prefix}subscriber__user__phone": msisdn})
        extra |= Q(**{f"{prefix}line__msisdn": msisdn})
    if not extra:
        return results
    return results | queryset.filter(extra)


def _order_link(order: Order | None) -> str:
    if order is None:
        return DASH
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a>', url, order.number)


class BusinessDayRangeFilter(RangeDateFilter):
    """From / to days in the business time zone, both days included."""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        bounds: dict[str, dt.datetime] = {}
        for suffix, lookup, days in (("_from", "__gte", 0), ("_to", "__lt", 1)):
            value = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if not isinstance(value, str) or not value:
                continue
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return None
            start = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), business_zone())
            bounds[f"{self.parameter_name}{lookup}"] = start
        return queryset.filter(**bounds)


class _ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- orders ------------------------------------------------------------------------------------


class OrderItemInline(_ReadOnlyInline):
    model = OrderItem
    fields = ("kind", "code", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields

    @display(description=_("unit price"))
    def unit_price(self, item: OrderItem) -> str:
        return _money(item.unit_price_cents)

    @display(description=_("amount"))
    def amount(self, item: OrderItem) -> str:
        return _money(item.amount_cents)


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = (
        "method",
        "provider",
        "provider_reference",
        "status",
        "amount",
        "refunded",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields
    show_change_link = True

    @display(description=_("amount"))
    def amount(self, payment: Payment) -> str:
        return _money(payment.amount_cents)

    @display(description=_("refunded"))
    def refunded(self, payment: Payment) -> str:
        return _money(payment.refunded_cents)


@admin.register(Order)
class OrderAdmin(ReadOnlyModelAdmin):
    """Read-only: orders change state only through the ordering service."""

    list_display = (
        "number",
        "kind",
        "channel",
        "state",
        "subscriber",
        "line",
        "total",
        "payment_method",
        "created_at",
    )
    list_filter = (
        ("state", ChoicesDropdownFilter),
        ("kind", ChoicesDropdownFilter),
        ("channel", ChoicesDropdownFilter),
        ("payment_method", ChoicesDropdownFilter),
        ("created_at", BusinessDayRangeFilter),
    )
    list_filter_submit = True
    list_select_related = ("subscriber__user", "line")
    search_fields = (
        "subscriber__user__email",
        "subscriber__user__phone",
        "subscriber__user__username",
        "line__msisdn",
        "external_reference",
        "reseller_ref",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    ("kind", "channel"),
                    "state",
                    "subscriber_link",
                    "line",
                    ("plan", "addon"),
                    ("periods", "sim_kind"),
                    "store",
                    ("payment_method", "language"),
                    ("reseller_ref", "external_reference"),
                    "created_by",
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "subtotal",
                    "discount",
                    ("coupon", "promotion"),
                    "province",
                    "tax_lines",
                    "total",
                    "refunded",
                )
            },
        ),
        (
            _("Books and receipt"),
            {"fields": ("ledger_transaction_link", "receipt_links", "failure_code")},
        ),
        (
            _("Dates"),
            {"fields": ("created_at", "paid_at", "fulfilled_at", "closed_at")},
        ),
    )
    readonly_fields = (
        "number",
        "kind",
        "channel",
        "state",
        "subscriber_link",
        "line",
        "plan",
        "addon",
        "periods",
        "sim_kind",
        "store",
        "payment_method",
        "language",
        "reseller_ref",
        "external_reference",
        "created_by",
        "subtotal",
        "discount",
        "coupon",
        "promotion",
        "province",
        "tax_lines",
        "total",
        "refunded",
        "ledger_transaction_link",
        "receipt_links",
        "failure_code",
        "created_at",
        "paid_at",
        "fulfilled_at",
        "closed_at",
    )
    inlines = (OrderItemInline, PaymentInline)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _search_orders_too(queryset, results, search_term), may_have_duplicates

    @display(description=_("number"), ordering="id")
    def number(self, order: Order) -> str:
        return order.number

    @display(description=_("subscriber"))
    def subscriber_link(self, order: Order) -> str:
        if order.subscriber is None:
            return DASH
        url = reverse("admin:accounts_subscriber_change", args=[order.subscriber_id])
        return format_html('<a href="{}">{}</a>', url, str(order.subscriber))

    @display(description=_("subtotal"), ordering="subtotal_cents")
    def subtotal(self, order: Order) -> str:
        return _money(order.subtotal_cents)

    @display(description=_("discount"), ordering="discount_cents")
    def discount(self, order: Order) -> str:
        return _money(-order.discount_cents) if order.discount_cents else _money(0)

    @display(description=_("taxes"))
    def tax_lines(self, order: Order) -> str:
        if not order.taxes:
            return _money(order.tax_cents)
        language = _admin_language()
        return format_html_join(
            ", ",
            "{} {}: {}",
            (
                (
                    str(TAX_NAMES.get(str(tax.get("name", "")).upper(), tax.get("name", ""))),
                    format_rate(tax.get("rate"), language=language),
                    _money(int(tax.get("amount_cents", 0))),
                )
                for tax in order.taxes
            ),
        )

    @display(description=_("total"), ordering="total_cents")
    def total(self, order: Order) -> str:
        return _money(order.total_cents)

    @display(description=_("refunded"), ordering="refunded_cents")
    def refunded(self, order: Order) -> str:
        return _money(order.refunded_cents)

    @display(description=_("ledger transaction"))
    def ledger_transaction_link(self, order: Order) -> str:
        if order.ledger_transaction_id is None:
            return DASH
        url = reverse("admin:ledger_ledgertransaction_change", args=[order.ledger_transaction_id])
        return format_html('<a href="{}">#{}</a>', url, order.ledger_transaction_id)

    @display(description=_("receipt"))
    def receipt_links(self, order: Order) -> str:
        if order.state not in RECEIPTABLE_STATES:
            return DASH
        return _receipt_links(order.pk)


def _admin_language() -> str:
    return translation.get_language() or "en"


def _receipt_links(order_id: int) -> SafeString:
    page = reverse("orders:receipt", kwargs={"order_id": order_id})
    pdf = reverse("orders:receipt_pdf", kwargs={"order_id": order_id})
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">{}</a> · <a href="{}">{}</a>',
        page,
        gettext("HTML"),
        pdf,
        gettext("PDF"),
    )


# --- payments and receipts -----------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    """Read-only: payments are written by the payment adapters (cards, paypal) and ordering."""

    list_display = (
        "id",
        "order_number",
        "method",
        "provider",
        "provider_reference",
        "status",
        "amount",
        "refunded",
        "created_at",
        "completed_at",
    )
    list_filter = (
        ("status", ChoicesDropdownFilter),
        ("method", ChoicesDropdownFilter),
        "provider",
        ("created_at", BusinessDayRangeFilter),
    )
    list_filter_submit = True
    list_select_related = ("order",)
    search_fields = ("provider_reference", "order__subscriber__user__email")
    fields = (
        "order_number",
        "method",
        "provider",
        "provider_reference",
        "status",
        "amount",
        "refunded",
        "redirect_url",
        "ledger_transaction",
        "failure_code",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return (
            _search_orders_too(queryset, results, search_term, prefix="order__"),
            may_have_duplicates,
        )

    @display(description=_("order"), ordering="order_id")
    def order_number(self, payment: Payment) -> str:
        return _order_link(payment.order)

    @display(description=_("amount"), ordering="amount_cents")
    def amount(self, payment: Payment) -> str:
        return _money(payment.amount_cents)

    @display(description=_("refunded"), ordering="refunded_cents")
    def refunded(self, payment: Payment) -> str:
        return _money(payment.refunded_cents)


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyModelAdmin):
    """Read-only: receipts are issued by services.receipts when an order is paid."""

    list_display = (
        "number",
        "order_number",
        "subscriber",
        "total",
        "language",
        "issued_at",
        "view",
    )
    list_filter = ("language", ("issued_at", BusinessDayRangeFilter))
    list_filter_submit = True
    list_select_related = ("order__subscriber__user",)
    search_fields = ("order__subscriber__user__email", "order__line__msisdn")
    fields = ("number", "order_number", "subscriber", "total", "language", "issued_at", "view")
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        results = _search_orders_too(queryset, results, search_term, prefix="order__")
        receipt_id = _pk_in(RECEIPT_NUMBER, search_term)
        if receipt_id is not None:
            results = results | queryset.filter(pk=receipt_id)
        return results, may_have_duplicates

    @display(description=_("number"), ordering="id")
    def number(self, receipt: Receipt) -> str:
        return receipt.number

    @display(description=_("order"), ordering="order_id")
    def order_number(self, receipt: Receipt) -> str:
        return _order_link(receipt.order)

    @display(description=_("subscriber"))
    def subscriber(self, receipt: Receipt) -> str:
        return str(receipt.order.subscriber) if receipt.order.subscriber else DASH

    @display(description=_("total"))
    def total(self, receipt: Receipt) -> str:
        return _money(receipt.order.total_cents)

    @display(description=_("receipt"))
    def view(self, receipt: Receipt) -> str:
        return _receipt_links(receipt.order_id)


# --- coupons and promotions ---------------------------------------------------------------------


def _channels_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=_("channels"),
        choices=SalesChannel.choices,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("None ticked: every channel."),
    )


def _check_validity(form: forms.BaseForm, cleaned: dict[str, Any]) -> None:
    valid_from, valid_until = cleaned.get("valid_from"), cleaned.get("valid_until")
    if valid_from and valid_until and valid_from >= valid_until:
        form.add_error("valid_until", _("The end must come after the start."))


class CouponForm(forms.ModelForm):  # type: ignore[type-arg]
    channels = _channels_field()

    class Meta:
        model = Coupon
        fields = (
            "code",
            "description",
            "kind",
            "percent_off",
            "amount_off_cents",
            "minimum_spend_cents",
            "valid_from",
            "valid_until",
            "max_uses_total",
            "max_uses_per_customer",
            "plans",
            "channels",
            "first_order_only",
            "is_active",
        )

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"].strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]+", code):
            raise forms.ValidationError(
                _("Use letters, digits, dashes and underscores only."), code="invalid"
            )
        taken = Coupon.objects.filter(code__iexact=code).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("A coupon with this code exists."), code="unique")
        return code

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = cleaned.get("kind")
        percent, amount = cleaned.get("percent_off"), cleaned.get("amount_off_cents")
        if kind == DiscountKind.PERCENT:
            if percent is None or not 1 <= percent <= 100:
                self.add_error("percent_off", _("Give a percentage from 1 to 100."))
            cleaned["amount_off_cents"] = None
        elif kind == DiscountKind.FIXED:
            if amount is None or amount < 1:
                self.add_error("amount_off_cents", _("Give an amount of at least 1 cent."))
            cleaned["percent_off"] = None
        _check_validity(self, cleaned)
        return cleaned


@admin.register(Coupon)
class CouponAdmin(ModelAdmin):
    form = CouponForm
    list_display = (
        "code",
        "description",
        "discount",
        "minimum_spend",
        "valid_from",
        "valid_until",
        "times_used",
        "max_uses_total",
        "first_order_only",
        "is_active",
    )
    list_filter = (
        ("is_active", BooleanRadioFilter),
        ("kind", ChoicesDropdownFilter),
        ("first_order_only", BooleanRadioFilter),
    )
    list_filter_submit = True
    search_fields = ("code", "description")
    filter_horizontal = ("plans",)
    readonly_fields = ("discount", "minimum_spend", "times_used", "created_at")
    fieldsets = (
        (None, {"fields": ("code", "description", "is_active")}),
        (
            _("Discount"),
            {
                "fields": (
                    "kind",
                    "percent_off",
                    "amount_off_cents",
                    "discount",
                    "minimum_spend_cents",
                    "minimum_spend",
                )
            },
        ),
        (
            _("Limits"),
            {
                "fields": (
                    ("valid_from", "valid_until"),
                    ("max_uses_total", "max_uses_per_customer"),
                    "first_order_only",
                    "plans",
                    "channels",
                    ("times_used", "created_at"),
                )
            },
        ),
    )

    @display(description=_("discount"))
    def discount(self, coupon: Coupon) -> str:
        if coupon.kind == DiscountKind.PERCENT and coupon.percent_off:
            return format_rate(coupon.percent_off, language=_admin_language())
        if coupon.kind == DiscountKind.FIXED and coupon.amount_off_cents:
            return _money(coupon.amount_off_cents)
        return DASH

    @display(description=_("minimum spend"), ordering="minimum_spend_cents")
    def minimum_spend(self, coupon: Coupon) -> str:
        return _money(coupon.minimum_spend_cents)


class PromotionForm(forms.ModelForm):  # type: ignore[type-arg]
    channels = _channels_field()

    class Meta:
        model = Promotion
        fields = (
            "name_en",
            "name_fr",
            "name_zh_hans",
            "kind",
            "minimum_periods",
            "bonus_addon",
            "plans",
            "channels",
            "valid_from",
            "valid_until",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("kind") == PromotionKind.RENEW_AHEAD_BONUS:
            if cleaned.get("bonus_addon") is None:
                self.add_error("bonus_addon", _("Choose the add-on this promotion gives."))
            periods = cleaned.get("minimum_periods")
            if periods is not None and periods < 2:
                self.add_error(
                    "minimum_periods", _("Renewing ahead means at least 2 periods at once.")
                )
        _check_validity(self, cleaned)
        return cleaned


@admin.register(Promotion)
class PromotionAdmin(ModelAdmin):
    form = PromotionForm
    list_display = (
        "name_en",
        "kind",
        "minimum_periods",
        "bonus_addon",
        "valid_from",
        "valid_until",
        "is_active",
    )
    list_filter = (("is_active", BooleanRadioFilter), ("kind", ChoicesDropdownFilter))
    list_filter_submit = True
    list_select_related = ("bonus_addon",)
    search_fields = ("name_en", "name_fr", "name_zh_hans")
    filter_horizontal = ("plans",)
    fieldsets = (
        (None, {"fields": ("kind", "is_active")}),
        (_("English"), {"classes": ["tab"], "fields": ("name_en",)}),
        (_("French"), {"classes": ["tab"], "fields": ("name_fr",)}),
        (_("Simplified Chinese"), {"classes": ["tab"], "fields": ("name_zh_hans",)}),
        (
            _("Offer"),
            {
                "fields": (
                    "minimum_periods",
                    "bonus_addon",
                    "plans",
                    "channels",
                    ("valid_from", "valid_until"),
                )
            },
        ),
    )


# --- saved cards and auto-renew ------------------------------------------------------------


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(ReadOnlyModelAdmin):
    """What the card shows (brand, last 4, expiry); the provider's references stay out of sight."""

    list_display = ("subscriber", "card", "expires", "provider", "is_default", "created_at")
    list_filter = ("provider", ("is_default", BooleanRadioFilter))
    list_select_related = ("subscriber__user",)
    search_fields = ("subscriber__user__email", "subscriber__user__phone", "last4")
    fields = ("subscriber", "card", "expires", "provider", "is_default", "created_at", "removed_at")
    readonly_fields = fields

    @display(description=_("card"))
    def card(self, method: SavedPaymentMethod) -> str:
        return f"{method.brand or gettext('Card')} •••• {method.last4 or '????'}"

    @display(description=_("expires"))
    def expires(self, method: SavedPaymentMethod) -> str:
        if method.exp_month is None or method.exp_year is None:
            return DASH
        return f"{method.exp_month:02d}/{method.exp_year}"


@admin.register(AutoRenewSetting)
class AutoRenewSettingAdmin(ReadOnlyModelAdmin):
    """Read-only: the customer chooses on the portal; staff see what a line will do."""

    list_display = ("line", "is_on", "card", "data_topup_enabled", "data_topup_addon", "updated_at")
    list_filter = ("data_topup_enabled", "line__auto_renew")
    list_select_related = ("line", "payment_method", "data_topup_addon")
    search_fields = ("line__msisdn", "line__subscriber__user__email")
    fields = (
        "line",
        "is_on",
        "card",
        "data_topup_enabled",
        "data_topup_addon",
        "data_topup_threshold_kb",
        "updated_at",
    )
    readonly_fields = fields

    @display(description=_("auto-renew"), boolean=True)
    def is_on(self, setting: AutoRenewSetting) -> bool:
        return bool(setting.line.auto_renew)

    @display(description=_("saved card"))
    def card(self, setting: AutoRenewSetting) -> str:
        method = setting.payment_method
        if method is None or method.removed_at is not None:
            return gettext("Wallet only")
        return f"{method.brand or gettext('Card')} •••• {method.last4 or '????'}"


@admin.register(AutoRenewAttempt)
class AutoRenewAttemptAdmin(ReadOnlyModelAdmin):
    """Read-only: the auto_renew job records each try."""

    list_display = (
        "line",
        "period_end",
        "attempt",
        "due_at",
        "status",
        "order_number",
        "failure_code",
        "tried_at",
    )
    list_filter = (("status", ChoicesDropdownFilter), ("due_at", BusinessDayRangeFilter))
    list_filter_submit = True
    list_select_related = ("line", "order")
    search_fields = ("line__msisdn", "failure_code")
    fields = (
        "line",
        "period_end",
        "attempt",
        "due_at",
        "status",
        "order_number",
        "failure_code",
        "tried_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        msisdn = _msisdn_in(search_term)
        if msisdn is not None:
            results = results | queryset.filter(line__msisdn=msisdn)
        return results, may_have_duplicates

    @display(description=_("order"))
    def order_number(self, attempt: AutoRenewAttempt) -> str:
        return _order_link(attempt.order)
