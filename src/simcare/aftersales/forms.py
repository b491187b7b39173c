"""Forms of the returns and reviews pages (validation of shape only; services decide)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from simcare.aftersales.models import Fault, Resolution, ReturnKind, ReviewSubject
from simcare.orders.models import Order


class ReturnForm(forms.Form):
    order = forms.TypedChoiceField(label=_("Order"), coerce=int)
    kind = forms.ChoiceField(
        label=_("What do you ask for?"), choices=ReturnKind.choices, widget=forms.RadioSelect
    )
    fault = forms.ChoiceField(
        label=_("What is wrong with the card?"),
        choices=[("", _("(not a fault)")), *Fault.choices],
        required=False,
    )
    resolution = forms.ChoiceField(
        label=_("For a wrong item: what would you like?"),
        choices=[("", _("(as the policy says)")), *Resolution.choices],
        required=False,
    )
    refund_to_wallet = forms.BooleanField(
        label=_("Refund to my simcare wallet instead of the original payment method"),
        required=False,
    )
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        required=False,
        help_text=_("Required when the request is outside the policy: tell us why."),
    )
    form_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, orders: list[Order], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["order"]
        assert isinstance(field, forms.TypedChoiceField)  # noqa: S101
        field.choices = [
            (order.pk, f"{order.number} · {order.line.msisdn if order.line else ''}")
            for order in orders
        ]


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        coerce=int,
        choices=[(stars, str(stars)) for stars in range(5, 0, -1)],
        widget=forms.RadioSelect,
    )
    about = forms.ChoiceField(label=_("About"), choices=ReviewSubject.choices)
    language = forms.ChoiceField(label=_("Language of your review"), choices=settings.LANGUAGES)
    text = forms.CharField(
        label=_("Your review"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=10_000,
        strip=False,
    )
