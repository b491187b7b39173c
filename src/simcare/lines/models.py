"""Numbers, SIM and eSIM stock, lines, their buckets and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.catalog.models import UsageKind, Zone
from simcare.kit.iccid import validate_iccid
from simcare.kit.phone import validate_msisdn


class NumberStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    ASSIGNED = "assigned", _("Assigned")
    QUARANTINE = "quarantine", _("Quarantine")


class Number(models.Model):
    """A phone number in the provider's inventory, e.g. +14165550142.

    available → assigned → (line recycled) quarantine until quarantine_until → available.
    """

    msisdn = models.CharField(_("number"), max_length=16, unique=True, validators=[validate_msisdn])
    status = models.CharField(
        _("status"), max_length=12, choices=NumberStatus.choices, default=NumberStatus.AVAILABLE
    )
    quarantine_until = models.DateTimeField(_("in quarantine until"), null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["msisdn"]
        verbose_name = _("number")
        verbose_name_plural = _("numbers")
        indexes = [models.Index(fields=["status", "quarantine_until"])]

    def __str__(self) -> str:
        return self.msisdn


class SimKind(models.TextChoices):
    PHYSICAL = "physical", _("Physical SIM")
    ESIM = "esim", _("eSIM")


class SimStatus(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    ASSIGNED = "assigned", _("Assigned")
    REVOKED = "revoked", _("Revoked")
    FAULTY = "faulty", _("Faulty")


class SimCard(models.Model):
    """A physical SIM card or an eSIM profile, by ICCID.

    Physical: ICCID 8912300000000000013, location "TOR-01" (a store) or "WAREHOUSE".
    eSIM: ICCID plus the SM-DP+ address and matching ID of the upstream profile;
    the activation code is LPA:1$<smdp_address>$<matching_id>.
    """

    iccid = models.CharField(_("ICCID"), max_length=20, unique=True, validators=[validate_iccid])
    kind = models.CharField(_("kind"), max_length=8, choices=SimKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=SimStatus.choices, default=SimStatus.IN_STOCK
    )
    location = models.CharField(_("location"), max_length=40, blank=True)
    store = models.ForeignKey(
        "stores.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sims",
        verbose_name=_("store"),
    )
    smdp_address = models.CharField(_("SM-DP+ address"), max_length=255, blank=True)
    matching_id = models.CharField(_("matching ID"), max_length=255, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # First seen on the network (a CDR or the HLR's first attach) and, for an
    # eSIM, when the SM-DP+ reported the profile downloaded: the no-reason
    # return policy (aftersales/policy.py) refuses a card that was ever used.
    network_activated_at = models.DateTimeField(
        _("first used on the network"), null=True, blank=True
    )
    profile_downloaded_at = models.DateTimeField(
        _("eSIM profile downloaded"), null=True, blank=True
    )

    class Meta:
        ordering = ["iccid"]
        verbose_name = _("SIM / eSIM")
        verbose_name_plural = _("SIMs and eSIMs")
        indexes = [models.Index(fields=["kind", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=SimKind.PHYSICAL) | (~Q(smdp_address="") & ~Q(matching_id="")),
                name="lines_esim_has_profile",
            )
        ]

    def __str__(self) -> str:
        return self.iccid

    @property
    def activation_code(self) -> str:
        """GSMA SGP.22 activation code; only for eSIMs."""
        if self.kind != SimKind.ESIM:
            return ""
        return f"LPA:1${self.smdp_address}${self.matching_id}"


class LineState(models.TextChoices):
    ACTIVE = "active", _("Active")
    GRACE = "grace", _("Grace period")
    SUSPENDED = "suspended", _("Suspended")
    RECYCLED = "recycled", _("Closed (number released)")


class Line(models.Model):
    """One SIM or eSIM subscription owned by one subscriber.

    Example: +14165550142 on TALK30, active until 2026-12-20 14:03 UTC, then
    grace until +30 days, suspended until +60 more, then recycled.
    """

    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("subscriber"),
        # The (subscriber, state) index serves lookups by subscriber; one index
        # fewer to write on every state change of the lifecycle sweep.
        db_index=False,
    )
    msisdn = models.CharField(_("number"), max_length=16, validators=[validate_msisdn])
    number = models.ForeignKey(Number, on_delete=models.PROTECT, related_name="lines")
    sim = models.ForeignKey(
        SimCard, on_delete=models.PROTECT, related_name="lines", verbose_name=_("SIM")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=SimKind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=LineState.choices, default=LineState.ACTIVE
    )
    plan = models.ForeignKey(
        "catalog.Plan", on_delete=models.PROTECT, related_name="lines", verbose_name=_("plan")
    )
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    state_changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)
    auto_renew = models.BooleanField(_("auto-renew"), default=False)
    activated_at = models.DateTimeField(_("activated at"), default=timezone.now)
    recycled_at = models.DateTimeField(_("recycled at"), null=True, blank=True)
    # Marks the rows one lifecycle sweep moved, so their history and
    # notifications are written by INSERT … SELECT in the same transaction.
    sweep_id = models.UUIDField(null=True, blank=True, editable=False, db_index=True)
    # Usage rating (30-usage.md): a wallet too short for an overage leaves debt
    # and bars outgoing chargeable usage until the wallet has money again.
    is_barred = models.BooleanField(_("barred for chargeable usage"), default=False)
    barred_at = models.DateTimeField(_("barred at"), null=True, blank=True)
    usage_debt_cents = models.BigIntegerField(_("usage debt (cents)"), default=0)

    class Meta:
        ordering = ["msisdn"]
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        constraints = [
            models.UniqueConstraint(
                fields=["msisdn"],
                condition=~Q(state="recycled"),
                name="lines_line_msisdn_live_unique",
            ),
            models.UniqueConstraint(
                fields=["sim"], condition=~Q(state="recycled"), name="lines_line_sim_live_unique"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="lines_line_period_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "period_end"]),
            models.Index(fields=["subscriber", "state"]),
        ]

    def __str__(self) -> str:
        return self.msisdn


class LineEvent(models.Model):
    """One entry of a line's history: a state change or another event an agent should see.

    Example: 2026-12-20 14:05 "lifecycle job" active → grace, "period ended".
    """

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="events", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    cause = models.CharField(max_length=40)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A line's history, newest first; also serves the foreign key.
        indexes = [models.Index(fields=["line", "created_at"], name="lines_event_line_time")]
        verbose_name = _("line event")
        verbose_name_plural = _("line history")

    def __str__(self) -> str:
        return f"{self.line_id} {self.from_state}→{self.to_state} {self.cause}"


class BucketSource(models.TextChoices):
    PLAN = "plan", _("Plan")
    ADDON = "addon", _("Add-on")


class Bucket(models.Model):
    """An allowance of one period or one add-on.

    Example: data, 20,971,520 KB total, 3,145,728 KB used, zone CA, from the plan,
    expires at the line's period_end. total None means unlimited.
    Units: data in KB, voice in minutes, SMS in messages.
    """

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="buckets")
    kind = models.CharField(max_length=8, choices=UsageKind.choices)
    zone = models.CharField(max_length=4, choices=Zone.choices, default=Zone.CA)
    source = models.CharField(max_length=8, choices=BucketSource.choices)
    addon = models.ForeignKey("catalog.AddOn", null=True, blank=True, on_delete=models.PROTECT)
    total = models.BigIntegerField(null=True, blank=True)
    used = models.BigIntegerField(default=0)
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["expires_at", "id"]
        indexes = [models.Index(fields=["line", "kind", "expires_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(used__gte=0), name="lines_bucket_used_nonnegative"),
            models.CheckConstraint(
                condition=Q(total__isnull=True) | Q(used__lte=models.F("total")),
                name="lines_bucket_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.used}/{self.total if self.total is not None else '∞'}"

    @property
    def unit(self) -> str:
        return {UsageKind.DATA: "KB", UsageKind.VOICE: "minute", UsageKind.SMS: "message"}[
            UsageKind(self.kind)
        ]

    @property
    def remaining(self) -> int | None:
        return None if self.total is None else self.total - self.used
