"""State changes on people: creating subscribers and staff, roles, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from simcare.accounts.models import ApiToken, AuditEvent, Role, Subscriber, User


def record_audit(
    action: str,
    *,
    actor: User | None,
    target: Any,
    actor_label: str | None = None,
    **data: Any,
) -> AuditEvent:
    audit = audit_row(action, actor=actor, target=target, actor_label=actor_label, **data)
    audit.save(force_insert=True)
    return audit


def audit_row(
    action: str,
    *,
    actor: User | None,
    target: Any,
    actor_label: str | None = None,
    **data: Any,
) -> AuditEvent:
    """record_audit's row, not saved (a batch inserts many at once with bulk_create)."""
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEvent(
        actor=actor,
        actor_label=label,
        action=action,
        object_type=target._meta.model_name,
        object_id=str(target.pk),
        data=data,
    )


def _check_contact_is_free(user: User) -> None:
    errors: dict[str, str] = {}
    if user.email and User.objects.filter(email__iexact=user.email).exists():
        errors["email"] = str(_("An account with this email address already exists."))
    if user.phone and User.objects.filter(phone=user.phone).exists():
        errors["phone"] = str(_("An account with this mobile number already exists."))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_subscriber(
    *,
    username: str,
    password: str | None,
    email: str | None = None,
    phone: str | None = None,
    language: str = "en",
    first_name: str = "",
    last_name: str = "",
    province: str = "ON",
) -> Subscriber:
    user = User(
        username=username,
        email=email or None,
        phone=phone or None,
        language=language,
        first_name=first_name,
        last_name=last_name,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    # Django's check of an expression constraint (Lower("email")) treats two
    # missing emails as equal, so uniqueness is checked here in words a person
    # understands, and the database constraints still decide under a race.
    user.full_clean(exclude=["password"], validate_constraints=False)
    _check_contact_is_free(user)
    user.save()
    user.groups.add(Group.objects.get_or_create(name=Role.SUBSCRIBER)[0])
    subscriber = Subscriber.objects.create(user=user, province=province)
    record_audit("subscriber.created", actor=None, target=subscriber)
    return subscriber


@transaction.atomic
def create_staff(
    *, username: str, password: str, role: Role, email: str | None = None, language: str = "en"
) -> User:
    user = User(username=username, email=email or None, language=language, is_staff=True)
    user.set_password(password)
    if role == Role.ADMIN:
        user.is_superuser = True
    user.save()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    record_audit("staff.created", actor=None, target=user, role=str(role))
    return user


def set_account_pin(subscriber: Subscriber, pin: str) -> None:
    subscriber.account_pin_hash = make_password(pin)
    subscriber.save(update_fields=["account_pin_hash"])


def check_account_pin(subscriber: Subscriber, pin: str) -> bool:
    return bool(subscriber.account_pin_hash) and check_password(pin, subscriber.account_pin_hash)


def set_preferred_language(user: User, language: str) -> None:
    from simcare.accounts.models import Language

    if language in Language.values and user.language != language:
        user.language = language
        user.save(update_fields=["language"])


# --- API tokens -------------------------------------------------------------------------------

API_TOKEN_PREFIX = "sct_"  # noqa: S105  # a marker that tells a token apart, not a secret
_PREFIX_LENGTH = len(API_TOKEN_PREFIX) + 8
# last_used_at is a hint for the owner and the admin, not an audit trail: one write a minute.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_subscriber(user: User) -> bool:
    """Whom the subscriber API serves: active subscribers, never staff (their tokens would
    bypass the two-factor step the consoles require)."""
    if not user.is_active or user.is_staff or user.is_superuser:
        return False
    return Subscriber.objects.filter(user=user).exists()


@transaction.atomic
def issue_api_token(user: User, *, now: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for user; returns the row and the token, which is shown this once."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        prefix=token[:_PREFIX_LENGTH],
        token_hash=_token_digest(token),
        created_at=now or timezone.now(),
    )
    record_audit("api_token.issued", actor=user, target=row, prefix=row.prefix)
    return row, token


@transaction.atomic
def revoke_api_token(
    token: ApiToken, *, acting_user: User | None, now: dt.datetime | None = None
) -> bool:
    """Revoke the token; False when it already was (revoking twice changes nothing)."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    if revoked:
        token.refresh_from_db(fields=["revoked_at"])
        record_audit("api_token.revoked", actor=acting_user, target=token, prefix=token.prefix)
    return bool(revoked)


def user_for_api_token(token: str, *, now: dt.datetime | None = None) -> User | None:
    """The subscriber a live token belongs to, else None; notes when it was last used."""
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _token_digest(token)
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=token[:_PREFIX_LENGTH], revoked_at__isnull=True
    )
    for row in candidates:
        if hmac.compare_digest(row.token_hash, digest):
            if not is_api_subscriber(row.user):
                return None
            now = now or timezone.now()
            if row.last_used_at is None or row.last_used_at < now - _LAST_USED_RESOLUTION:
                ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
            return row.user
    return None
