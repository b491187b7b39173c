"""Physical stores: where SIMs are stocked and clerks sell."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


class StoreService(models.TextChoices):
    """What a store offers at its counter (Store.services holds these codes)."""

    SIM_SALES = "sim_sales", _("SIM sales")
    ESIM = "esim", _("eSIM")
    RENEWALS = "renewals", _("Renewals")
    VOUCHERS = "vouchers", _("Vouchers")
    RETURNS = "returns", _("Returns")


# Provinces and territories by their postal abbreviation (Store.province, Subscriber.province).
PROVINCES: dict[str, StrOrPromise] = {
    "AB": _("Alberta"),
    "BC": _("British Columbia"),
    "MB": _("Manitoba"),
    "NB": _("New Brunswick"),
    "NL": _("Newfoundland and Labrador"),
    "NS": _("Nova Scotia"),
    "NT": _("Northwest Territories"),
    "NU": _("Nunavut"),
    "ON": _("Ontario"),
    "PE": _("Prince Edward Island"),
    "QC": _("Quebec"),
    "SK": _("Saskatchewan"),
    "YT": _("Yukon"),
}


class Store(models.Model):
    """A shop of the provider, e.g. TOR-01 "Toronto Downtown", 300 Yonge St.

    hours: {"mon": [["10:00", "19:00"]], …, "sun": []} in America/Toronto.
    services: any of "sim_sales", "esim", "renewals", "vouchers", "returns".
    """

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=200)
    city = models.CharField(_("city"), max_length=80)
    province = models.CharField(_("province"), max_length=2)
    postal_code = models.CharField(_("postal code"), max_length=10)
    phone = models.CharField(_("phone"), max_length=16, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    hours = models.JSONField(_("opening hours"), default=dict, blank=True)
    services = models.JSONField(_("services"), default=list, blank=True)
    clerks = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="stores", verbose_name=_("clerks")
    )
    is_active = models.BooleanField(_("open for business"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def province_name(self) -> str:
        return str(PROVINCES.get(self.province, self.province))

    @property
    def service_labels(self) -> list[str]:
        """The services offered, translated, in the order of StoreService."""
        offered = set(self.services or [])
        return [str(label) for code, label in StoreService.choices if code in offered]
