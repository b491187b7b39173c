"""Reads of the chat side, with the access check built in.

Agents see the waiting queue and the chats offered to them or theirs; an admin
sees every chat. A visitor sees only the conversation of their own visitor key
(or, signed in, their own account's). Internal notes are for staff only. A chat
someone may not see is reported as not found (Conversation.DoesNotExist, a
404 at the edge), never as forbidden.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import formats

from simcare.accounts.models import Role, Subscriber, User
from simcare.care import hours
from simcare.care.models import (
    AgentProfile,
    CannedResponse,
    ChatAttachment,
    Closure,
    Conversation,
    ConversationStatus,
    Message,
    Sender,
    Team,
)
from simcare.kit.time import local
from simcare.ledger.queries import wallet_balance_cents
from simcare.lines.models import Line, LineState
from simcare.lines.queries import lines_for
from simcare.orders.queries import orders_for

# A visitor keeps talking in a conversation that became a ticket: what they add joins it.
VISITOR_OPEN_STATUSES = (
    ConversationStatus.BOT,
    ConversationStatus.QUEUED,
    ConversationStatus.ACTIVE,
    ConversationStatus.TICKET,
)
RECENT_MESSAGES = 500


def is_care_admin(user: Any) -> bool:
    return bool(
        user.is_authenticated and user.is_active and user.is_staff and user.has_role(Role.ADMIN)
    )


def is_care_agent(user: Any) -> bool:
    """Agents and admins work in the console; clerks, resellers and subscribers do not."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.roles & {str(Role.AGENT), str(Role.ADMIN)}
    )


def schedule_for(team: Team) -> hours.Schedule:
    weekly: dict[int, list[tuple[Any, Any]]] = {}
    for span in team.hours.all():
        weekly.setdefault(span.weekday, []).append((span.opens_at, span.closes_at))
    closures = frozenset(
        Closure.objects.filter(Q(team=team) | Q(team__isnull=True)).values_list("date", flat=True)
    )
    return hours.Schedule(
        time_zone=team.time_zone,
        weekly={day: tuple(spans) for day, spans in weekly.items()},
        province=team.province or None,
        closures=closures,
    )


def agent_loads(agent_ids: list[int]) -> dict[int, int]:
    """Chats each agent holds: accepted and still open, plus offered and unanswered."""
    active = (
        Conversation.objects.filter(status=ConversationStatus.ACTIVE, agent_id__in=agent_ids)
        .values("agent_id")
        .annotate(count=Count("id"))
    )
    offered = (
        Conversation.objects.filter(status=ConversationStatus.QUEUED, offered_to_id__in=agent_ids)
        .values("offered_to_id")
        .annotate(count=Count("id"))
    )
    loads: dict[int, int] = {}
    for agent_row in active:
        loads[agent_row["agent_id"]] = loads.get(agent_row["agent_id"], 0) + agent_row["count"]
    for offer_row in offered:
        agent_id = offer_row["offered_to_id"]
        loads[agent_id] = loads.get(agent_id, 0) + offer_row["count"]
    return loads


def _parse_id(public_id: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(public_id))
    except ValueError:
        raise Conversation.DoesNotExist(public_id) from None


def conversations_for_agent(user: Any) -> QuerySet[Conversation]:
    """The chats `user` may open in the console."""
    rows = Conversation.objects.select_related("user", "subscriber", "agent", "team")
    if not is_care_agent(user):
        return rows.none()
    if is_care_admin(user):
        return rows
    return rows.filter(
        Q(agent=user) | Q(offered_to=user) | Q(status=ConversationStatus.QUEUED, offered_to=None)
    )


def conversation_for_agent(user: Any, public_id: object) -> Conversation:
    return conversations_for_agent(user).get(public_id=_parse_id(public_id))


def conversation_for_visitor(
    *, visitor_key: str | None, user: Any, public_id: object
) -> Conversation:
    """The visitor's conversation: theirs by visitor key, or by their signed-in account."""
    access = Q(pk__in=[])
    if visitor_key:
        access |= Q(visitor_key=visitor_key)
    if user is not None and user.is_authenticated:
        access |= Q(user=user)
    return Conversation.objects.filter(access).get(public_id=_parse_id(public_id))


def messages_after(
    conversation: Conversation, last_seen_id: int = 0, *, include_notes: bool = False
) -> list[Message]:
    rows = conversation.messages.select_related(
        "author", "attachment", "article", "feedback"
    ).filter(id__gt=last_seen_id)
    if not include_notes:
        rows = rows.exclude(sender=Sender.NOTE)
    return list(rows.order_by("id")[:RECENT_MESSAGES] if last_seen_id == 0 else rows.order_by("id"))


def attachment_for(*, message_id: int) -> ChatAttachment:
    return ChatAttachment.objects.select_related("message__conversation").get(message_id=message_id)


def waiting_queue(user: Any) -> list[Conversation]:
    """The waiting chats in queue order (VIP first, then longest wait)."""
    rows = conversations_for_agent(user).filter(status=ConversationStatus.QUEUED)
    return sorted(rows, key=lambda row: (not row.is_vip, row.queued_at or row.created_at, row.id))


def my_chats(user: Any) -> QuerySet[Conversation]:
    return conversations_for_agent(user).filter(status=ConversationStatus.ACTIVE, agent=user)


def profile_of(user: User) -> AgentProfile | None:
    try:
        return user.agent_profile
    except AgentProfile.DoesNotExist:
        return None


def canned_responses(language: str) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(language=language)


@dataclass(frozen=True)
class CustomerPanel:
    subscriber: Subscriber | None
    lines: list[Any]
    wallet_cents: int | None
    orders: list[Any]
    previous: list[Conversation]


def customer_panel(user: Any, conversation: Conversation) -> CustomerPanel:
    """What the agent sees of the customer: lines with buckets, wallet, orders, past chats."""
    subscriber = conversation.subscriber
    if subscriber is None:
        return CustomerPanel(None, [], None, [], [])
    lines = list(lines_for(user).filter(subscriber=subscriber).prefetch_related("buckets")[:10])
    orders = list(orders_for(user).filter(subscriber=subscriber)[:5])
    previous = list(
        Conversation.objects.filter(subscriber=subscriber)
        .exclude(pk=conversation.pk)
        .order_by("-created_at")[:5]
    )
    return CustomerPanel(subscriber, lines, wallet_balance_cents(subscriber), orders, previous)


def placeholder_values(conversation: Conversation) -> dict[str, str]:
    values = {"first_name": "", "msisdn": "", "expiry_date": ""}
    user = conversation.user
    if user is not None:
        values["first_name"] = user.first_name
    if conversation.subscriber_id is not None:
        line = (
            Line.objects.filter(subscriber_id=conversation.subscriber_id)
            .exclude(state=LineState.RECYCLED)
            .order_by("-activated_at", "-id")
            .first()
        )
        if line is not None:
            values["msisdn"] = line.msisdn
            if line.period_end is not None:
                values["expiry_date"] = formats.date_format(local(line.period_end), "DATE_FORMAT")
    if not values["first_name"] and conversation.visitor_name:
        values["first_name"] = conversation.visitor_name.split()[0]
    return values
