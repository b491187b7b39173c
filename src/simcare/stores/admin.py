"""Back office for stores: address, opening hours, services offered, clerks.

Opening hours are JSON, {"mon": [["10:00", "19:00"]], …, "sun": []}, in
America/Toronto; the form checks the shape and stores all seven days in order
(a missing day is closed). Services are chosen from a fixed set.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import ManyToManyField, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import BooleanRadioFilter
from unfold.decorators import display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget, UnfoldAdminTextareaWidget

from simcare.accounts.models import Role, User
from simcare.admin_site import DistinctValuesFilter
from simcare.stores.models import Store, StoreService

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SERVICES = tuple(StoreService.choices)
SERVICE_CODES = tuple(code for code, _label in SERVICES)
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
HOURS_EXAMPLE = '{"mon": [["10:00", "19:00"]], "sat": [["11:00", "14:00"], ["15:00", "18:00"]]}'


def validate_hours(value: Any) -> dict[str, list[list[str]]]:
    """The hours with all seven days in order, or ValidationError saying what is wrong.

    Each day is a list of [open, close] pairs of "HH:MM" (close may be "24:00"),
    each opening before it closes, in order and not overlapping; [] is closed.
    """
    if not isinstance(value, dict):
        raise ValidationError(
            _("Opening hours must be an object with days as keys, e.g. %(example)s"),
            code="hours_not_object",
            params={"example": HOURS_EXAMPLE},
        )
    unknown = sorted(str(key) for key in value if key not in DAYS)
    if unknown:
        raise ValidationError(
            _("Unknown day(s): %(days)s. Use mon, tue, wed, thu, fri, sat, sun."),
            code="hours_unknown_day",
            params={"days": ", ".join(unknown)},
        )
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        periods = value.get(day, [])
        if not isinstance(periods, list):
            raise ValidationError(
                _('%(day)s: a list of [open, close] pairs, e.g. [["10:00", "19:00"]], or [].'),
                code="hours_day_not_list",
                params={"day": day},
            )
        previous_close = ""
        checked: list[list[str]] = []
        for period in periods:
            if (
                not isinstance(period, list)
                or len(period) != 2
                or not all(isinstance(time, str) and _TIME.fullmatch(time) for time in period)
            ):
                raise ValidationError(
                    _('%(day)s: each period is ["HH:MM", "HH:MM"], e.g. ["10:00", "19:00"].'),
                    code="hours_bad_period",
                    params={"day": day},
                )
            opens, closes = period
            # Zero-padded 24-hour times compare correctly as strings.
            if opens == "24:00" or opens >= closes:
                raise ValidationError(
                    _("%(day)s: %(opens)s to %(closes)s must open before it closes."),
                    code="hours_inverted",
                    params={"day": day, "opens": opens, "closes": closes},
                )
            if previous_close and opens < previous_close:
                raise ValidationError(
                    _("%(day)s: periods must be in order and must not overlap."),
                    code="hours_overlap",
                    params={"day": day},
                )
            previous_close = closes
            checked.append([opens, closes])
        hours[day] = checked
    return hours


class HoursField(forms.JSONField):
    """JSON with one line per day, the way a person reads a week."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, dict) and value and all(isinstance(day, str) for day in value):
            lines = [
                f"  {json.dumps(day)}: {json.dumps(periods)}" for day, periods in value.items()
            ]
            return "{\n" + ",\n".join(lines) + "\n}"
        prepared: str = super().prepare_value(value)
        return prepared


class StoreAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    hours = HoursField(
        label=_("Opening hours"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 9, "class": "font-mono"}),
        help_text=_(
            "JSON, local time (America/Toronto): each day mon…sun is a list of "
            '["HH:MM", "HH:MM"] periods; a missing day or [] is closed.'
        ),
    )
    services = forms.MultipleChoiceField(
        label=_("Services"),
        choices=SERVICES,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )

    class Meta:
        model = Store
        fields = (
            "code",
            "name",
            "is_active",
            "phone",
            "address",
            "city",
            "province",
            "postal_code",
            "latitude",
            "longitude",
            "hours",
            "services",
            "clerks",
        )

    def clean_hours(self) -> dict[str, list[list[str]]]:
        return validate_hours(self.cleaned_data.get("hours") or {})

    def clean_services(self) -> list[str]:
        chosen = set(self.cleaned_data.get("services") or [])
        return [code for code in SERVICE_CODES if code in chosen]


class ProvinceFilter(DistinctValuesFilter):
    title = _("province")
    parameter_name = "province"


class CityFilter(DistinctValuesFilter):
    title = _("city")
    parameter_name = "city"


@admin.register(Store)
class StoreAdmin(ModelAdmin):
    form = StoreAdminForm
    list_display = ("code", "name", "city", "province", "phone", "services_offered", "is_active")
    list_display_links = ("code", "name")
    list_filter = (("is_active", BooleanRadioFilter), ProvinceFilter, CityFilter)
    list_filter_submit = True
    search_fields = ("code", "name", "address", "city", "postal_code")
    filter_horizontal = ("clerks",)
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active", "phone")}),
        (
            _("Address"),
            {"fields": ("address", ("city", "province"), "postal_code", ("latitude", "longitude"))},
        ),
        (_("Opening hours and services"), {"fields": ("hours", "services")}),
        (_("Clerks"), {"fields": ("clerks",)}),
    )

    def formfield_for_manytomany(
        self,
        db_field: ManyToManyField[Any, Any],
        request: HttpRequest,
        **kwargs: Any,
    ) -> forms.ModelMultipleChoiceField | None:  # type: ignore[type-arg]
        if db_field.name == "clerks":
            clerks: QuerySet[User] = User.objects.filter(groups__name=Role.CLERK).order_by(
                "username"
            )
            kwargs["queryset"] = clerks
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @display(description=_("services"))
    def services_offered(self, store: Store) -> str:
        labels = dict(SERVICES)
        return ", ".join(str(labels.get(code, code)) for code in store.services or [])
