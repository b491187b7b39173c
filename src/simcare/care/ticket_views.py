"""The customer's side of tickets, under /<lang>/help/: the "contact us" form (anonymous
visitors with a name and email, or a signed-in subscriber), "my tickets" with replies
for a signed-in subscriber (another person's ticket is a 404), and the rating page a
closed ticket's email links to (a signed link: no sign-in needed)."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from simcare.care import chat_services, ticket_queries, ticket_services
from simcare.care.models import SatisfactionRating, Ticket, TicketSender, TicketSource
from simcare.care.ticket_console_views import attachment_response, checked_upload
from simcare.kit.problems import DomainError

# The form is open to anyone: an address may file this many tickets an hour.
CONTACT_PER_HOUR = 10
CATEGORIES = (
    ("", gettext_lazy("Choose a topic")),
    ("plans", gettext_lazy("Plans and renewals")),
    ("payments", gettext_lazy("Payments and refunds")),
    ("esim", gettext_lazy("SIM and eSIM")),
    ("coverage", gettext_lazy("Coverage and roaming")),
    ("other", gettext_lazy("Something else")),
)


class ContactForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Your name"), max_length=120, required=False)
    email = forms.EmailField(label=gettext_lazy("Your email"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Topic"), choices=CATEGORIES, required=False)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    body = forms.CharField(
        label=gettext_lazy("Your message"), max_length=10_000, widget=forms.Textarea
    )
    attachment = forms.FileField(
        label=gettext_lazy("Attachment (image or PDF, optional)"), required=False
    )

    def __init__(self, *args: Any, signed_in: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if signed_in:
            del self.fields["name"]
            del self.fields["email"]
        else:
            self.fields["name"].required = True
            self.fields["email"].required = True


def _within_contact_limit(request: HttpRequest) -> bool:
    hour = int(time.time() // 3600)
    key = f"care:contact:{request.META.get('REMOTE_ADDR', '')}:{hour}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= CONTACT_PER_HOUR


def _language() -> str:
    return chat_services.supported_language(get_language()) or "en"


@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    signed_in = bool(user.is_authenticated and not user.is_staff)
    form = ContactForm(request.POST or None, request.FILES or None, signed_in=signed_in)
    if request.method == "POST" and form.is_valid():
        if not _within_contact_limit(request):
            form.add_error(None, _("Too many messages from your address. Try again in an hour."))
            return render(request, "care/contact.html", {"form": form}, status=429)
        data = form.cleaned_data
        try:
            ticket = ticket_services.create_ticket(
                source=TicketSource.WEB,
                subject=data["subject"],
                body=data["body"],
                actor=user if signed_in else None,
                user=user if signed_in else None,
                requester_name=data.get("name", ""),
                requester_email=data.get("email", ""),
                language=_language(),
                category=data.get("category", ""),
                attachment=checked_upload(data.get("attachment")),
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            return render(request, "care/contact_done.html", {"ticket": ticket})
    # A refused form is a normal answer to a person: 200 with the errors (docs/decisions.md).
    return render(request, "care/contact.html", {"form": form})


@require_GET
@login_required
def my_tickets(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "care/my_tickets.html",
        {"tickets": list(ticket_queries.tickets_of_customer(request.user)[:200])},
    )


def _own_ticket(request: HttpRequest, number: int) -> Ticket:
    try:
        return ticket_queries.ticket_of_customer(request.user, number)
    except Ticket.DoesNotExist:
        raise Http404 from None


@require_http_methods(["GET", "POST"])
@login_required
def my_ticket(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _own_ticket(request, number)
    if request.method == "POST":
        try:
            ticket_services.reply(
                ticket,
                actor=request.user,  # type: ignore[arg-type]
                body=request.POST.get("body", ""),
                sender=TicketSender.CUSTOMER,
                attachment=checked_upload(request.FILES.get("attachment")),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your reply was sent."))
        return redirect("care:my_ticket", number=ticket.number)
    return render(
        request,
        "care/my_ticket.html",
        {"ticket": ticket, "thread": ticket_queries.thread(ticket, include_notes=False)},
    )


@require_GET
@login_required
def my_ticket_attachment(request: HttpRequest, number: int, message_id: int) -> FileResponse:
    return attachment_response(_own_ticket(request, number), message_id, include_notes=False)


@require_http_methods(["GET", "POST"])
def rate_ticket(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ticket = ticket_services.ticket_from_rating_token(token)
    except Ticket.DoesNotExist:
        raise Http404 from None
    rating = SatisfactionRating.objects.filter(ticket=ticket).first()
    context: dict[str, Any] = {"ticket": ticket, "rating": rating, "scores": range(1, 6)}
    if request.method == "POST":
        try:
            context["rating"] = ticket_services.rate_ticket(
                ticket, score=request.POST.get("score", ""), comment=request.POST.get("comment", "")
            )
            context["thanks"] = True
        except DomainError as error:
            context["error"] = error.message
    return render(request, "care/rate.html", context)
