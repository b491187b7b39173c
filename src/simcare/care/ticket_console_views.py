"""The console's tickets: the list with filters and SLA badges, a ticket with its thread and
the agent's actions, and "escalate to a ticket" on a chat. Same gate as the chat console
(agents and admins after TOTP); a ticket that does not exist is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from simcare.accounts.models import User
from simcare.care import attachments, ticket_queries, ticket_services
from simcare.care.console_views import _conversation, console_view
from simcare.care.models import (
    AgentProfile,
    Ticket,
    TicketPriority,
    TicketSender,
    TicketStatus,
)
from simcare.care.ticket_errors import TicketRefused
from simcare.kit.problems import DomainError

LIST_LIMIT = 200


def _ticket(request: HttpRequest, number: int) -> Ticket:
    try:
        return ticket_queries.ticket_for_agent(request.user, number)
    except Ticket.DoesNotExist:
        raise Http404 from None


def _url(ticket: Ticket) -> str:
    return reverse("console:ticket", args=[ticket.number])


def checked_upload(upload: UploadedFile[Any] | None) -> attachments.CheckedFile | None:
    """The uploaded image or PDF, checked by content; TicketRefused with the reason if not."""
    if upload is None:
        return None
    if upload.size is None or upload.size > attachments.MAX_BYTES:
        raise TicketRefused(_("Attach an image or a PDF of at most 5 MB."))
    try:
        return attachments.check(upload.name or "attachment", upload.read())
    except attachments.NotAllowed:
        raise TicketRefused(_("Attach an image or a PDF of at most 5 MB.")) from None


@require_GET
@console_view
def tickets(request: HttpRequest) -> HttpResponse:
    rows = list(ticket_queries.filtered_tickets(request.user, request.GET)[:LIST_LIMIT])
    return render(
        request,
        "care/console/tickets.html",
        {
            "tickets": rows,
            "now": timezone.now(),
            "statuses": TicketStatus.choices,
            "priorities": TicketPriority.choices,
            "agents": AgentProfile.objects.select_related("user").order_by("user__username"),
            "filters": {
                key: request.GET.get(key, "")
                for key in ("status", "priority", "assignee", "breached")
            },
        },
    )


@require_GET
@console_view
def ticket(request: HttpRequest, number: int) -> HttpResponse:
    row = _ticket(request, number)
    return render(
        request,
        "care/console/ticket.html",
        {
            "ticket": row,
            "thread": ticket_queries.thread(row, include_notes=True),
            "now": timezone.now(),
            "statuses": [choice for choice in TicketStatus.choices if choice[0] != "closed"],
            "priorities": TicketPriority.choices,
            "agents": AgentProfile.objects.select_related("user").order_by("user__username"),
        },
    )


@require_POST
@console_view
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    row = _ticket(request, number)
    try:
        ticket_services.reply(
            row,
            actor=request.user,  # type: ignore[arg-type]
            body=request.POST.get("body", ""),
            sender=TicketSender.AGENT,
            is_internal=request.POST.get("internal") == "1",
            attachment=checked_upload(request.FILES.get("attachment")),
        )
    except DomainError as error:
        messages.error(request, error.message)
    return redirect(_url(row))


@require_POST
@console_view
def ticket_update(request: HttpRequest, number: int) -> HttpResponse:
    row = _ticket(request, number)
    actor: Any = request.user
    try:
        if "status" in request.POST:
            row = ticket_services.set_status(row, actor=actor, status=request.POST["status"])
        if "priority" in request.POST:
            row = ticket_services.set_priority(row, actor=actor, priority=request.POST["priority"])
        if "assignee" in request.POST:
            value = request.POST["assignee"]
            assignee = User.objects.filter(pk=int(value)).first() if value.isdigit() else None
            if value and assignee is None:
                raise TicketRefused(_("This change is not possible for this ticket."))
            row = ticket_services.assign(row, actor=actor, assignee=assignee)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(_url(row))
    messages.success(request, _("The ticket was updated."))
    return redirect(_url(row))


@require_POST
@console_view
def ticket_close(request: HttpRequest, number: int) -> HttpResponse:
    row = _ticket(request, number)
    ticket_services.close(row, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("The ticket is closed."))
    return redirect(_url(row))


@require_GET
@console_view
def ticket_attachment(request: HttpRequest, number: int, message_id: int) -> FileResponse:
    row = _ticket(request, number)
    return attachment_response(row, message_id, include_notes=True)


def attachment_response(ticket: Ticket, message_id: int, *, include_notes: bool) -> FileResponse:
    rows = ticket.messages.exclude(attachment="")
    if not include_notes:
        rows = rows.filter(is_internal=False)
    message = rows.filter(pk=message_id).first()
    if message is None:
        raise Http404
    response = FileResponse(
        message.attachment.open("rb"),
        as_attachment=True,
        filename=message.attachment_name,
        content_type=message.attachment_content_type,
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
@console_view
def escalate(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    priority = request.POST.get("priority") or None
    try:
        row = ticket_services.escalate_conversation(
            chat,
            actor=request.user,  # type: ignore[arg-type]
            subject=request.POST.get("subject", "").strip(),
            priority=priority,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(reverse("console:conversation", args=[chat.public_id]))
    messages.success(request, _("The chat is now ticket #%(number)s.") % {"number": row.number})
    return redirect(_url(row))
