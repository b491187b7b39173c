"""Reads of tickets, with the access check built in.

Agents and admins see every ticket in the console; a customer sees only the tickets of
their own account, and internal notes never. A ticket someone may not see is reported
as not found (Ticket.DoesNotExist, a 404 at the edge).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from simcare.care import chat_queries
from simcare.care.models import Ticket, TicketMessage, TicketPriority, TicketStatus


def tickets_for_agent(user: Any) -> QuerySet[Ticket]:
    rows = Ticket.objects.select_related("assignee", "team", "user")
    if not chat_queries.is_care_agent(user):
        return rows.none()
    return rows


def ticket_for_agent(user: Any, number: int) -> Ticket:
    return tickets_for_agent(user).get(number=number)


def filtered_tickets(user: Any, params: Any) -> QuerySet[Ticket]:
    """The console list: ?status=…&priority=…&assignee=me|none|<id>&breached=1."""
    rows = tickets_for_agent(user)
    status = params.get("status", "")
    if status in TicketStatus.values:
        rows = rows.filter(status=status)
    elif status != "all":
        rows = rows.exclude(status=TicketStatus.CLOSED)
    priority = params.get("priority", "")
    if priority in TicketPriority.values:
        rows = rows.filter(priority=priority)
    assignee = params.get("assignee", "")
    if assignee == "me":
        rows = rows.filter(assignee=user)
    elif assignee == "none":
        rows = rows.filter(assignee__isnull=True)
    elif assignee.isdigit():
        rows = rows.filter(assignee_id=int(assignee))
    if params.get("breached") == "1":
        rows = rows.filter(
            Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        )
    return rows.order_by("resolution_due_at", "id")


def tickets_of_customer(user: Any) -> QuerySet[Ticket]:
    if not user.is_authenticated:
        return Ticket.objects.none()
    return Ticket.objects.filter(user=user).order_by("-created_at", "-id")


def ticket_of_customer(user: Any, number: int) -> Ticket:
    return tickets_of_customer(user).get(number=number)


def thread(ticket: Ticket, *, include_notes: bool) -> list[TicketMessage]:
    rows = ticket.messages.select_related("author")
    if not include_notes:
        rows = rows.filter(is_internal=False)
    return list(rows.order_by("id"))
