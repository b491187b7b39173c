"""The agent console: the live queue, a chat with its customer panel, and the agent's actions.

Agents and admins who signed in with their TOTP code only (like the admin);
staff not yet verified are sent to the admin's sign-in; clerks, resellers and
subscribers are refused. A chat the agent may not see is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from simcare.accounts.models import User
from simcare.care import canned, chat_queries, chat_services
from simcare.care.models import AgentProfile, Conversation, ConversationStatus, Team
from simcare.kit.problems import DomainError

View = Callable[..., HttpResponseBase]


def console_view(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user: Any = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
        if user.is_staff and not user.is_verified():
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not chat_queries.is_care_agent(user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _conversation(request: HttpRequest, public_id: object) -> Conversation:
    try:
        return chat_queries.conversation_for_agent(request.user, public_id)
    except Conversation.DoesNotExist:
        raise Http404 from None


def _done(request: HttpRequest, target: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "care-queue"
        return response
    return redirect(target)


def _refused(request: HttpRequest, error: DomainError, target: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    messages.error(request, error.message)
    return redirect(target)


@require_GET
@console_view
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    return render(
        request,
        "care/console/home.html",
        {"profile": chat_queries.profile_of(user), **_queue_context(user)},
    )


def _queue_context(user: Any) -> dict[str, Any]:
    return {"queue": chat_queries.waiting_queue(user), "mine": list(chat_queries.my_chats(user))}


@require_GET
@console_view
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "care/console/_queue.html", _queue_context(request.user))


@require_GET
@console_view
def conversation(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    user: Any = request.user
    values = chat_queries.placeholder_values(chat)
    responses = [
        (response.title, canned.fill(response.body, values))
        for response in chat_queries.canned_responses(chat.language)
    ]
    history = chat_queries.messages_after(chat, include_notes=True)
    return render(
        request,
        "care/console/conversation.html",
        {
            "chat": chat,
            "history": history,
            "last_id": history[-1].id if history else 0,
            "panel": chat_queries.customer_panel(user, chat),
            "verify": _verify_panel(user, chat),
            "canned": responses,
            "agents": AgentProfile.objects.select_related("user").exclude(user=user),
            "teams": Team.objects.all(),
            "is_offered_to_me": chat.status == ConversationStatus.QUEUED
            and chat.offered_to_id in (None, request.user.pk),
            "is_mine": chat.status == ConversationStatus.ACTIVE
            and chat.agent_id == request.user.pk,
        },
    )


def _chat_url(chat: Conversation) -> str:
    return reverse("console:conversation", args=[chat.public_id])


@require_POST
@console_view
def accept(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        chat_services.accept_chat(chat, agent=request.user)  # type: ignore[arg-type]
    except DomainError as error:
        return _refused(request, error, reverse("console:home"))
    return redirect(_chat_url(chat))


@require_POST
@console_view
def decline(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        chat_services.decline_chat(chat, agent=request.user)  # type: ignore[arg-type]
    except DomainError as error:
        return _refused(request, error, reverse("console:home"))
    return _done(request, reverse("console:home"))


@require_POST
@console_view
def send(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    try:
        chat_services.post_agent_message(
            chat,
            agent=request.user,  # type: ignore[arg-type]
            body=request.POST.get("body", ""),
            is_internal=request.POST.get("internal") == "1",
            client_id=request.POST.get("client_id", ""),
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    return _done(request, _chat_url(chat))


@require_POST
@console_view
def transfer(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    to_agent = User.objects.filter(pk=_int(request.POST.get("agent"))).first()
    to_team = Team.objects.filter(pk=_int(request.POST.get("team"))).first()
    try:
        chat_services.transfer_chat(
            chat,
            acting_user=request.user,  # type: ignore[arg-type]
            to_agent=to_agent,
            to_team=None if to_agent else to_team,
        )
    except DomainError as error:
        return _refused(request, error, _chat_url(chat))
    messages.success(request, _("The chat was transferred."))
    return redirect("console:home")


@require_POST
@console_view
def close(request: HttpRequest, public_id: str) -> HttpResponse:
    chat = _conversation(request, public_id)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Give a reason to close the chat."))
        return redirect(_chat_url(chat))
    chat_services.close_chat(chat, acting_user=request.user, reason=reason)  # type: ignore[arg-type]
    messages.success(request, _("The chat is closed."))
    return redirect("console:home")


@require_POST
@console_view
def availability(request: HttpRequest) -> HttpResponse:
    chat_services.set_availability(
        request.user,  # type: ignore[arg-type]
        is_available=request.POST.get("available") == "1",
    )
    return redirect("console:home")


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _verify_panel(user: Any, chat: Conversation) -> Any:
    from simcare.care import verify_views  # imports this module: late

    return verify_views.panel(user, chat)
