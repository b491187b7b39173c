"""People: users of every role, subscriber profiles, and the audit log."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.kit.crypto import EncryptedTextField, mask
from simcare.kit.phone import validate_msisdn


class Role(models.TextChoices):
    """Roles are Django groups of these names, created by a data migration."""

    SUBSCRIBER = "subscriber", _("Subscriber")
    AGENT = "agent", _("Agent")
    CLERK = "clerk", _("Store clerk")
    ADMIN = "admin", _("Administrator")
    RESELLER = "reseller", _("Reseller")


STAFF_ROLES = frozenset({Role.AGENT, Role.CLERK, Role.ADMIN})


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"
    FR = "fr", "Français"


class User(AbstractUser):
    """A login. A subscriber signs in with email or phone; staff with a username.

    Example: username "lin.wei", email "lin.wei@example.com", phone "+14165550142",
    language "zh-hans".
    """

    # NULL, not "", for "no email": the unique constraints must ignore missing values.
    email = models.EmailField(  # type: ignore[assignment]  # noqa: DJ001
        _("email address"), blank=True, null=True
    )
    phone = models.CharField(  # noqa: DJ001
        _("mobile number"), max_length=16, blank=True, null=True, validators=[validate_msisdn]
    )
    language = models.CharField(
        _("preferred language"), max_length=8, choices=Language.choices, default=Language.EN
    )

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_unique_ci",
                condition=Q(email__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["phone"],
                name="accounts_user_phone_unique",
                condition=Q(phone__isnull=False),
            ),
        ]

    def clean(self) -> None:
        super().clean()
        # AbstractUser.clean() turns a missing email into "": keep NULL so the
        # partial unique constraint ignores it.
        if not self.email:
            self.email = None

    def has_role(self, role: str) -> bool:
        return self.groups.filter(name=role).exists()

    @property
    def roles(self) -> set[str]:
        return set(self.groups.values_list("name", flat=True))


class IdentityDocumentType(models.TextChoices):
    PASSPORT = "passport", _("Passport")
    STUDY_PERMIT = "study_permit", _("Study permit")
    WORK_PERMIT = "work_permit", _("Work permit")


class Subscriber(models.Model):
    """The customer side of a user: preferences, consent, identity, VIP.

    Example: Lin Wei, Ontario, language zh-hans, VIP since spending $320,
    study permit number stored encrypted and shown as "••••••567".
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriber"
    )
    province = models.CharField(_("province"), max_length=2, default="ON")
    is_vip = models.BooleanField(_("VIP"), default=False)
    vip_reason = models.CharField(_("VIP reason"), max_length=200, blank=True)
    email_notifications_enabled = models.BooleanField(_("email notifications"), default=True)
    sms_notifications_enabled = models.BooleanField(_("SMS notifications"), default=True)
    # CASL: marketing only with recorded express consent (time, channel, wording).
    marketing_consent_at = models.DateTimeField(
        _("marketing consent given at"), null=True, blank=True
    )
    marketing_consent_channel = models.CharField(
        _("marketing consent channel"), max_length=20, blank=True
    )
    marketing_consent_wording_version = models.CharField(
        _("marketing consent wording version"), max_length=20, blank=True
    )
    id_document_type = models.CharField(
        _("identity document type"), max_length=20, choices=IdentityDocumentType.choices, blank=True
    )
    id_document_number = EncryptedTextField(_("identity document number"), blank=True, default="")
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    account_pin_hash = models.CharField(_("account PIN (hashed)"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.username

    @property
    def id_document_number_masked(self) -> str:
        return mask(self.id_document_number or "")

    @property
    def has_marketing_consent(self) -> bool:
        return self.marketing_consent_at is not None


class AuditEvent(models.Model):
    """One action someone (or a job) took, for agents and auditors.

    Example: actor "agent.chen", action "line.renewed", object "line:42",
    data {"plan": "TALK30", "verification": 17}.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, help_text=_("who or what acted, kept if the user is erased")
    )
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}"
        return f"{when} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"


class ApiToken(models.Model):
    """A bearer token a subscriber's app sends to the API; only its SHA-256 is kept.

    Example: "sct_Q3v…" shown once to lin.wei when issued; stored as prefix "sct_Q3vX9aKp"
    (to find it and to tell tokens apart in the admin) and the hex digest of the whole
    token. Revoked tokens stay, with revoked_at, as a record of what was allowed when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
