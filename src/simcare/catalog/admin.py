"""Back office for the catalog: plans and add-ons, named in three languages.

Prices are stored in cents and shown formatted. A plan that was ever sold
cannot be deleted (lines point at it, on_delete=PROTECT): take it off sale.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import BooleanRadioFilter, ChoicesDropdownFilter
from unfold.decorators import display

from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.kit.money import format_cents

LANGUAGE_TABS = (
    (_("English"), {"classes": ["tab"], "fields": ("name_en", "description_en")}),
    (_("French"), {"classes": ["tab"], "fields": ("name_fr", "description_fr")}),
    (
        _("Simplified Chinese"),
        {"classes": ["tab"], "fields": ("name_zh_hans", "description_zh_hans")},
    ),
)
NAME_SEARCH_FIELDS = ("code", "name_en", "name_fr", "name_zh_hans")
ADDON_UNITS: dict[str, str] = {UsageKind.DATA: "MB", UsageKind.VOICE: "min", UsageKind.SMS: "SMS"}


def _allowance(value: int | None, unit: str) -> str:
    return str(_("unlimited")) if value is None else f"{value:,} {unit}"


@admin.register(Plan)
class PlanAdmin(ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "price",
        "validity_days",
        "data",
        "voice",
        "sms",
        "keeps_number",
        "is_active",
        "sort_order",
    )
    list_display_links = ("code", "name_en")
    list_editable = ("is_active", "sort_order")
    list_filter = (("is_active", BooleanRadioFilter), ("keeps_number", BooleanRadioFilter))
    list_filter_submit = True
    search_fields = NAME_SEARCH_FIELDS
    readonly_fields = ("price", "reactivation_fee")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code",
                    ("price_cents", "price"),
                    "validity_days",
                    ("is_active", "sort_order"),
                    "keeps_number",
                    ("reactivation_fee_cents", "reactivation_fee"),
                )
            },
        ),
        *LANGUAGE_TABS,
        (
            _("Allowances"),
            {"fields": ("data_mb", "voice_minutes", "sms_messages", "includes_us")},
        ),
        (
            _("Overage (charged to the wallet)"),
            {
                "fields": (
                    "overage_data_cents_per_mb",
                    "overage_voice_cents_per_minute",
                    "overage_sms_cents",
                )
            },
        ),
        (
            _("Roaming"),
            {
                "fields": (
                    "us_data_cents_per_mb",
                    "us_voice_cents_per_minute",
                    "us_sms_cents",
                    "intl_data_cents_per_mb",
                    "intl_voice_cents_per_minute",
                    "intl_sms_cents",
                )
            },
        ),
    )

    @display(description=_("price"), ordering="price_cents")
    def price(self, plan: Plan) -> str:
        return format_cents(plan.price_cents) if plan.price_cents is not None else "-"

    @display(description=_("reactivation fee"))
    def reactivation_fee(self, plan: Plan) -> str:
        return format_cents(plan.reactivation_fee_cents)

    @display(description=_("data"), ordering="data_mb")
    def data(self, plan: Plan) -> str:
        return _allowance(plan.data_mb, "MB")

    @display(description=_("voice"), ordering="voice_minutes")
    def voice(self, plan: Plan) -> str:
        return _allowance(plan.voice_minutes, "min")

    @display(description=_("SMS"), ordering="sms_messages")
    def sms(self, plan: Plan) -> str:
        return _allowance(plan.sms_messages, "SMS")


@admin.register(AddOn)
class AddOnAdmin(ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "kind",
        "amount",
        "zone",
        "price",
        "validity_days",
        "outlives_period",
        "is_active",
        "sort_order",
    )
    list_display_links = ("code", "name_en")
    list_editable = ("is_active", "sort_order")
    list_filter = (
        ("is_active", BooleanRadioFilter),
        ("kind", ChoicesDropdownFilter),
        ("zone", ChoicesDropdownFilter),
        ("outlives_period", BooleanRadioFilter),
    )
    list_filter_submit = True
    search_fields = NAME_SEARCH_FIELDS
    readonly_fields = ("price",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code",
                    ("kind", "zone"),
                    "quantity",
                    ("price_cents", "price"),
                    "validity_days",
                    "outlives_period",
                    ("is_active", "sort_order"),
                )
            },
        ),
        *LANGUAGE_TABS,
    )

    @display(description=_("price"), ordering="price_cents")
    def price(self, addon: AddOn) -> str:
        return format_cents(addon.price_cents) if addon.price_cents is not None else "-"

    @display(description=_("quantity"), ordering="quantity")
    def amount(self, addon: AddOn) -> str:
        return f"{addon.quantity:,} {ADDON_UNITS.get(addon.kind, '')}".strip()
