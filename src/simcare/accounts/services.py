"""State changes on people: creating subscribers and staff, roles, audit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from simcare.accounts.models import AuditEvent, Role, Subscriber, User


def record_audit(
    action: str,
    *,
    actor: User | None,
    target: Any,
    actor_label: str | None = None,
    **data: Any,
) -> AuditEvent:
    label = actor_label or (actor.get_username() if actor is not None else "system")
    return AuditEvent.objects.create(
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
