"""Physical stores: where SIMs are stocked and clerks sell."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
