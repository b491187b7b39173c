"""The outbox: every notification is a row before anything is sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", pgettext_lazy("notification status", "Sent")
    FAILED = "failed", pgettext_lazy("notification status", "Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped (no address or opted out)")


class DeliveryStatus(models.TextChoices):
    """What the SMS gateway last reported about a sent message (delivery receipts)."""

    ACCEPTED = "accepted", _("Accepted by the gateway")
    SENT = "sent", _("Sent to the carrier")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Not delivered")


class Notification(models.Model):
    """One message to one person on one channel.

    Example: template "lifecycle.expiry_reminder", channel sms, language zh-hans,
    line 42, reference_at = the period_end it warns about, dedupe_key
    "reminder:42:expiry-7:2026-12-20T14:03:00" so the job can run twice and
    the reminder still goes once. The text is rendered when sent, in the
    recipient's language, and kept in subject/body for the record.

    The outbox is a high-volume log written set-based by the lifecycle jobs
    (two rows per line per step), so it carries only the indexes the outbox,
    the per-line cancel and the back office need, and its references to the recipient and the
    line are not database constraints: Django's on_delete=SET_NULL keeps them
    consistent, and checking a foreign key per inserted row at commit more
    than doubled the sweep's time on PostgreSQL (benchmarks/lifecycle.py).
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.CharField(max_length=60)
    language = models.CharField(max_length=8, default="en")
    line = models.ForeignKey(
        "lines.Line",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        db_constraint=False,
    )
    reference_at = models.DateTimeField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # NULL, not "", for "no key": the uniqueness must ignore rows without one.
    # Unique through Meta.constraints rather than unique=True, which on
    # PostgreSQL adds a second (LIKE) index that nothing uses.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    send_after = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # SMS gateways (notify/gateways.py): who took the message, its id there, and the last
    # delivery receipt. provider_message_id lists every part's id of a long SMS, comma-separated.
    # Database defaults: the lifecycle jobs insert rows with SQL that does not name these columns.
    gateway = models.CharField(max_length=20, blank=True, db_default="")
    provider_message_id = models.CharField(max_length=200, blank=True, db_default="")
    delivery_status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, blank=True, db_default=""
    )
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=100, blank=True, db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications (outbox)")
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="notify_notification_dedupe_key")
        ]
        # Only queued rows are ever looked up by time: the index stays small.
        indexes = [
            models.Index(
                fields=["send_after"],
                condition=Q(status="queued"),
                name="notify_notification_due",
            ),
            models.Index(
                fields=["gateway", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="notify_notification_gateway_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.channel} ({self.status})"
