"""The console's identity checks and account actions (customer panel of a chat).

Every view takes the chat through the console's own access check (another agent's chat
is a 404) and acts only through care/verification.py and care/account_actions.py, which
refuse without a valid check bound to the chat; a refusal is a translated message and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from simcare.care import account_actions, verification
from simcare.care.console_views import _chat_url, _conversation, _refused, console_view
from simcare.care.models import Conversation, IdentityCheck
from simcare.kit.problems import DomainError
from simcare.lines.models import Line, LineState, SimKind
from simcare.notify.models import Channel
from simcare.orders import pricing


@dataclass(frozen=True)
class LineAction:
    line: Line
    quote: pricing.Quote | None
    refusal: str
    is_esim: bool


@dataclass(frozen=True)
class VerifyPanel:
    serving: bool
    valid: IdentityCheck | None
    latest: IdentityCheck | None
    pending: IdentityCheck | None
    locked: bool
    destinations: list[tuple[str, str]]
    lines: list[LineAction]
    nonce: str
    has_document: bool
    document_masked: str


def panel(user: Any, chat: Conversation, *, now: dt.datetime | None = None) -> VerifyPanel | None:
    """What the customer panel shows of identity checks and actions, for a linked chat."""
    subscriber = chat.subscriber
    if subscriber is None:
        return None
    now = now or timezone.now()
    valid = verification.valid_check(chat, now=now)
    lines: list[LineAction] = []
    if valid is not None:
        for line in (
            Line.objects.select_related("plan")
            .filter(subscriber=subscriber)
            .exclude(state=LineState.RECYCLED)
        ):
            try:
                quote, refusal = account_actions.renewal_quote(chat, line), ""
            except DomainError as error:
                quote, refusal = None, error.message
            lines.append(LineAction(line, quote, refusal, line.kind == SimKind.ESIM))
    return VerifyPanel(
        serving=verification.serves(chat, user),
        valid=valid,
        latest=verification.latest_check(chat),
        pending=verification.pending_code_check(chat, now=now),
        locked=verification.is_locked(subscriber.pk, now=now),
        destinations=verification.destinations(chat),
        lines=lines,
        nonce=secrets.token_urlsafe(16),
        has_document=bool(subscriber.id_document_number),
        document_masked=subscriber.id_document_number_masked,
    )


def _done(request: HttpRequest, chat: Conversation, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(_chat_url(chat))


@require_POST
@console_view
def send_code(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    choice = request.POST.get("destination", "")
    line = None
    channel: str = Channel.EMAIL if choice == "email" else Channel.SMS
    if choice.startswith("line:"):
        line = Line.objects.filter(pk=_int(choice.removeprefix("line:"))).first()
    elif choice != "email":
        channel = ""
    try:
        verification.start_code_check(chat, agent=request.user, channel=channel, line=line)  # type: ignore[arg-type]
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, chat, _("The code is on its way. The customer enters it in the chat."))


@sensitive_post_parameters("pin", "date_of_birth")
@require_POST
@console_view
def check_pin(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        birth = dt.date.fromisoformat(request.POST.get("date_of_birth", "").strip())
    except ValueError:
        birth = None
    try:
        check = verification.check_pin_and_birth_date(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            pin=request.POST.get("pin", "").strip(),
            date_of_birth=birth,
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    if check.bound_until is None:
        messages.error(request, _("The PIN or the date of birth is not right."))
        return redirect(_chat_url(chat))
    return _done(request, chat, _("Identity confirmed."))


@require_POST
@console_view
def renew(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        order = account_actions.renew_for_customer(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            line_id=request.POST.get("line"),
            nonce=request.POST.get("nonce"),
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, chat, _("Renewed: order #%(number)s.") % {"number": order.pk})


@never_cache
@require_POST
@console_view
def reveal_document(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        number = account_actions.reveal_document_number(chat, agent=request.user)  # type: ignore[arg-type]
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    subscriber = chat.subscriber
    if subscriber is None:  # unlinked while we read: nothing was shown
        raise Http404
    return render(
        request,
        "care/console/document.html",
        {"chat": chat, "subscriber": subscriber, "number": number},
    )


@require_POST
@console_view
def swap_sim(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        account_actions.swap_sim_for_customer(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            line_id=request.POST.get("line"),
            iccid=request.POST.get("iccid", ""),
            reason=request.POST.get("reason", ""),
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, chat, _("The line is on the new SIM card."))


@require_POST
@console_view
def reissue_esim(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        account_actions.reissue_esim_for_customer(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            line_id=request.POST.get("line"),
            nonce=request.POST.get("nonce"),
            reason=request.POST.get("reason", ""),
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, chat, _("A new eSIM profile was issued."))


@require_POST
@console_view
def link_customer(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        verification.link_customer(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            contact=request.POST.get("contact", ""),
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, chat, _("The chat is linked to this account: verify the customer."))


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
