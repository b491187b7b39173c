"""The hotline's state changes: a call starts, picks a language, proves the account PIN,
renews from the wallet, redeems a voucher, leaves a voicemail.

Each Twilio webhook is one request; what a call has done so far lives in its
CallSession row (keyed by CallSid), so any web process answers any step.
Account actions need the account PIN keyed in on this call within the last
15 minutes (40-care.md: a check is bound to the call for 15 minutes).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from simcare.accounts.models import Language, User
from simcare.accounts.services import check_account_pin, record_audit
from simcare.care import ticket_services
from simcare.care.models import TicketSource
from simcare.ivr import hours, queries
from simcare.ivr.errors import CallerUnknown, PinRequired
from simcare.ivr.models import CallSession, Voicemail
from simcare.orders.models import Order, PaymentMethod, SalesChannel, Voucher
from simcare.orders.services import ordering, vouchers

# Three wrong PINs end the call (60-partners.md); five within an hour, over any number of
# calls, lock PIN entry by phone for the rest of that hour.
PIN_FAILURES_PER_CALL = 3
PIN_FAILURES_PER_HOUR = 5
PIN_WINDOW = dt.timedelta(hours=1)
VERIFICATION_LIFETIME = dt.timedelta(minutes=15)


class PinOutcome(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # may try again on this call
    CALL_ENDED = "call_ended"  # the call's last try was wrong
    LOCKED = "locked"  # too many wrong PINs this hour, whatever the call


def start_call(*, call_sid: str, caller: str, now: dt.datetime | None = None) -> CallSession:
    """The call's session, created on its first webhook with the caller found by caller ID."""
    now = now or timezone.now()
    existing = CallSession.objects.filter(call_sid=call_sid).first()
    if existing is not None:
        return existing
    msisdn = queries.normalized_caller(caller)
    subscriber, line = queries.find_caller(msisdn)
    language = subscriber.user.language if subscriber is not None else ""
    try:
        with transaction.atomic():
            return CallSession.objects.create(
                call_sid=call_sid,
                caller=msisdn or caller[:32],
                subscriber=subscriber,
                line=line,
                language=language,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # Twilio retried the first webhook while we answered it
        return CallSession.objects.get(call_sid=call_sid)


def session_for(call_sid: str) -> CallSession | None:
    return (
        CallSession.objects.select_related("subscriber__user", "line__plan")
        .filter(call_sid=call_sid)
        .first()
    )


def choose_language(session: CallSession, language: str) -> CallSession:
    if language not in Language.values:
        raise ValueError(f"unknown language {language!r}")
    CallSession.objects.filter(pk=session.pk).update(language=language, updated_at=timezone.now())
    session.language = language
    return session


def pin_entry_locked(session: CallSession, *, now: dt.datetime | None = None) -> bool:
    """Whether the caller's account had too many wrong PINs by phone in the last hour."""
    if session.subscriber_id is None:
        return False
    now = now or timezone.now()
    failures = CallSession.objects.filter(
        subscriber_id=session.subscriber_id, updated_at__gte=now - PIN_WINDOW
    ).aggregate(total=Sum("pin_failures"))["total"]
    return int(failures or 0) >= PIN_FAILURES_PER_HOUR


def is_verified(session: CallSession, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return session.verified_at is not None and now - session.verified_at < VERIFICATION_LIFETIME


@sensitive_variables("pin")
def verify_pin(session: CallSession, pin: str, *, now: dt.datetime | None = None) -> PinOutcome:
    """Check the account PIN keyed in; a wrong one is counted on the call (F(), so two
    webhooks at once both count)."""
    now = now or timezone.now()
    subscriber = session.subscriber
    if subscriber is None:
        raise CallerUnknown()
    if session.pin_failures >= PIN_FAILURES_PER_CALL:
        return PinOutcome.CALL_ENDED
    if pin_entry_locked(session, now=now):
        return PinOutcome.LOCKED
    if check_account_pin(subscriber, pin):
        CallSession.objects.filter(pk=session.pk).update(verified_at=now, updated_at=now)
        session.verified_at = now
        return PinOutcome.ACCEPTED
    with transaction.atomic():
        CallSession.objects.filter(pk=session.pk).update(
            pin_failures=F("pin_failures") + 1, updated_at=now
        )
        session.refresh_from_db(fields=["pin_failures", "updated_at"])
        record_audit(
            "ivr.pin_failed",
            actor=subscriber.user,
            actor_label=f"hotline {session.caller}",
            target=subscriber,
            call_sid=session.call_sid,
            failures=session.pin_failures,
        )
    if session.pin_failures >= PIN_FAILURES_PER_CALL:
        return PinOutcome.CALL_ENDED
    if pin_entry_locked(session, now=now):
        return PinOutcome.LOCKED
    return PinOutcome.WRONG


def renew_from_wallet(session: CallSession, *, now: dt.datetime | None = None) -> Order:
    """Renew the caller's line on its plan from the wallet; once per call (the CallSid is the
    idempotency key, so a repeated keypress or a retried webhook renews once)."""
    now = now or timezone.now()
    if session.subscriber is None or session.line is None:
        raise CallerUnknown()
    if not is_verified(session, now=now):
        raise PinRequired()
    return ordering.renew(
        session.line,
        channel=SalesChannel.IVR,
        payment_method=PaymentMethod.WALLET,
        idempotency_key=f"ivr:{session.call_sid}:renew",
        acting_user=session.subscriber.user,
        now=now,
    )


@sensitive_variables("pin")
def redeem_voucher(session: CallSession, pin: str, *, now: dt.datetime | None = None) -> Voucher:
    """Redeem a voucher keyed in into the caller's wallet. The lockout of the orders app
    counts the account's failures; a phone call has no IP address to add to it."""
    if session.subscriber is None:
        raise CallerUnknown()
    return vouchers.redeem_voucher(
        session.subscriber,
        pin,
        ip_address=None,
        acting_user=session.subscriber.user,
        now=now,
    )


def record_voicemail(
    *,
    call_sid: str,
    recording_url: str,
    recording_sid: str = "",
    duration_seconds: int = 0,
    now: dt.datetime | None = None,
) -> Voicemail:
    """Store (or complete) the call's voicemail; Twilio's callbacks may repeat or arrive
    in any order, and the last one with a URL wins."""
    now = now or timezone.now()
    session = session_for(call_sid)
    defaults = {
        "caller": session.caller if session is not None else "",
        "subscriber": session.subscriber if session is not None else None,
        "language": session.language if session is not None else "",
        "created_at": now,
    }
    try:
        with transaction.atomic():
            voicemail, _created = Voicemail.objects.get_or_create(
                call_sid=call_sid, defaults=defaults
            )
    except IntegrityError:
        voicemail = Voicemail.objects.get(call_sid=call_sid)
    changes: dict[str, object] = {}
    if recording_url:
        changes["recording_url"] = recording_url[:500]
    if recording_sid:
        changes["recording_sid"] = recording_sid[:64]
    if duration_seconds:
        changes["duration_seconds"] = duration_seconds
    if changes:
        Voicemail.objects.filter(pk=voicemail.pk).update(**changes)
        voicemail.refresh_from_db()
    if voicemail.recording_url and voicemail.ticket_id is None:
        voicemail = _open_ticket(voicemail, now=now)
    return voicemail


@transaction.atomic
def _open_ticket(voicemail: Voicemail, *, now: dt.datetime) -> Voicemail:
    """The voicemail's care ticket, once: Twilio's callbacks may arrive together."""
    locked = (
        Voicemail.objects.select_for_update(of=("self",))
        .select_related("subscriber__user")
        .get(pk=voicemail.pk)
    )
    if locked.ticket_id is not None:
        return locked
    user = locked.subscriber.user if locked.subscriber is not None else None
    language = locked.language or Language.EN
    with translation.override(language):
        subject = _("Voicemail from %(caller)s") % {"caller": locked.caller or _("unknown")}
        body = _(
            "Voicemail left on the hotline by %(caller)s (%(seconds)s s). "
            "We will call you back. Recording: %(url)s"
        ) % {
            "caller": locked.caller or _("unknown"),
            "seconds": locked.duration_seconds,
            "url": locked.recording_url,
        }
    locked.ticket = ticket_services.create_ticket(
        source=TicketSource.PHONE,
        subject=subject,
        body=body,
        actor=None,
        user=user,
        requester_name=user.get_full_name() if user is not None else "",
        requester_email=(user.email or "") if user is not None else "",
        language=language,
        team=hours.hotline_team(),
        now=now,
    )
    locked.save(update_fields=["ticket"])
    return locked


@transaction.atomic
def mark_voicemails_handled(ids: list[int], *, acting_user: User) -> int:
    """Mark voicemails as dealt with (called back); returns how many changed."""
    pending = list(
        Voicemail.objects.select_for_update().filter(pk__in=ids, is_handled=False).order_by("pk")
    )
    for voicemail in pending:
        record_audit("ivr.voicemail_handled", actor=acting_user, target=voicemail)
    return Voicemail.objects.filter(pk__in=[v.pk for v in pending]).update(is_handled=True)
