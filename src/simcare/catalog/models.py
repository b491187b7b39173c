"""What the provider sells: base plans and add-ons, named in three languages."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from simcare.kit.i18n import TranslatedContent


class Zone(models.TextChoices):
    CA = "CA", _("Canada")
    US = "US", _("United States")
    INTL = "INTL", _("International")


class UsageKind(models.TextChoices):
    DATA = "data", _("Data")
    VOICE = "voice", _("Voice")
    SMS = "sms", _("SMS")


def _cents(verbose: StrOrPromise) -> models.PositiveIntegerField:  # type: ignore[type-arg]
    return models.PositiveIntegerField(verbose, default=0)


class TranslatedNamed(TranslatedContent, models.Model):
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=120)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_fr = models.TextField(_("description (French)"), blank=True)
    description_zh_hans = models.TextField(_("description (Simplified Chinese)"), blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.code} · {self.name_en}"  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        return self.translated("name")

    @property
    def description(self) -> str:
        return self.translated("description")


class Plan(TranslatedNamed):
    """A base plan a line is on for one period.

    Example: TALK30 "Canada 30 days, 20 GB", $35.00, 30 days, 20,480 MB data,
    unlimited Canada-wide minutes and SMS; overage 1¢/MB; US roaming 25¢/min.
    None in an allowance means unlimited.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    price_cents = models.PositiveIntegerField(_("price (cents)"))
    validity_days = models.PositiveIntegerField(
        _("validity (days)"), validators=[MinValueValidator(1)]
    )
    data_mb = models.PositiveIntegerField(
        _("data (MB)"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    voice_minutes = models.PositiveIntegerField(
        _("voice (minutes)"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    sms_messages = models.PositiveIntegerField(
        _("SMS (messages)"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    overage_data_cents_per_mb = _cents(_("overage data (cents per MB)"))
    overage_voice_cents_per_minute = _cents(_("overage voice (cents per minute)"))
    overage_sms_cents = _cents(_("overage SMS (cents per message)"))
    us_data_cents_per_mb = _cents(_("US roaming data (cents per MB)"))
    us_voice_cents_per_minute = _cents(_("US roaming voice (cents per minute)"))
    us_sms_cents = _cents(_("US roaming SMS (cents per message)"))
    intl_data_cents_per_mb = _cents(_("international data (cents per MB)"))
    intl_voice_cents_per_minute = _cents(_("international voice (cents per minute)"))
    intl_sms_cents = _cents(_("international SMS (cents per message)"))
    includes_us = models.BooleanField(_("US usage included in the allowances"), default=False)
    keeps_number = models.BooleanField(
        _("number-keeping plan"),
        default=False,
        help_text=_("A cheap long plan that keeps the number alive."),
    )
    reactivation_fee_cents = _cents(_("reactivation fee (cents)"))
    is_active = models.BooleanField(_("on sale"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(validity_days__gte=1), name="catalog_plan_validity_positive"
            )
        ]


class AddOn(TranslatedNamed):
    """A bucket bought on top of a plan, e.g. DATA5 "5 GB data top-up", $15, 30 days.

    Its validity is capped at the line's period_end unless outlives_period is set.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=UsageKind.choices)
    quantity = models.PositiveIntegerField(
        _("quantity"), help_text=_("MB for data, minutes for voice, messages for SMS.")
    )
    zone = models.CharField(_("zone"), max_length=4, choices=Zone.choices, default=Zone.CA)
    price_cents = models.PositiveIntegerField(_("price (cents)"))
    validity_days = models.PositiveIntegerField(
        _("validity (days)"), validators=[MinValueValidator(1)]
    )
    outlives_period = models.BooleanField(_("may outlive the line's period"), default=False)
    is_active = models.BooleanField(_("on sale"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("add-on")
        verbose_name_plural = _("add-ons")
