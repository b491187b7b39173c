"""Every state change of a ticket: create, reply, note, status, priority, assign, close, the
SLA breach sweep, and the customer's satisfaction rating of a closed chat or ticket.

Due times are stored on the ticket (care/sla.py computes them in the team's business
time) when it is made, and again when its priority changes or a wait on the customer
ends. The `sla` job (care/tasks.py) stamps each breach once, with set-based updates,
and tells the team lead once per breach through the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.aftersales import services as aftersales_services
from simcare.care import attachments, chat_queries, hours, sla
from simcare.care.models import (
    TICKET_CLOCK_STATUSES,
    Conversation,
    ConversationStatus,
    SatisfactionRating,
    Sender,
    SlaPolicy,
    Team,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketSender,
    TicketSource,
    TicketStatus,
)
from simcare.care.ticket_errors import (
    AlreadyEscalated,
    AlreadyRated,
    NotYetClosed,
    RatingRefused,
    TicketChangeRefused,
    TicketClosed,
    TicketRefused,
)
from simcare.notify import services as notify_services
from simcare.notify.models import Channel

MAX_BODY = 10_000
MAX_COMMENT = 2_000
RATING_SALT = "simcare.care.ticket-rating"
# A rating link in the closing email stays good this long.
RATING_LINK_MAX_AGE = dt.timedelta(days=60)


# --- the SLA clock ----------------------------------------------------------------------------


def _schedule(team: Team | None) -> hours.Schedule:
    if team is None:
        return hours.Schedule(time_zone="America/Toronto", weekly={}, province=None)
    return chat_queries.schedule_for(team)


def target_for(priority: str) -> sla.Target:
    policy = SlaPolicy.objects.filter(priority=priority).first()
    if policy is None:
        return sla.DEFAULT_TARGETS[priority]
    return sla.Target(
        policy.first_response_minutes, policy.resolution_minutes, policy.resolution_business_days
    )


def _set_due_times(ticket: Ticket) -> None:
    due = sla.due_times(
        _schedule(ticket.team),
        target_for(ticket.priority),
        created_at=ticket.created_at,
        paused_minutes=ticket.paused_business_minutes,
    )
    ticket.first_response_due_at = due.first_response_due_at
    ticket.resolution_due_at = due.resolution_due_at


def _end_pause(ticket: Ticket, now: dt.datetime) -> None:
    if ticket.pending_since is None:
        return
    ticket.paused_business_minutes += hours.business_minutes_between(
        _schedule(ticket.team), ticket.pending_since, now
    )
    ticket.pending_since = None
    _set_due_times(ticket)


# --- making a ticket --------------------------------------------------------------------------


def _check_text(value: object, limit: int = MAX_BODY) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise TicketRefused()
    return value.strip()


def _subscriber_of(user: User | None) -> Subscriber | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.subscriber
    except Subscriber.DoesNotExist:
        return None


def _attach(message: TicketMessage, attachment: attachments.CheckedFile | None) -> None:
    if attachment is None:
        return
    message.attachment.save(attachment.name, ContentFile(attachment.content), save=False)
    message.attachment_name = attachment.name
    message.attachment_content_type = attachment.content_type
    message.save(update_fields=["attachment", "attachment_name", "attachment_content_type"])


@transaction.atomic
def create_ticket(
    *,
    source: str,
    subject: str,
    body: str,
    actor: User | None,
    user: User | None = None,
    requester_name: str = "",
    requester_email: str = "",
    language: str = "en",
    priority: str | None = None,
    category: str = "",
    team: Team | None = None,
    conversation: Conversation | None = None,
    attachment: attachments.CheckedFile | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """A new ticket with the customer's first message and its SLA due times.

    Every source goes through here: an out-of-hours chat, a chat an agent escalates, the
    web form, email and the hotline's voicemail (source "phone"). Without a priority, a
    VIP subscriber's ticket is VIP and any other is normal; without a team, the default
    team takes it."""
    if source not in TicketSource.values:
        raise TicketRefused()
    if priority is not None and priority not in TicketPriority.values:
        raise TicketChangeRefused()
    text = _check_text(body)
    subject = (subject or text).strip()[:200]
    now = now or timezone.now()
    subscriber = _subscriber_of(user)
    if priority is None:
        priority = TicketPriority.VIP if subscriber and subscriber.is_vip else TicketPriority.NORMAL
    ticket = Ticket(
        source=source,
        status=TicketStatus.NEW,
        subject=subject,
        conversation=conversation,
        team=team or Team.objects.filter(is_default=True).first(),
        created_at=now,
        category=category[:40],
        priority=priority,
        language=language if language in dict(settings.LANGUAGES) else "en",
        user=user if user is not None and user.is_authenticated else None,
        subscriber=subscriber,
        requester_name=requester_name.strip()[:120],
        requester_email=requester_email.strip()[:254],
    )
    _set_due_times(ticket)
    ticket.save()
    ticket.number = ticket.pk
    ticket.save(update_fields=["number"])
    message = TicketMessage.objects.create(
        ticket=ticket,
        sender=TicketSender.CUSTOMER,
        author=ticket.user,
        body=text,
        created_at=now,
    )
    _attach(message, attachment)
    record_audit("care.ticket_created", actor=actor, target=ticket, source=source)
    return ticket


@transaction.atomic
def escalate_conversation(
    conversation: Conversation,
    *,
    actor: User,
    subject: str = "",
    priority: str | None = None,
    now: dt.datetime | None = None,
) -> Ticket:
    """An agent turns a chat into a ticket: its visitor messages become the first message."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if Ticket.objects.filter(conversation=conversation).exists():
        raise AlreadyEscalated()
    lines = list(conversation.messages.filter(sender=Sender.VISITOR).values_list("body", flat=True))
    body = "\n".join(lines)[:MAX_BODY] or subject
    if priority is None and conversation.is_vip:
        priority = TicketPriority.VIP
    ticket = create_ticket(
        source=TicketSource.ESCALATED,
        subject=subject or (lines[0] if lines else ""),
        body=body,
        actor=actor,
        user=conversation.user,
        requester_name=conversation.visitor_name,
        requester_email=conversation.visitor_contact if "@" in conversation.visitor_contact else "",
        language=conversation.language,
        priority=priority,
        team=conversation.team,
        conversation=conversation,
        now=now,
    )
    ticket.assignee = actor
    ticket.save(update_fields=["assignee"])
    return ticket


# --- working a ticket -------------------------------------------------------------------------


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _notify_customer(ticket: Ticket, template: str, context: dict[str, Any], key: str) -> None:
    """Email the requester: their account, or the address a visitor gave on the form."""
    full_context = {
        "ticket_number": ticket.number,
        "subject": ticket.subject,
        "has_account": ticket.user is not None,
        **context,
    }
    if ticket.user is not None:
        notify_services.enqueue(
            template,
            recipient=ticket.user,
            channels=(Channel.EMAIL,),
            context=full_context,
            dedupe_key=key,
        )
    elif ticket.requester_email:
        notify_services.enqueue_email_to_address(
            template,
            email=ticket.requester_email,
            language=ticket.language,
            context=full_context,
            dedupe_key=key,
        )


@transaction.atomic
def reply(
    ticket: Ticket,
    *,
    actor: User | None,
    body: object,
    sender: str,
    is_internal: bool = False,
    attachment: attachments.CheckedFile | None = None,
    now: dt.datetime | None = None,
) -> TicketMessage:
    """Add to the thread. An agent's first public reply is the first response (a new ticket
    becomes open); the customer's reply to a ticket waiting on them (or resolved) opens it
    again, and the wait stops counting against the SLA."""
    text = _check_text(body)
    now = now or timezone.now()
    ticket = _locked(ticket)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketClosed()
    if sender not in (TicketSender.CUSTOMER, TicketSender.AGENT):
        raise TicketChangeRefused()
    is_internal = is_internal and sender == TicketSender.AGENT
    message = TicketMessage.objects.create(
        ticket=ticket,
        sender=sender,
        author=actor,
        body=text,
        is_internal=is_internal,
        created_at=now,
    )
    _attach(message, attachment)
    fields: list[str] = []
    if sender == TicketSender.AGENT and not is_internal:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        if ticket.status == TicketStatus.NEW:
            ticket.status = TicketStatus.OPEN
            fields.append("status")
        _notify_customer(
            ticket, "care.ticket_reply", {"reply": text}, f"care.ticket_reply:{message.pk}"
        )
    if sender == TicketSender.CUSTOMER and ticket.status in (
        TicketStatus.PENDING_CUSTOMER,
        TicketStatus.RESOLVED,
    ):
        _end_pause(ticket, now)
        ticket.status = TicketStatus.OPEN
        ticket.resolved_at = None
        fields += [
            "status",
            "resolved_at",
            "pending_since",
            "paused_business_minutes",
            "first_response_due_at",
            "resolution_due_at",
        ]
    if fields:
        ticket.save(update_fields=sorted(set(fields)))
    if is_internal:
        record_audit("care.ticket_note", actor=actor, target=ticket)
    return message


@transaction.atomic
def set_status(
    ticket: Ticket, *, actor: User, status: str, now: dt.datetime | None = None
) -> Ticket:
    """Move the ticket: waiting on the customer pauses the SLA clock, leaving the wait
    restarts it with the due times moved by the wait; resolved stops it; closing is close()."""
    if status == TicketStatus.CLOSED:
        return close(ticket, actor=actor, now=now)
    if status not in TicketStatus.values:
        raise TicketChangeRefused()
    now = now or timezone.now()
    ticket = _locked(ticket)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketClosed()
    previous = ticket.status
    if previous == status:
        return ticket
    if previous == TicketStatus.PENDING_CUSTOMER:
        _end_pause(ticket, now)
    if status == TicketStatus.PENDING_CUSTOMER:
        ticket.pending_since = now
    ticket.resolved_at = now if status == TicketStatus.RESOLVED else None
    ticket.status = status
    ticket.save()
    record_audit("care.ticket_status", actor=actor, target=ticket, previous=previous, status=status)
    return ticket


@transaction.atomic
def set_priority(
    ticket: Ticket, *, actor: User, priority: str, now: dt.datetime | None = None
) -> Ticket:
    """A new priority brings its SLA targets: both due times are computed again from the
    ticket's creation (with the waits on the customer added)."""
    if priority not in TicketPriority.values:
        raise TicketChangeRefused()
    ticket = _locked(ticket)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketClosed()
    previous = ticket.priority
    if previous == priority:
        return ticket
    ticket.priority = priority
    _set_due_times(ticket)
    ticket.save(update_fields=["priority", "first_response_due_at", "resolution_due_at"])
    record_audit(
        "care.ticket_priority", actor=actor, target=ticket, previous=previous, priority=priority
    )
    return ticket


@transaction.atomic
def assign(ticket: Ticket, *, actor: User, assignee: User | None) -> Ticket:
    """Give the ticket to an agent (or to nobody)."""
    if assignee is not None and not chat_queries.is_care_agent(assignee):
        raise TicketChangeRefused()
    ticket = _locked(ticket)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketClosed()
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee"])
    record_audit(
        "care.ticket_assigned",
        actor=actor,
        target=ticket,
        assignee=assignee.pk if assignee else None,
    )
    return ticket


def rating_token(ticket: Ticket) -> str:
    return signing.dumps({"ticket": ticket.pk}, salt=RATING_SALT)


def ticket_from_rating_token(token: str) -> Ticket:
    """The ticket a rating link is for; Ticket.DoesNotExist for a bad or expired link."""
    try:
        data = signing.loads(token, salt=RATING_SALT, max_age=RATING_LINK_MAX_AGE)
    except signing.BadSignature:
        raise Ticket.DoesNotExist(token) from None
    if not isinstance(data, dict) or not isinstance(data.get("ticket"), int):
        raise Ticket.DoesNotExist(token)
    return Ticket.objects.select_related("team", "assignee").get(pk=data["ticket"])


def rating_url(ticket: Ticket) -> str:
    with translation.override(ticket.language):
        path = reverse("care:rate_ticket", args=[rating_token(ticket)])
    return settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/") + path


@transaction.atomic
def close(ticket: Ticket, *, actor: User | None, now: dt.datetime | None = None) -> Ticket:
    """Close the ticket (once): the customer is asked for a rating by a signed link, and the
    after-sales app may ask them for a review of our support."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if ticket.status == TicketStatus.CLOSED:
        return ticket
    if ticket.status == TicketStatus.PENDING_CUSTOMER:
        _end_pause(ticket, now)
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.resolved_at = ticket.resolved_at or now
    ticket.save()
    record_audit("care.ticket_closed", actor=actor, target=ticket)
    _notify_customer(
        ticket,
        "care.ticket_rating",
        {"rating_url": rating_url(ticket)},
        f"care.ticket_rating:{ticket.pk}",
    )
    if ticket.subscriber is not None:
        aftersales_services.request_review_after_ticket(
            ticket.subscriber, ticket_id=ticket.pk, now=now
        )
    return ticket


# --- the SLA sweep ----------------------------------------------------------------------------


def _breach_sweep(field: str, due: Q, now: dt.datetime) -> list[Ticket]:
    candidates = Ticket.objects.filter(due, **{f"{field}__isnull": True})
    ids = list(
        candidates.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)
    )
    if not ids:
        return []
    # Only rows still unstamped: a second run (or a concurrent one) stamps nothing again.
    Ticket.objects.filter(pk__in=ids, **{f"{field}__isnull": True}).update(**{field: now})
    return list(Ticket.objects.filter(pk__in=ids, **{field: now}).select_related("team__lead"))


@transaction.atomic
def mark_breaches(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The `sla` job: stamp every first-response and resolution breach once and tell the
    team lead once per breach. A ticket waiting on the customer is not late."""
    now = now or timezone.now()
    running = Q(status__in=TICKET_CLOCK_STATUSES)
    first = _breach_sweep(
        "first_response_breached_at",
        running & Q(first_response_at__isnull=True, first_response_due_at__lt=now),
        now,
    )
    resolution = _breach_sweep(
        "resolution_breached_at", running & Q(resolution_due_at__lt=now), now
    )
    notified = 0
    for kind, rows in (("first_response", first), ("resolution", resolution)):
        for ticket in rows:
            lead = ticket.team.lead if ticket.team is not None else None
            if lead is None or not lead.is_active:
                continue
            notify_services.enqueue(
                "care.sla_breach",
                recipient=lead,
                channels=(Channel.EMAIL,),
                context={
                    "ticket_number": ticket.number,
                    "subject": ticket.subject,
                    "kind": kind,
                    "priority": ticket.priority,
                    "due_at": (
                        ticket.first_response_due_at
                        if kind == "first_response"
                        else ticket.resolution_due_at
                    ),
                },
                dedupe_key=f"care.sla_breach:{ticket.pk}:{kind}",
                now=now,
            )
            notified += 1
    return {"first_response": len(first), "resolution": len(resolution), "notified": notified}


# --- satisfaction ratings ---------------------------------------------------------------------


def _check_rating(score: object, comment: object) -> tuple[int, str]:
    try:
        value = int(str(score))
    except ValueError:
        raise RatingRefused() from None
    text = comment if isinstance(comment, str) else ""
    if not 1 <= value <= 5 or len(text) > MAX_COMMENT:
        raise RatingRefused()
    return value, text.strip()


def _store_rating(**fields: Any) -> SatisfactionRating:
    try:
        with transaction.atomic():
            return SatisfactionRating.objects.create(**fields)
    except IntegrityError:
        raise AlreadyRated() from None


@transaction.atomic
def rate_conversation(
    conversation: Conversation,
    *,
    score: object,
    comment: object = "",
    now: dt.datetime | None = None,
) -> SatisfactionRating:
    """The visitor's rating of their closed chat, once."""
    value, text = _check_rating(score, comment)
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conversation.status != ConversationStatus.CLOSED:
        raise NotYetClosed()
    if SatisfactionRating.objects.filter(conversation=conversation).exists():
        raise AlreadyRated()
    return _store_rating(
        conversation=conversation,
        agent=conversation.agent,
        team=conversation.team,
        language=conversation.language,
        score=value,
        comment=text,
        created_at=now or timezone.now(),
    )


@transaction.atomic
def rate_ticket(
    ticket: Ticket, *, score: object, comment: object = "", now: dt.datetime | None = None
) -> SatisfactionRating:
    """The requester's rating of their closed ticket, once (from the signed link)."""
    value, text = _check_rating(score, comment)
    ticket = _locked(ticket)
    if ticket.status != TicketStatus.CLOSED:
        raise NotYetClosed()
    if SatisfactionRating.objects.filter(ticket=ticket).exists():
        raise AlreadyRated()
    return _store_rating(
        ticket=ticket,
        agent=ticket.assignee,
        team=ticket.team,
        language=ticket.language,
        score=value,
        comment=text,
        created_at=now or timezone.now(),
    )
