"""What a subscriber changes about themselves: language, how we reach them, marketing
consent (recorded as Canada's anti-spam law asks), and the account PIN.

Transactional messages (renewals, expiry, payments) go on whichever of email and SMS is
on; at least one must stay on, and it must have an address, or we could not warn someone
that their number is about to be released.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from simcare.accounts import errors
from simcare.accounts.models import Language, Subscriber, User
from simcare.accounts.services import record_audit, set_account_pin

# The version of the consent sentence the profile page shows; a new wording gets a new version,
# so each recorded consent says exactly what the person agreed to.
MARKETING_CONSENT_WORDING_VERSION = "2026-12"
PIN_PATTERN = re.compile(r"\d{4,8}")


@dataclass(frozen=True)
class Preferences:
    language: str
    email_notifications: bool
    sms_notifications: bool
    marketing_consent: bool


@transaction.atomic
def update_preferences(
    subscriber: Subscriber,
    preferences: Preferences,
    *,
    acting_user: User | None,
    consent_channel: str = "web",
    now: dt.datetime | None = None,
) -> Subscriber:
    """Save the subscriber's choices; a refusal changes nothing."""
    subscriber = Subscriber.objects.select_for_update().select_related("user").get(pk=subscriber.pk)
    user = subscriber.user
    if preferences.language not in Language.values:
        raise errors.LanguageInvalid
    if not preferences.email_notifications and not preferences.sms_notifications:
        raise errors.NoChannelLeft
    if (not preferences.sms_notifications and not user.email) or (
        not preferences.email_notifications and not user.phone
    ):
        raise errors.ChannelWithoutAddress
    changed: dict[str, Any] = {}
    if user.language != preferences.language:
        user.language = preferences.language
        user.save(update_fields=["language"])
        changed["language"] = preferences.language
    if subscriber.email_notifications_enabled != preferences.email_notifications:
        subscriber.email_notifications_enabled = preferences.email_notifications
        changed["email_notifications"] = preferences.email_notifications
    if subscriber.sms_notifications_enabled != preferences.sms_notifications:
        subscriber.sms_notifications_enabled = preferences.sms_notifications
        changed["sms_notifications"] = preferences.sms_notifications
    if preferences.marketing_consent and not subscriber.has_marketing_consent:
        subscriber.marketing_consent_at = now or timezone.now()
        subscriber.marketing_consent_channel = consent_channel
        subscriber.marketing_consent_wording_version = MARKETING_CONSENT_WORDING_VERSION
        changed["marketing_consent"] = True
        changed["consent_wording_version"] = MARKETING_CONSENT_WORDING_VERSION
        changed["consent_channel"] = consent_channel
    elif not preferences.marketing_consent and subscriber.has_marketing_consent:
        # Withdrawn: the audit event keeps when and how it had been given.
        changed["marketing_consent"] = False
        changed["consent_withdrawn_given_at"] = subscriber.marketing_consent_at.isoformat()  # type: ignore[union-attr]
        subscriber.marketing_consent_at = None
        subscriber.marketing_consent_channel = ""
        subscriber.marketing_consent_wording_version = ""
    if changed:
        subscriber.save(
            update_fields=[
                "email_notifications_enabled",
                "sms_notifications_enabled",
                "marketing_consent_at",
                "marketing_consent_channel",
                "marketing_consent_wording_version",
            ]
        )
        record_audit(
            "subscriber.preferences_changed", actor=acting_user, target=subscriber, **changed
        )
    return subscriber


@transaction.atomic
def change_account_pin(
    subscriber: Subscriber,
    *,
    password: str,
    new_pin: str,
    repeated_pin: str,
    acting_user: User,
) -> None:
    """Set the PIN the hotline and the agents ask for; the account password confirms it."""
    if not subscriber.user.check_password(password):
        raise errors.PasswordIncorrect
    if not PIN_PATTERN.fullmatch(new_pin):
        raise errors.PinInvalid
    if new_pin != repeated_pin:
        raise errors.PinMismatch
    set_account_pin(subscriber, new_pin)
    # Never the PIN itself, in the audit or anywhere else.
    record_audit("subscriber.pin_changed", actor=acting_user, target=subscriber)
