"""Returns and exchanges (RMA), their photos and history; verified reviews."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReturnKind(models.TextChoices):
    NO_REASON = "no_reason", _("Return without a reason")
    QUALITY = "quality", _("Faulty card: replacement")
    WRONG_ITEM = "wrong_item", _("Wrong item received")


class Resolution(models.TextChoices):
    REFUND = "refund", _("Refund")
    REPLACEMENT = "replacement", _("Replacement")


class Fault(models.TextChoices):
    NO_NETWORK = "no_network", _("The card does not register on the network")
    DAMAGED = "damaged", _("The card is damaged")
    ESIM_INSTALL = "esim_install", _("The eSIM does not install")


class ReturnState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    AWAITING_RETURN = "awaiting_return", _("Waiting for the card")
    RECEIVED = "received", _("Card received")
    REFUNDED = "refunded", _("Refunded")
    REPLACEMENT_SENT = "replacement_sent", _("Replacement sent")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (
    ReturnState.REQUESTED,
    ReturnState.APPROVED,
    ReturnState.AWAITING_RETURN,
    ReturnState.RECEIVED,
    ReturnState.REFUNDED,
    ReturnState.REPLACEMENT_SENT,
)


class ReturnRequest(models.Model):
    """One return or exchange asked for one order, e.g. RMA-0000012.

    Example: order SC-0001042 (a physical SIM for +14165550142), quality
    replacement, fault "no_network", eligible on day 3 of 30; approved by
    agent ana, replacement sent (ICCID 8912…0013 → 8912…0021), closed.
    `evaluation` keeps the policy's verdict at submission (codes and whether
    each check passed); `is_override` marks an agent's decision against it,
    whose written justification is `decision_note`.
    """

    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        on_delete=models.PROTECT,
        related_name="return_requests",
        verbose_name=_("subscriber"),
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="return_requests"
    )
    line = models.ForeignKey(
        "lines.Line",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="return_requests",
        verbose_name=_("line"),
    )
    kind = models.CharField(_("request"), max_length=12, choices=ReturnKind.choices)
    resolution = models.CharField(_("resolution"), max_length=12, choices=Resolution.choices)
    refund_to_wallet = models.BooleanField(_("refund to the wallet"), default=False)
    fault = models.CharField(_("fault"), max_length=16, choices=Fault.choices, blank=True)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=ReturnState.choices, default=ReturnState.REQUESTED
    )
    is_eligible = models.BooleanField(_("within the policy"))
    evaluation = models.JSONField(_("evaluation"), default=list, blank=True)
    requires_return = models.BooleanField(_("the card comes back"), default=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("justification"), max_length=2000, blank=True)
    is_override = models.BooleanField(_("override of the policy"), default=False)
    refund_cents = models.PositiveIntegerField(_("refunded (cents)"), default=0)
    old_iccid = models.CharField(_("old ICCID"), max_length=20, blank=True)
    new_iccid = models.CharField(_("new ICCID"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("return request")
        verbose_name_plural = _("return requests")
        indexes = [
            models.Index(fields=["subscriber", "created_at"]),
            models.Index(fields=["state", "created_at"]),
        ]
        constraints = [
            # One request in progress per order, also when two arrive at once.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(state__in=[state.value for state in OPEN_STATES]),
                name="aftersales_one_open_return_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"RMA-{self.pk or 0:07d}"


class ReturnEvent(models.Model):
    """One step of a request's history, shown to the customer: requested → approved → …"""

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, choices=ReturnState.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("return step")
        verbose_name_plural = _("return steps")

    def __str__(self) -> str:
        return f"{self.request_id} {self.from_state}→{self.to_state}"


def _photo_path(instance: ReturnPhoto, filename: str) -> str:
    return f"returns/{instance.request_id}/{filename}"


class ReturnPhoto(models.Model):
    """A photo of the card or the phone's error, re-encoded without metadata (EXIF, GPS).

    Stored under the data dir's media folder, served only to the owner and staff.
    """

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=_photo_path, max_length=200)
    content_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("return photo")
        verbose_name_plural = _("return photos")

    def __str__(self) -> str:
        return f"{self.request_id} photo {self.pk}"


class ReviewSubject(models.TextChoices):
    PLAN = "plan", _("Plan")
    SUPPORT = "support", _("Support")
    STORE = "store", _("Store")


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for moderation")
    APPROVED = "approved", _("Published")
    REJECTED = "rejected", _("Rejected")


class Review(models.Model):
    """A verified review: one per fulfilled order, 1 to 5 stars, text as written, in its language.

    Example: order SC-0001042, 4 stars about the plan TALK30, in French,
    approved by a moderator, with a staff reply. The text is stored as sent
    and always shown escaped.
    """

    subscriber = models.ForeignKey(
        "accounts.Subscriber",
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("subscriber"),
    )
    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, related_name="review", verbose_name=_("order")
    )
    about = models.CharField(_("about"), max_length=8, choices=ReviewSubject.choices)
    plan = models.ForeignKey(
        "catalog.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("plan"),
    )
    store = models.ForeignKey(
        "stores.Store",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("store"),
    )
    rating = models.PositiveSmallIntegerField(
        _("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(_("review"), max_length=10_000)
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(
        _("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    reply = models.TextField(_("staff reply"), max_length=4000, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        indexes = [models.Index(fields=["status", "language", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="aftersales_review_rating_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ {self.order_id}"


class ReviewInvitation(models.Model):
    """A review request sent once: key "order:<id>" after a fulfilled order, "ticket:<id>" after a
    closed ticket."""

    key = models.CharField(max_length=80, unique=True)
    subscriber = models.ForeignKey(
        "accounts.Subscriber", on_delete=models.CASCADE, related_name="review_invitations"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("review invitation")
        verbose_name_plural = _("review invitations")

    def __str__(self) -> str:
        return self.key
