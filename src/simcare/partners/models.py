"""Resellers: shops and marketplaces selling our plans from a prepaid float (60-partners.md).

A Reseller (e.g. "Maple Market Online", slug "maplemarket") spends from the
ledger account "float:maplemarket"; it buys at its WholesalePrice for a plan
(the retail price where none is set), authenticates with ResellerApiKeys
(only their SHA-256 kept) and hears about its orders through WebhookEvents,
an outbox written in the order's own transaction and delivered by the
`webhooks` job, each try a WebhookAttempt.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.kit import egress
from simcare.kit.crypto import EncryptedTextField

DEFAULT_RATE_LIMIT_PER_SECOND = 20


class Reseller(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(
        _("slug"),
        max_length=50,
        unique=True,
        help_text=_("Names the float account (float:<slug>); it cannot change once used."),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reseller",
        verbose_name=_("user"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    webhook_secret = EncryptedTextField(_("webhook secret"), blank=True)
    rate_limit_per_second = models.PositiveIntegerField(
        _("rate limit (requests per second and key)"),
        default=DEFAULT_RATE_LIMIT_PER_SECOND,
        validators=[MinValueValidator(1)],
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("reseller")
        verbose_name_plural = _("resellers")

    def __str__(self) -> str:
        return self.name

    @property
    def owner_ref(self) -> str:
        return self.slug

    def clean(self) -> None:
        """A webhook URL must reach the public internet (kit.egress), checked on every save
        through a form or full_clean; deliveries check again where they connect."""
        super().clean()
        refusal = egress.url_refusal(self.webhook_url) if self.webhook_url else None
        if refusal == "private_address":
            raise ValidationError(
                {
                    "webhook_url": _(
                        "This address is on a private or local network; webhooks are sent "
                        "to public internet addresses only."
                    )
                }
            )
        if refusal is not None:
            raise ValidationError({"webhook_url": _("Enter an http:// or https:// address.")})


class WholesalePrice(models.Model):
    reseller = models.ForeignKey(
        Reseller, on_delete=models.CASCADE, related_name="prices", verbose_name=_("reseller")
    )
    plan = models.ForeignKey(
        "catalog.Plan", on_delete=models.CASCADE, related_name="+", verbose_name=_("plan")
    )
    price_cents = models.PositiveIntegerField(_("wholesale price (cents)"))

    class Meta:
        verbose_name = _("wholesale price")
        verbose_name_plural = _("wholesale prices")
        constraints = [
            models.UniqueConstraint(fields=["reseller", "plan"], name="partners_one_price_per_plan")
        ]

    def __str__(self) -> str:
        return f"{self.reseller} {self.plan_id}: {self.price_cents}"


class ResellerApiKey(models.Model):
    """A bearer key, shown once: "rsk_…"; kept as its prefix (lookup) and SHA-256 digest."""

    reseller = models.ForeignKey(
        Reseller, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("reseller")
    )
    label = models.CharField(_("label"), max_length=80, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ResellerOrder(models.Model):
    """The reseller's number for one of our orders, and a fingerprint of the body it sent.

    Inserted first in the ordering transaction: two requests with one
    external_order_no meet on its unique constraint, and the second answers with
    the first's order (same body) or idempotency_conflict (another body).
    """

    reseller = models.ForeignKey(
        Reseller, on_delete=models.PROTECT, related_name="orders", verbose_name=_("reseller")
    )
    external_order_no = models.CharField(_("reseller's order number"), max_length=100)
    request_fingerprint = models.CharField(max_length=64)
    kind = models.CharField(_("kind"), max_length=20)
    order = models.OneToOneField(
        "orders.Order",
        null=True,
        on_delete=models.PROTECT,
        related_name="reseller_order",
        verbose_name=_("order"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reseller order")
        verbose_name_plural = _("reseller orders")
        constraints = [
            models.UniqueConstraint(
                fields=["reseller", "external_order_no"], name="partners_one_order_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reseller_id}:{self.external_order_no}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    ABANDONED = "abandoned", _("Abandoned after 24 hours")


class WebhookEvent(models.Model):
    """One event for a reseller's webhook, its JSON body fixed when the order changed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reseller = models.ForeignKey(
        Reseller,
        on_delete=models.CASCADE,
        related_name="webhook_events",
        verbose_name=_("reseller"),
    )
    event = models.CharField(_("event"), max_length=40)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("order"),
    )
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="partners_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} {self.order_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookEvent,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
