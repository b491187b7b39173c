"""Forms of the store locator and the clerk console: parse and check input, nothing else.

Every console form carries `form_token`, a random value made when the form is
shown; the sale's idempotency key is built from it (stores.services.sale_key).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from simcare.accounts.models import Language, Subscriber, User
from simcare.catalog.models import Plan
from simcare.catalog.queries import plans_on_sale
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.lines.models import Line, SimCard, SimKind
from simcare.lines.queries import line_for
from simcare.orders.models import PaymentMethod
from simcare.stores import queries
from simcare.stores.models import PROVINCES, Store, StoreService

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ESIM_CHOICE = "esim"


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


class PlanChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        plan: Plan = obj
        return f"{plan.name} ({plan.code})"


# --- the public locator ----------------------------------------------------------------------


class LocatorForm(forms.Form):
    city = forms.ChoiceField(label=_("City"), required=False)
    province = forms.ChoiceField(label=_("Province"), required=False)
    service = forms.ChoiceField(label=_("Service"), required=False)
    open_now = forms.BooleanField(label=_("Open now"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["city"].choices = [
            ("", _("All cities")),
            *((city, city) for city in queries.locator_cities()),
        ]
        fields["province"].choices = [
            ("", _("All provinces")),
            *((code, PROVINCES.get(code, code)) for code in queries.locator_provinces()),
        ]
        fields["service"].choices = [("", _("All services")), *StoreService.choices]

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid one (a stale link) is dropped, not an error page."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            "city": cleaned.get("city", ""),
            "province": cleaned.get("province", ""),
            "service": cleaned.get("service", ""),
            "open_now": bool(cleaned.get("open_now")),
        }


# --- the clerk console -----------------------------------------------------------------------


class ConsoleForm(forms.Form):
    form_token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("form_token", new_form_token())

    def clean_form_token(self) -> str:
        token = str(self.cleaned_data.get("form_token") or "")
        if not _TOKEN.fullmatch(token):
            raise forms.ValidationError(
                _("This form has expired. Check the details and submit it again.")
            )
        return token


class SaleForm(ConsoleForm):
    EXISTING = "existing"
    NEW = "new"

    customer_kind = forms.ChoiceField(
        label=_("Customer"),
        choices=((EXISTING, _("An existing customer")), (NEW, _("A new customer"))),
        initial=EXISTING,
        widget=forms.RadioSelect,
    )
    customer = forms.CharField(
        label=_("Customer's email or mobile number"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    first_name = forms.CharField(label=_("First name"), required=False, max_length=150)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=150)
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Mobile number"), required=False, max_length=32)
    language = forms.ChoiceField(
        label=_("Preferred language"), choices=Language.choices, initial=Language.EN
    )
    plan = PlanChoiceField(label=_("Plan"), queryset=Plan.objects.none(), empty_label=None)
    sim = forms.ChoiceField(label=_("SIM"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, store: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = store
        fields: Any = self.fields
        fields["plan"].queryset = plans_on_sale()
        choices: list[tuple[str, Any]] = []
        if StoreService.ESIM in (store.services or []):
            choices.append((ESIM_CHOICE, _("eSIM (QR code to scan)")))
        if StoreService.SIM_SALES in (store.services or []):
            choices.extend(
                (str(sim.pk), _("Physical SIM %(iccid)s") % {"iccid": sim.iccid})
                for sim in queries.sims_in_stock(store)[:200]
            )
        fields["sim"].choices = choices
        self.subscriber: Subscriber | None = None
        self.chosen_sim: SimCard | None = None

    def clean_email(self) -> str | None:
        email = str(self.cleaned_data.get("email") or "").strip()
        if email:
            validate_email(email)
        return email or None

    def clean_phone(self) -> str | None:
        phone = str(self.cleaned_data.get("phone") or "").strip()
        if not phone:
            return None
        try:
            return normalize_msisdn(phone)
        except InvalidPhoneNumber as error:
            raise forms.ValidationError(str(error)) from error

    def clean_sim(self) -> str:
        value = str(self.cleaned_data.get("sim") or "")
        if value != ESIM_CHOICE:
            self.chosen_sim = queries.sims_in_stock(self.store).filter(pk=value).first()
            if self.chosen_sim is None:
                raise forms.ValidationError(
                    _("This SIM card is not in stock at this store. Choose another one.")
                )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("customer_kind") == self.EXISTING:
            text = str(cleaned.get("customer") or "")
            if not text.strip():
                self.add_error("customer", _("Enter the customer's email or mobile number."))
            else:
                self.subscriber = queries.customer_by_contact(text)
                if self.subscriber is None:
                    self.add_error(
                        "customer",
                        _("No customer has this email or mobile number. Register a new one."),
                    )
        elif (
            cleaned.get("customer_kind") == self.NEW
            and not (cleaned.get("email") or cleaned.get("phone"))
            and "email" not in self.errors
            and "phone" not in self.errors
        ):
            self.add_error("email", _("Give the new customer's email or mobile number, or both."))
        return cleaned

    def _fields(self, *names: str) -> list[Any]:
        return [self[name] for name in names]

    @property
    def customer_fields(self) -> list[Any]:
        return self._fields("customer_kind", "customer")

    @property
    def new_customer_fields(self) -> list[Any]:
        return self._fields("first_name", "last_name", "email", "phone", "language")

    @property
    def sale_fields(self) -> list[Any]:
        return self._fields("plan", "sim")

    @property
    def sim_kind(self) -> str:
        return SimKind.ESIM if self.cleaned_data.get("sim") == ESIM_CHOICE else SimKind.PHYSICAL


class RenewForm(ConsoleForm):
    msisdn = forms.CharField(label=_("Phone number of the line"), max_length=32)
    plan = PlanChoiceField(
        label=_("Plan"),
        queryset=Plan.objects.none(),
        required=False,
        empty_label=_("Keep the line's current plan"),
    )
    payment_method = forms.ChoiceField(
        label=_("Payment"),
        choices=(
            (PaymentMethod.CASH, _("Cash")),
            (PaymentMethod.WALLET, _("The customer's wallet")),
        ),
        initial=PaymentMethod.CASH,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        fields: Any = self.fields
        fields["plan"].queryset = plans_on_sale()
        self.line: Line | None = None

    def clean_msisdn(self) -> str:
        try:
            msisdn = normalize_msisdn(str(self.cleaned_data.get("msisdn") or ""))
        except InvalidPhoneNumber as error:
            raise forms.ValidationError(str(error)) from error
        try:
            self.line = line_for(self.user, msisdn)
        except Line.DoesNotExist:
            raise forms.ValidationError(_("No line has this phone number.")) from None
        return msisdn


class VoucherSaleForm(ConsoleForm):
    serial = forms.CharField(
        label=_("Serial number on the card"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )


class DayForm(forms.Form):
    date = forms.DateField(
        label=_("Business day"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
