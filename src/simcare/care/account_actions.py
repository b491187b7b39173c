"""Account actions an agent takes for the customer of a chat, in the console's customer
panel: renew a line from the wallet, reveal the masked identity document number, move a
line onto a new SIM card, re-issue an eSIM profile.

Each needs a verified identity check bound to the chat (care/verification.py: within the
last 15 minutes, for the chat's customer) and the agent serving the chat; without one it
is refused (VerificationRequired) and changes nothing. Each is written to the audit log
with the check's id and method, and the customer reads a system message in the chat, in
the conversation's language. Actions run with the conversation row locked, so a double
submit of one form waits for the first and is then recognised (renewal: the idempotency
key "care:<chat>:renew:<form nonce>"; eSIM: the nonce in the audit data).
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.accounts.services import record_audit
from simcare.care.models import Conversation, IdentityCheck
from simcare.care.verification import require_check, serving_conversation, system_message
from simcare.care.verification_errors import LineNotOfCustomer
from simcare.kit.money import format_cents
from simcare.kit.time import local
from simcare.lines import errors as line_errors
from simcare.lines import services as line_services
from simcare.lines.models import Line, SimCard, SimKind
from simcare.orders import pricing
from simcare.orders.models import Order, OrderKind, PaymentMethod, SalesChannel
from simcare.orders.services import ordering

_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _nonce(value: object) -> str:
    if not isinstance(value, str) or not _NONCE.fullmatch(value):
        raise LineNotOfCustomer()  # a form without its nonce is not one the console drew
    return value


def _allowed(
    conversation: Conversation, *, agent: User, now: dt.datetime
) -> tuple[Conversation, Subscriber, IdentityCheck]:
    conversation, subscriber = serving_conversation(conversation, agent)
    return conversation, subscriber, require_check(conversation, now=now)


def _customer_line(subscriber: Subscriber, line_id: object) -> Line:
    try:
        return Line.objects.select_related("plan", "sim").get(
            pk=int(str(line_id)), subscriber=subscriber
        )
    except (ValueError, Line.DoesNotExist):
        raise LineNotOfCustomer() from None


def _date(moment: dt.datetime, language: str) -> str:
    with translation.override(language):
        return formats.date_format(local(moment), "DATE_FORMAT")


def renewal_quote(conversation: Conversation, line: Line) -> pricing.Quote:
    """What renewing `line` on its plan from the wallet costs now (writes nothing)."""
    return ordering.quote(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.AGENT,
        subscriber=conversation.subscriber,
        plan=line.plan,
        line=line,
    )


@transaction.atomic
def renew_for_customer(
    conversation: Conversation,
    *,
    agent: User,
    line_id: object,
    nonce: object,
    now: dt.datetime | None = None,
) -> Order:
    """Renew one of the customer's lines on its plan, paid from their wallet."""
    now = now or timezone.now()
    conversation, subscriber, check = _allowed(conversation, agent=agent, now=now)
    line = _customer_line(subscriber, line_id)
    key = f"care:{conversation.public_id}:renew:{_nonce(nonce)}"
    replay = Order.objects.filter(idempotency_key=key).first()
    order = ordering.renew(
        line,
        channel=SalesChannel.AGENT,
        payment_method=PaymentMethod.WALLET,
        idempotency_key=key,
        acting_user=agent,
        now=now,
    )
    if replay is not None:
        return order  # the same form again: renewed once, told once
    line.refresh_from_db()
    record_audit(
        "care.line_renewed",
        actor=agent,
        target=line,
        order=order.pk,
        identity_check=check.pk,
        verification_method=check.method,
        conversation=str(conversation.public_id),
    )
    language = conversation.language
    with translation.override(language):
        text = _(
            "Your plan for the line ending in %(ending)s was renewed until %(date)s. "
            "%(total)s was paid from your wallet."
        ) % {
            "ending": line.msisdn[-4:],
            "date": _date(line.period_end, language) if line.period_end else "",
            "total": format_cents(order.total_cents, language=language),
        }
    system_message(conversation, text, now=now)
    return order


@transaction.atomic
def reveal_document_number(
    conversation: Conversation, *, agent: User, now: dt.datetime | None = None
) -> str:
    """The customer's full identity document number, for the agent to compare (audited)."""
    now = now or timezone.now()
    conversation, subscriber, check = _allowed(conversation, agent=agent, now=now)
    record_audit(
        "care.document_revealed",
        actor=agent,
        target=subscriber,
        identity_check=check.pk,
        verification_method=check.method,
        conversation=str(conversation.public_id),
        document_type=subscriber.id_document_type,
    )
    return subscriber.id_document_number or ""


@transaction.atomic
def swap_sim_for_customer(
    conversation: Conversation,
    *,
    agent: User,
    line_id: object,
    iccid: object,
    reason: str,
    now: dt.datetime | None = None,
) -> Line:
    """Move a physical line onto the card with this ICCID, from stock (the old one is
    marked faulty); the number, plan and balance stay."""
    now = now or timezone.now()
    conversation, subscriber, check = _allowed(conversation, agent=agent, now=now)
    line = _customer_line(subscriber, line_id)
    digits = re.sub(r"\s", "", str(iccid or ""))
    card = SimCard.objects.filter(iccid=digits, kind=SimKind.PHYSICAL).first()
    if card is None:
        raise line_errors.SimUnavailable(iccid=digits)
    reason = reason.strip()[:200] or _("SIM swap in chat")
    line = line_services.swap_sim(line, card, acting_user=agent, reason=reason, now=now)
    record_audit(
        "care.sim_swapped",
        actor=agent,
        target=line,
        new_iccid=card.iccid,
        identity_check=check.pk,
        verification_method=check.method,
        conversation=str(conversation.public_id),
    )
    with translation.override(conversation.language):
        text = _(
            "Your line ending in %(ending)s now works on the new SIM card ending in %(card)s. "
            "Put it in your phone and restart it."
        ) % {"ending": line.msisdn[-4:], "card": card.iccid[-4:]}
    system_message(conversation, text, now=now)
    return line


@transaction.atomic
def reissue_esim_for_customer(
    conversation: Conversation,
    *,
    agent: User,
    line_id: object,
    nonce: object,
    reason: str,
    now: dt.datetime | None = None,
) -> Line:
    """Give an eSIM line a new profile from stock; the customer installs it from the
    line's eSIM page in their account."""
    now = now or timezone.now()
    conversation, subscriber, check = _allowed(conversation, agent=agent, now=now)
    line = _customer_line(subscriber, line_id)
    token = _nonce(nonce)
    if AuditEvent.objects.filter(
        action="care.esim_reissued", object_id=str(line.pk), data__nonce=token
    ).exists():
        return line  # the same form again: re-issued once
    reason = reason.strip()[:200] or _("eSIM re-issued in chat")
    line = line_services.reissue_esim(line, acting_user=agent, reason=reason, now=now)
    record_audit(
        "care.esim_reissued",
        actor=agent,
        target=line,
        new_iccid=line.sim.iccid,
        nonce=token,
        identity_check=check.pk,
        verification_method=check.method,
        conversation=str(conversation.public_id),
    )
    with translation.override(conversation.language):
        text = _(
            "A new eSIM profile is ready for your line ending in %(ending)s. Install it from "
            "the line's eSIM page in your account; the old profile no longer works."
        ) % {"ending": line.msisdn[-4:]}
    system_message(conversation, text, now=now)
    return line
