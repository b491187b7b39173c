"""Every state change of a chat: open, post, bot reply, hand-off, queue, offer, accept,
transfer, notes, close, availability, transcript by email.

Each message is stored in the caller's transaction and published to connected
clients only after it commits (care/relay.py), so nothing a client saw can be
lost, and a reconnecting client asks for what came after the last id it saw.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.care import (
    attachments,
    bot_adapter,
    chat_queries,
    hours,
    relay,
    routing,
    ticket_services,
    transcripts,
)
from simcare.care.chat_errors import (
    AttachmentRefused,
    ConversationClosed,
    MessageRefused,
    NotOffered,
    TranscriptNotEmailed,
    TransferRefused,
)
from simcare.care.models import (
    AgentProfile,
    Article,
    ArticleFeedback,
    ChatAttachment,
    Conversation,
    ConversationStatus,
    Message,
    Sender,
    Team,
    TicketSource,
)
from simcare.kit.time import business_zone
from simcare.notify import services as notify_services
from simcare.notify.models import Channel, Notification

MAX_MESSAGE_LENGTH = 10_000
LANGUAGES = ("zh-hans", "en", "fr")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def supported_language(language: str | None) -> str | None:
    if not language:
        return None
    code = language.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-hans"
    code = code.split("-")[0]
    return code if code in LANGUAGES else None


def detect_language(text: str) -> str | None:
    """zh-hans when the text has Han characters; otherwise unknown (None)."""
    return "zh-hans" if _HAN.search(text) else None


def _subscriber_of(user: User | None) -> Subscriber | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.subscriber
    except Subscriber.DoesNotExist:
        return None


def _publish_on_commit(*messages: Message, conversation: Conversation | None = None) -> None:
    for message in messages:
        transaction.on_commit(functools.partial(relay.publish_message, message))
    if conversation is not None:
        snapshot = Conversation(
            pk=conversation.pk,
            public_id=conversation.public_id,
            status=conversation.status,
            agent_id=conversation.agent_id,
            offered_to_id=conversation.offered_to_id,
        )
        transaction.on_commit(lambda: relay.publish_conversation(snapshot))


def _store(
    conversation: Conversation,
    sender: str,
    body: str,
    *,
    author: User | None = None,
    client_id: str = "",
    article: Article | None = None,
    now: dt.datetime,
) -> Message:
    message = Message.objects.create(
        conversation=conversation,
        sender=sender,
        author=author,
        body=body,
        client_id=client_id,
        article=article,
        created_at=now,
    )
    _publish_on_commit(message)
    return message


def _system(conversation: Conversation, text: str, *, now: dt.datetime) -> Message:
    return _store(conversation, Sender.SYSTEM, text, now=now)


def _check_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_MESSAGE_LENGTH:
        raise MessageRefused()
    return body


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


# --- the visitor's side --------------------------------------------------------------------


@transaction.atomic
def open_conversation(
    *,
    visitor_key: str,
    user: User | None,
    language: str | None,
    name: str = "",
    contact: str = "",
    now: dt.datetime | None = None,
) -> Conversation:
    """The visitor's open conversation, or a new one with the bot. A signed-in subscriber's
    chat is linked to their account (and VIP status) the first time they are seen in it,
    and found again from any device they sign in on."""
    now = now or timezone.now()
    subscriber = _subscriber_of(user)
    open_rows = Conversation.objects.select_for_update().filter(
        status__in=chat_queries.VISITOR_OPEN_STATUSES
    )
    conversation = open_rows.filter(visitor_key=visitor_key).order_by("-id").first()
    if conversation is None and subscriber is not None:
        # The same subscriber on another device or browser continues their open chat.
        conversation = open_rows.filter(subscriber=subscriber).order_by("-id").first()
    if conversation is None:
        team = Team.objects.filter(is_default=True).first()
        return Conversation.objects.create(
            visitor_key=visitor_key,
            user=user if subscriber is not None else None,
            subscriber=subscriber,
            is_vip=bool(subscriber and subscriber.is_vip),
            visitor_name=name[:120],
            visitor_contact=contact[:254],
            language=supported_language(language)
            or supported_language(user.language if subscriber and user else None)
            or "en",
            team=team,
            created_at=now,
        )
    if subscriber is not None and conversation.subscriber_id is None:
        conversation.user = user
        conversation.subscriber = subscriber
        conversation.is_vip = subscriber.is_vip
        conversation.save(update_fields=["user", "subscriber", "is_vip"])
    return conversation


@transaction.atomic
def post_visitor_message(
    conversation: Conversation,
    *,
    body: object,
    client_id: str = "",
    language_was_chosen: bool = True,
    now: dt.datetime | None = None,
) -> list[Message]:
    """Store the visitor's message and what it causes (the bot's answer, a hand-off);
    returns the new messages in order. The same client_id twice stores the message once."""
    text = _check_body(body)
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationClosed()
    client_id = client_id[:64] if isinstance(client_id, str) else ""
    if client_id and conversation.messages.filter(client_id=client_id).exists():
        return []
    if not language_was_chosen and not conversation.messages.filter(sender=Sender.VISITOR).exists():
        detected = detect_language(text)
        if detected and detected != conversation.language:
            conversation.language = detected
            conversation.save(update_fields=["language"])
    stored = [_store(conversation, Sender.VISITOR, text, client_id=client_id, now=now)]
    if conversation.status != ConversationStatus.BOT:
        return stored
    reply = bot_adapter.reply_to(text, language=conversation.language, user=conversation.user)
    article = (
        Article.objects.filter(slug=reply.slug).first()
        if reply.slug and not reply.handoff
        else None
    )
    stored.append(_store(conversation, Sender.BOT, reply.text, article=article, now=now))
    if reply.handoff:
        stored += _hand_off(conversation, now=now)
    return stored


@transaction.atomic
def post_visitor_attachment(
    conversation: Conversation,
    *,
    name: str,
    data: bytes,
    client_id: str = "",
    now: dt.datetime | None = None,
) -> Message:
    """Store a visitor's image or PDF after checking it by content (care/attachments.py);
    the bot does not read files, so it goes to whoever serves the chat."""
    try:
        checked = attachments.check(name, data)
    except attachments.NotAllowed:
        raise AttachmentRefused() from None
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationClosed()
    client_id = client_id[:64] if isinstance(client_id, str) else ""
    if client_id:
        existing = conversation.messages.filter(client_id=client_id).first()
        if existing is not None:
            return existing
    message = Message.objects.create(
        conversation=conversation,
        sender=Sender.VISITOR,
        body=checked.name,
        client_id=client_id,
        created_at=now,
        has_attachment=True,
    )
    attachment = ChatAttachment(
        message=message,
        name=checked.name,
        content_type=checked.content_type,
        size=len(checked.content),
    )
    attachment.file.save(checked.name, ContentFile(checked.content), save=False)
    attachment.save()
    _publish_on_commit(message)
    return message


@transaction.atomic
def request_person(conversation: Conversation, *, now: dt.datetime | None = None) -> list[Message]:
    """ "Talk to a person": the queue in hours, a ticket out of hours (idempotent: a chat
    already waiting, with an agent or a ticket stays as it is)."""
    conversation = _locked(conversation)
    return _hand_off(conversation, now=now or timezone.now())


def _hand_off(conversation: Conversation, *, now: dt.datetime) -> list[Message]:
    if conversation.status != ConversationStatus.BOT:
        return []
    team = conversation.team or Team.objects.filter(is_default=True).first()
    schedule = chat_queries.schedule_for(team) if team is not None else None
    language = conversation.language
    if team is not None and schedule is not None and hours.is_open(schedule, now):
        conversation.team = team
        conversation.status = ConversationStatus.QUEUED
        conversation.queued_at = now
        conversation.save(update_fields=["team", "status", "queued_at"])
        with translation.override(language):
            text = _("You are in the queue. A person will be with you shortly.")
        messages = [_system(conversation, text, now=now)]
        _publish_on_commit(conversation=conversation)
        _route(now=now)
        return messages
    questions = list(
        conversation.messages.filter(sender=Sender.VISITOR)
        .order_by("id")
        .values_list("body", flat=True)
    )
    ticket = ticket_services.create_ticket(
        source=TicketSource.CHAT,
        subject=questions[0] if questions else "",
        body="\n".join(questions)[: ticket_services.MAX_BODY] or _("(no question written)"),
        actor=None,
        user=conversation.user,
        requester_name=conversation.visitor_name,
        requester_email=conversation.visitor_contact if "@" in conversation.visitor_contact else "",
        language=language,
        priority="vip" if conversation.is_vip else None,
        team=team,
        conversation=conversation,
        now=now,
    )
    conversation.status = ConversationStatus.TICKET
    conversation.save(update_fields=["status"])
    opening = hours.next_opening(schedule, now) if schedule is not None else None
    text = out_of_hours_text(language, opening, ticket.number or ticket.pk)
    _publish_on_commit(conversation=conversation)
    return [_system(conversation, text, now=now)]


def format_moment(moment: dt.datetime, language: str) -> str:
    """A date and time in `language`'s format, in America/Toronto."""
    with translation.override(language):
        return formats.date_format(moment.astimezone(business_zone()), "DATETIME_FORMAT")


def out_of_hours_text(language: str, opening: dt.datetime | None, ticket_number: int) -> str:
    with translation.override(language):
        if opening is None:
            return _(
                "We are closed now. A person will answer as soon as we are back. "
                "Your question is now ticket #%(number)s."
            ) % {"number": ticket_number}
        return _(
            "We are closed now. A person will be back on %(when)s (Toronto time). "
            "Your question is now ticket #%(number)s."
        ) % {"when": format_moment(opening, language), "number": ticket_number}


# --- routing ---------------------------------------------------------------------------------


def _route(*, now: dt.datetime) -> list[tuple[int, int]]:
    waiting_rows = list(
        Conversation.objects.select_for_update()
        .filter(status=ConversationStatus.QUEUED, offered_to__isnull=True)
        .order_by("id")
    )
    if not waiting_rows:
        return []
    profiles = list(
        AgentProfile.objects.select_for_update()
        .filter(is_available=True, user__is_active=True)
        .order_by("id")
    )
    loads = chat_queries.agent_loads([profile.user_id for profile in profiles])
    offers = routing.assign(
        [
            routing.Waiting(
                row.id, row.language, row.is_vip, row.queued_at or row.created_at, row.team_id
            )
            for row in waiting_rows
        ],
        [
            routing.AgentState(
                profile.user_id,
                frozenset(profile.languages or ()),
                profile.max_concurrent_chats,
                loads.get(profile.user_id, 0),
                profile.is_available,
                profile.team_id,
            )
            for profile in profiles
        ],
    )
    by_id = {row.id: row for row in waiting_rows}
    for conversation_id, agent_id in offers:
        row = by_id[conversation_id]
        row.offered_to_id = agent_id
        row.save(update_fields=["offered_to"])
        _publish_on_commit(conversation=row)
    return offers


@transaction.atomic
def route_waiting(*, now: dt.datetime | None = None) -> list[tuple[int, int]]:
    """Offer waiting chats to agents; returns the (conversation id, agent user id) offers."""
    return _route(now=now or timezone.now())


@transaction.atomic
def set_availability(
    agent: User, *, is_available: bool, now: dt.datetime | None = None
) -> AgentProfile:
    profile, _created = AgentProfile.objects.get_or_create(user=agent)
    profile.is_available = is_available
    profile.save(update_fields=["is_available"])
    if not is_available:
        # Offers nobody answered go back to the queue for someone else.
        for row in Conversation.objects.select_for_update().filter(
            status=ConversationStatus.QUEUED, offered_to=agent
        ):
            row.offered_to = None
            row.save(update_fields=["offered_to"])
            _publish_on_commit(conversation=row)
    _route(now=now or timezone.now())
    return profile


# --- the agent's side --------------------------------------------------------------------


def _is_admin(user: User) -> bool:
    return chat_queries.is_care_admin(user)


@transaction.atomic
def accept_chat(
    conversation: Conversation, *, agent: User, now: dt.datetime | None = None
) -> Conversation:
    """The agent takes a waiting chat offered to them (an admin may take any waiting chat)."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.status != ConversationStatus.QUEUED or not (
        conversation.offered_to_id == agent.pk or _is_admin(agent)
    ):
        raise NotOffered()
    conversation.status = ConversationStatus.ACTIVE
    conversation.agent = agent
    conversation.offered_to = None
    conversation.accepted_at = now
    conversation.save(update_fields=["status", "agent", "offered_to", "accepted_at"])
    with translation.override(conversation.language):
        text = _("%(name)s joined the chat.") % {"name": agent.first_name or agent.username}
    _system(conversation, text, now=now)
    record_audit("care.chat_accepted", actor=agent, target=conversation)
    _publish_on_commit(conversation=conversation)
    return conversation


@transaction.atomic
def decline_chat(
    conversation: Conversation, *, agent: User, now: dt.datetime | None = None
) -> Conversation:
    """The agent passes on an offer. Declining also marks them unavailable, so routing does
    not offer the same chat straight back; they come back with the availability switch."""
    conversation = _locked(conversation)
    if conversation.status != ConversationStatus.QUEUED or conversation.offered_to_id != agent.pk:
        raise NotOffered()
    conversation.offered_to = None
    conversation.save(update_fields=["offered_to"])
    _publish_on_commit(conversation=conversation)
    set_availability(agent, is_available=False, now=now)
    conversation.refresh_from_db()
    return conversation


@transaction.atomic
def post_agent_message(
    conversation: Conversation,
    *,
    agent: User,
    body: object,
    is_internal: bool = False,
    client_id: str = "",
    now: dt.datetime | None = None,
) -> Message:
    """An agent's reply to the visitor, or an internal note (never sent to the visitor)."""
    text = _check_body(body)
    now = now or timezone.now()
    conversation = _locked(conversation)
    if not is_internal and conversation.status != ConversationStatus.ACTIVE:
        raise ConversationClosed()
    client_id = client_id[:64] if isinstance(client_id, str) else ""
    if client_id:
        existing = conversation.messages.filter(client_id=client_id).first()
        if existing is not None:
            return existing
    sender = Sender.NOTE if is_internal else Sender.AGENT
    return _store(conversation, sender, text, author=agent, client_id=client_id, now=now)


@transaction.atomic
def transfer_chat(
    conversation: Conversation,
    *,
    acting_user: User,
    to_agent: User | None = None,
    to_team: Team | None = None,
    now: dt.datetime | None = None,
) -> Conversation:
    """Back to the queue, offered to `to_agent` (who must accept) or routed within `to_team`."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    if not conversation.is_open or conversation.status == ConversationStatus.BOT:
        raise ConversationClosed()
    if (to_agent is None) == (to_team is None) or to_agent == conversation.agent:
        raise TransferRefused()
    if to_agent is not None and not chat_queries.is_care_agent(to_agent):
        raise TransferRefused()
    previous = conversation.agent
    conversation.status = ConversationStatus.QUEUED
    conversation.agent = None
    conversation.offered_to = to_agent
    if to_team is not None:
        conversation.team = to_team
    conversation.save(update_fields=["status", "agent", "offered_to", "team"])
    with translation.override(conversation.language):
        text = _("You are being transferred to a colleague. Please stay in the chat.")
    _system(conversation, text, now=now)
    record_audit(
        "care.chat_transferred",
        actor=acting_user,
        target=conversation,
        from_agent=previous.pk if previous else None,
        to_agent=to_agent.pk if to_agent else None,
        to_team=to_team.pk if to_team else None,
    )
    _publish_on_commit(conversation=conversation)
    _route(now=now)
    return conversation


@transaction.atomic
def close_chat(
    conversation: Conversation,
    *,
    acting_user: User | None,
    reason: str,
    now: dt.datetime | None = None,
) -> Conversation:
    """Close the chat with a reason; the agent's capacity goes to the next waiting chat."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.status == ConversationStatus.CLOSED:
        return conversation
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = now
    conversation.close_reason = reason.strip()[:200]
    conversation.offered_to = None
    conversation.save(update_fields=["status", "closed_at", "close_reason", "offered_to"])
    with translation.override(conversation.language):
        text = _("This chat is closed. Thank you for contacting us.")
    _system(conversation, text, now=now)
    record_audit(
        "care.chat_closed", actor=acting_user, target=conversation, reason=conversation.close_reason
    )
    _publish_on_commit(conversation=conversation)
    _route(now=now)
    return conversation


@transaction.atomic
def email_transcript(
    conversation: Conversation, *, now: dt.datetime | None = None
) -> list[Notification]:
    """Queue the transcript to the signed-in subscriber's email (through the outbox)."""
    user = conversation.user
    if user is None or not user.email:
        raise TranscriptNotEmailed()
    return notify_services.enqueue(
        "care.transcript",
        recipient=user,
        channels=(Channel.EMAIL,),
        context={
            "transcript": transcripts.transcript_text(conversation, language=user.language),
            "conversation_id": str(conversation.public_id),
        },
        now=now,
    )


@transaction.atomic
def purge_old_chats(*, now: dt.datetime | None = None) -> int:
    """Delete chats closed (or become tickets) longer ago than the retention period, with
    their messages and attachment files (70-trust.md: 2 years by default); returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.SIMCARE_CHAT_RETENTION_DAYS)
    old = Conversation.objects.filter(
        Q(status=ConversationStatus.CLOSED, closed_at__lt=cutoff)
        | Q(status=ConversationStatus.TICKET, created_at__lt=cutoff)
    )
    files = list(
        ChatAttachment.objects.filter(message__conversation__in=old).values_list("file", flat=True)
    )
    count = old.count()
    old.delete()
    storage = ChatAttachment._meta.get_field("file").storage
    for name in files:
        transaction.on_commit(functools.partial(storage.delete, name))
    return count


@transaction.atomic
def answer_helpful(
    conversation: Conversation, *, message_id: object, is_helpful: object
) -> ArticleFeedback:
    """The visitor's "was this helpful?" on a bot message that answered with an article:
    recorded once per message (a second answer returns the first)."""
    from simcare.care import services as kb_services
    from simcare.care.verification_errors import FeedbackRefused

    if not isinstance(is_helpful, bool):
        raise FeedbackRefused()
    try:
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("article")
            .get(
                pk=int(str(message_id)),
                conversation=conversation,
                sender=Sender.BOT,
                article__isnull=False,
            )
        )
    except (ValueError, Message.DoesNotExist):
        raise FeedbackRefused() from None
    existing = ArticleFeedback.objects.filter(chat_message=message).first()
    if existing is not None:
        return existing
    asked = (
        conversation.messages.filter(sender=Sender.VISITOR, id__lt=message.id)
        .order_by("-id")
        .first()
    )
    article = message.article
    if article is None:
        raise FeedbackRefused()
    return kb_services.record_feedback(
        article,
        language=conversation.language,
        is_helpful=is_helpful,
        question=asked.body if asked is not None else "",
        chat_message=message,
    )
