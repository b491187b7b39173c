"""Identity checks in a chat, before an agent touches the customer's account (40-care.md).

Two ways to prove who is typing:
- a one-time code: 6 digits from the OS's CSPRNG, sent through the notify outbox by SMS
  to one of the subscriber's lines (to that line's number: possession of the line) or by
  email, in the subscriber's language. It expires after 10 minutes and allows 5 tries.
  The customer types it in the chat widget's code entry (a `verify_code` frame; a plain
  message of just 6 digits while a code is pending is taken as the code too, so it is
  never stored as chat text); the agent may also key it in the console.
- the account PIN with the date of birth, told to the agent and keyed in the console
  (checked with accounts.services.check_account_pin, the hotline's function).

A successful check is bound to that conversation for 15 minutes (`valid_check`). Wrong
codes and wrong PIN/date pairs are counted; 5 failures within an hour, over any number
of checks of that account, lock new checks until the hour has passed.

Only HMAC-SHA256 of the code (under a key derived from SECRET_KEY for this purpose) is
compared. The outbox renders messages when it sends them, so the code itself waits
encrypted (Fernet, like document numbers) in the check's row and is wiped the moment the
check ends (verified, locked, expired, replaced). Codes, PINs and dates of birth are
never logged, audited or put in a notification's stored context or body.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import check_account_pin, record_audit
from simcare.care import chat_queries, relay
from simcare.care.models import (
    Conversation,
    ConversationStatus,
    IdentityCheck,
    Message,
    Sender,
    VerificationMethod,
    VerificationStatus,
)
from simcare.care.verification_errors import (
    CodeChannelUnavailable,
    CustomerNotFound,
    NoCodePending,
    NoCustomer,
    NotServingChat,
    PinDobIncomplete,
    PinDobUnavailable,
    VerificationLocked,
    VerificationRequired,
)
from simcare.kit.phone import format_national
from simcare.lines.models import Line, LineState
from simcare.notify import services as notify_services
from simcare.notify.models import Channel, Notification

CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_TRIES = 5
BINDING = dt.timedelta(minutes=15)
LOCKOUT_WINDOW = dt.timedelta(hours=1)
MAX_FAILURES = 5
_CODE = re.compile(r"\d{6}")
_KEY_CONTEXT = b"simcare.care.identity-code.v1"


class CodeOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # may try again
    LOCKED = "locked"  # that was the last try
    EXPIRED = "expired"


def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


@sensitive_variables("code")
def _digest(check_id: int, code: str) -> str:
    return hmac.new(_key(), f"{check_id}:{code}".encode(), hashlib.sha256).hexdigest()


def normalized_code(text: object) -> str | None:
    """ "123 456" or " 123456 " → "123456"; anything else None."""
    if not isinstance(text, str):
        return None
    compact = re.sub(r"[\s-]", "", text)
    return compact if _CODE.fullmatch(compact) else None


def serving_conversation(
    conversation: Conversation, agent: User
) -> tuple[Conversation, Subscriber]:
    """The conversation locked and its customer, when `agent` serves it."""
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("subscriber__user")
        .get(pk=conversation.pk)
    )
    if locked.status != ConversationStatus.ACTIVE or locked.agent_id != agent.pk:
        raise NotServingChat()
    if locked.subscriber is None:
        raise NoCustomer()
    return locked, locked.subscriber


def failures_in_window(subscriber_id: int, *, now: dt.datetime) -> int:
    total = IdentityCheck.objects.filter(
        subscriber_id=subscriber_id, created_at__gte=now - LOCKOUT_WINDOW
    ).aggregate(total=Sum("failures"))["total"]
    return int(total or 0)


def is_locked(subscriber_id: int, *, now: dt.datetime | None = None) -> bool:
    return failures_in_window(subscriber_id, now=now or timezone.now()) >= MAX_FAILURES


def system_message(conversation: Conversation, text: str, *, now: dt.datetime) -> Message:
    message = Message.objects.create(
        conversation=conversation, sender=Sender.SYSTEM, body=text, created_at=now
    )
    transaction.on_commit(functools.partial(relay.publish_message, message))
    return message


def _announce(conversation: Conversation, state: str) -> None:
    public_id = conversation.public_id
    transaction.on_commit(lambda: relay.publish_verification(public_id, state))


def _end(check: IdentityCheck, status: str, **fields: object) -> None:
    check.status = status
    check.code_secret = ""
    for name, value in fields.items():
        setattr(check, name, value)
    check.save(update_fields=["status", "code_secret", *fields])


def _ending(msisdn: str) -> str:
    return msisdn[-4:]


@sensitive_variables("code")
@transaction.atomic
def start_code_check(
    conversation: Conversation,
    *,
    agent: User,
    channel: str,
    line: Line | None = None,
    now: dt.datetime | None = None,
) -> IdentityCheck:
    """Send a new one-time code by SMS to `line` (one of the customer's) or by email; a code
    still pending in this chat is replaced."""
    now = now or timezone.now()
    conversation, subscriber = serving_conversation(conversation, agent)
    user = subscriber.user
    if channel == Channel.SMS:
        if line is None or line.subscriber_id != subscriber.pk or line.state == LineState.RECYCLED:
            raise CodeChannelUnavailable()
        method = VerificationMethod.SMS_CODE
    elif channel == Channel.EMAIL:
        if not user.email:
            raise CodeChannelUnavailable()
        line, method = None, VerificationMethod.EMAIL_CODE
    else:
        raise CodeChannelUnavailable()
    if is_locked(subscriber.pk, now=now):
        raise VerificationLocked()
    for previous in IdentityCheck.objects.select_for_update().filter(
        conversation=conversation, status=VerificationStatus.PENDING
    ):
        _end(previous, VerificationStatus.CANCELLED)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    check = IdentityCheck.objects.create(
        conversation=conversation,
        subscriber=subscriber,
        agent=agent,
        method=method,
        line=line,
        code_secret=code,
        created_at=now,
        code_expires_at=now + CODE_LIFETIME,
    )
    check.code_hash = _digest(check.pk, code)
    check.save(update_fields=["code_hash"])
    notify_services.enqueue(
        "care.identity_code",
        recipient=user,
        line=line,
        channels=(channel,),
        context={"identity_check": check.pk, "code_expires_at": check.code_expires_at},
        now=now,
    )
    with translation.override(conversation.language):
        if line is not None:
            text = _(
                "We sent a 6-digit code by SMS to your line ending in %(ending)s. "
                "Enter it in the code box below to confirm it is you."
            ) % {"ending": _ending(line.msisdn)}
        else:
            text = _(
                "We sent a 6-digit code to your email address. "
                "Enter it in the code box below to confirm it is you."
            )
    system_message(conversation, text, now=now)
    _announce(conversation, "code_sent")
    record_audit(
        "care.identity_check_started",
        actor=agent,
        target=subscriber,
        identity_check=check.pk,
        method=method,
        conversation=str(conversation.public_id),
        line=line.pk if line else None,
    )
    return check


def pending_code_check(
    conversation: Conversation, *, now: dt.datetime | None = None, or_expired: bool = False
) -> IdentityCheck | None:
    """The code check waiting in this chat (with `or_expired`, also one whose 10 minutes
    are up but that nobody tried since: six digits typed then are still its code)."""
    rows = IdentityCheck.objects.filter(
        conversation=conversation, status=VerificationStatus.PENDING
    )
    if not or_expired:
        rows = rows.filter(code_expires_at__gt=now or timezone.now())
    return rows.order_by("-id").first()


@sensitive_variables("code", "candidate")
@transaction.atomic
def submit_code(
    conversation: Conversation,
    code: object,
    *,
    entered_by: User | None = None,
    now: dt.datetime | None = None,
) -> tuple[IdentityCheck, CodeOutcome]:
    """The code the customer typed in the chat (or the agent keyed in for them)."""
    now = now or timezone.now()
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    check = (
        IdentityCheck.objects.select_for_update()
        .filter(conversation=conversation, status=VerificationStatus.PENDING)
        .order_by("-id")
        .first()
    )
    if check is None or conversation.status == ConversationStatus.CLOSED:
        raise NoCodePending()
    language = conversation.language
    if check.code_expires_at is None or now >= check.code_expires_at:
        _end(check, VerificationStatus.EXPIRED)
        with translation.override(language):
            system_message(conversation, _("This code has expired. Ask for a new one."), now=now)
        _announce(conversation, "ended")
        return check, CodeOutcome.EXPIRED
    candidate = normalized_code(code) or ""
    if candidate and hmac.compare_digest(_digest(check.pk, candidate), check.code_hash):
        _end(check, VerificationStatus.VERIFIED, verified_at=now, bound_until=now + BINDING)
        with translation.override(language):
            system_message(conversation, _("Thank you: your identity is confirmed."), now=now)
        _announce(conversation, "verified")
        record_audit(
            "care.identity_verified",
            actor=check.agent,
            target=check.subscriber,
            identity_check=check.pk,
            method=check.method,
            conversation=str(conversation.public_id),
            entered_by="agent" if entered_by is not None else "customer",
        )
        return check, CodeOutcome.VERIFIED
    check.failures += 1
    check.save(update_fields=["failures"])
    left = MAX_TRIES - check.failures
    record_audit(
        "care.identity_check_failed",
        actor=check.agent,
        target=check.subscriber,
        identity_check=check.pk,
        method=check.method,
        failures=check.failures,
    )
    with translation.override(language):
        if left <= 0:
            _end(check, VerificationStatus.FAILED)
            system_message(
                conversation,
                _("That code is not right, and that was the last try. The check is locked."),
                now=now,
            )
            _announce(conversation, "failed")
            return check, CodeOutcome.LOCKED
        system_message(
            conversation,
            _("That code is not right. Tries left: %(left)s.") % {"left": left},
            now=now,
        )
    return check, CodeOutcome.WRONG


@sensitive_variables("pin", "date_of_birth")
@transaction.atomic
def check_pin_and_birth_date(
    conversation: Conversation,
    *,
    agent: User,
    pin: str,
    date_of_birth: dt.date | None,
    now: dt.datetime | None = None,
) -> IdentityCheck:
    """The account PIN and date of birth the customer told the agent; returns the check,
    verified or failed (one failure counted towards the lockout)."""
    now = now or timezone.now()
    conversation, subscriber = serving_conversation(conversation, agent)
    if not pin or date_of_birth is None:
        raise PinDobIncomplete()
    if not subscriber.account_pin_hash or subscriber.date_of_birth is None:
        raise PinDobUnavailable()
    if is_locked(subscriber.pk, now=now):
        raise VerificationLocked()
    # Both compared every time: the answer does not tell which of the two was wrong.
    pin_ok = check_account_pin(subscriber, pin)
    birth_ok = hmac.compare_digest(
        date_of_birth.isoformat().encode(), subscriber.date_of_birth.isoformat().encode()
    )
    verified = pin_ok and birth_ok
    check = IdentityCheck.objects.create(
        conversation=conversation,
        subscriber=subscriber,
        agent=agent,
        method=VerificationMethod.PIN_DOB,
        status=VerificationStatus.VERIFIED if verified else VerificationStatus.FAILED,
        failures=0 if verified else 1,
        created_at=now,
        verified_at=now if verified else None,
        bound_until=now + BINDING if verified else None,
    )
    record_audit(
        "care.identity_verified" if verified else "care.identity_check_failed",
        actor=agent,
        target=subscriber,
        identity_check=check.pk,
        method=check.method,
        conversation=str(conversation.public_id),
    )
    if verified:
        with translation.override(conversation.language):
            system_message(conversation, _("Thank you: your identity is confirmed."), now=now)
        _announce(conversation, "verified")
    return check


def valid_check(
    conversation: Conversation, *, now: dt.datetime | None = None
) -> IdentityCheck | None:
    """The check that allows account actions in this chat now, if any: verified for this
    chat's customer less than 15 minutes ago."""
    if conversation.subscriber_id is None:
        return None
    now = now or timezone.now()
    return (
        IdentityCheck.objects.filter(
            conversation=conversation,
            subscriber_id=conversation.subscriber_id,
            status=VerificationStatus.VERIFIED,
            bound_until__gt=now,
        )
        .order_by("-bound_until", "-id")
        .first()
    )


def require_check(conversation: Conversation, *, now: dt.datetime | None = None) -> IdentityCheck:
    check = valid_check(conversation, now=now)
    if check is None:
        raise VerificationRequired()
    return check


def latest_check(conversation: Conversation) -> IdentityCheck | None:
    return IdentityCheck.objects.filter(conversation=conversation).order_by("-id").first()


def code_for_notification(notification: Notification) -> dict[str, str]:
    """The outbox's secret hook for "care.identity_code": the pending code, read at send
    time; empty once the check ended (the message then says the code is no longer valid)."""
    check_id = (notification.context or {}).get("identity_check")
    if not isinstance(check_id, int):
        return {"code": ""}
    check = IdentityCheck.objects.filter(
        pk=check_id, status=VerificationStatus.PENDING, code_expires_at__gt=timezone.now()
    ).first()
    return {"code": check.code_secret if check is not None else ""}


def destinations(conversation: Conversation) -> list[tuple[str, str]]:
    """Where a code may go, for the console's choice: ("line:<id>", "SMS 416 555-0142")
    per live line, and ("email", "Email") when the account has an address."""
    subscriber = conversation.subscriber
    if subscriber is None:
        return []
    choices: list[tuple[str, str]] = []
    for line in Line.objects.filter(subscriber=subscriber).exclude(state=LineState.RECYCLED):
        try:
            shown = format_national(line.msisdn)
        except Exception:  # an unparsable number is still offered as stored
            shown = line.msisdn
        choices.append((f"line:{line.pk}", _("SMS to %(number)s") % {"number": shown}))
    if subscriber.user.email:
        choices.append(("email", _("Email")))
    return choices


def serves(conversation: Conversation, user: User) -> bool:
    return (
        chat_queries.is_care_agent(user)
        and conversation.status == ConversationStatus.ACTIVE
        and conversation.agent_id == user.pk
    )


@transaction.atomic
def link_customer(conversation: Conversation, *, agent: User, contact: str) -> Subscriber:
    """Link a visitor who is not signed in to the account they name (a line's number, the
    account's mobile number or email), so that the agent can verify them. Linking shows
    the agent the account, never the visitor; every action still needs a check. A chat
    of a signed-in account stays linked to it."""
    from simcare.ivr.queries import find_caller, normalized_caller

    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if locked.status != ConversationStatus.ACTIVE or locked.agent_id != agent.pk:
        raise NotServingChat()
    if locked.user_id is not None:
        raise CustomerNotFound()
    text = (contact or "").strip()[:254]
    subscriber: Subscriber | None = None
    if "@" in text:
        subscriber = Subscriber.objects.filter(
            user__email__iexact=text, user__is_active=True
        ).first()
        found_by = "email"
    else:
        subscriber, _line = find_caller(normalized_caller(text))
        found_by = "phone"
    if subscriber is None:
        raise CustomerNotFound()
    previous = locked.subscriber_id
    for pending in IdentityCheck.objects.select_for_update().filter(
        conversation=locked, status=VerificationStatus.PENDING
    ):
        _end(pending, VerificationStatus.CANCELLED)
    locked.subscriber = subscriber
    locked.is_vip = locked.is_vip or subscriber.is_vip
    locked.save(update_fields=["subscriber", "is_vip"])
    record_audit(
        "care.customer_linked",
        actor=agent,
        target=locked,
        subscriber=subscriber.pk,
        previous_subscriber=previous,
        found_by=found_by,
    )
    return subscriber
