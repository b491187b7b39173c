"""Putting notifications in the outbox, and the outbox's state changes.

The transactional outbox: `enqueue` writes one Notification row per channel
in the caller's transaction, so a message exists if and only if the state
change that caused it committed; nothing is sent here. The `outbox` job
(notify/tasks.py) sends committed rows within a minute, renders them in the
recipient's language at that moment, and records what was sent. A crash
between commit and send loses nothing: the row is still queued. A crash after
sending and before recording may send a message twice (at-least-once), which
beats losing "your number will be released".

Dedupe keys make enqueueing idempotent: the same key twice (a retried
request, a job run twice, two processes at once) stores one row per channel.
The periodic jobs insert their rows with set-based SQL instead of calling
`enqueue`, using the same key scheme `<key>:<channel>` (see lines/tasks.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.kit.bulk import insert_rows
from simcare.lines.models import Line
from simcare.notify import rendering
from simcare.notify.models import Channel, DeliveryStatus, Notification, NotificationStatus
from simcare.notify.sms import SmsBackend, SmsDeliveryError, SmsRejected
from simcare.notify.sms import get_backend as get_sms_backend

DEFAULT_CHANNELS: tuple[str, ...] = (Channel.EMAIL, Channel.SMS)


def channel_dedupe_key(dedupe_key: str, channel: str) -> str:
    return f"{dedupe_key}:{channel}"


def _jsonable(context: dict[str, Any] | None) -> dict[str, Any]:
    """Datetimes become ISO strings; the renderer turns keys ending in `_at` back into datetimes."""
    loaded: dict[str, Any] = json.loads(json.dumps(context or {}, cls=DjangoJSONEncoder))
    return loaded


def enqueue(
    template: str,
    *,
    recipient: User,
    line: Line | None = None,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
    reference_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[Notification]:
    """Store one queued notification per channel; returns the rows (existing ones on a dedupe hit).

    Call it inside the transaction of the state change it announces; `now`
    (default: the clock) is when it was queued and may be sent. Do not
    put secrets (PINs, activation codes) in `context`: the renderer reads
    those from their source at send time, and the stored body masks them.
    """
    rows: list[Notification] = []
    for new in notification_rows(
        template,
        recipient=recipient,
        line=line,
        context=context,
        dedupe_key=dedupe_key,
        channels=channels,
        reference_at=reference_at,
        now=now or timezone.now(),
    ):
        if new.dedupe_key is None:
            new.save(force_insert=True)
            rows.append(new)
            continue
        try:
            # The savepoint keeps the caller's transaction usable if another
            # process inserted the same key between our read and our write.
            # Inserted first, read only on a hit: one statement in the common case.
            with transaction.atomic():
                new.save(force_insert=True)
        except IntegrityError:
            rows.append(Notification.objects.get(dedupe_key=new.dedupe_key))
        else:
            rows.append(new)
    return rows


def notification_rows(
    template: str,
    *,
    recipient: User,
    line: Line | None = None,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
    reference_at: dt.datetime | None = None,
    now: dt.datetime,
) -> list[Notification]:
    """The rows `enqueue` stores, not saved: a batch of orders stores many at once with
    enqueue_rows. An unknown template or channel is a programming error: it fails now."""
    rendering.get_template(template)
    stored_context = _jsonable(context)
    rows = []
    for channel in channels:
        if channel not in Channel.values:
            raise ValueError(f"unknown channel {channel!r}")
        rows.append(
            Notification(
                created_at=now,
                send_after=now,
                recipient=recipient,
                channel=channel,
                template=template,
                language=recipient.language,
                line=line,
                reference_at=reference_at,
                context=stored_context,
                status=NotificationStatus.QUEUED,
                dedupe_key=None if dedupe_key is None else channel_dedupe_key(dedupe_key, channel),
            )
        )
    return rows


def enqueue_rows(rows: list[Notification]) -> None:
    """Insert notification_rows' rows in one statement, in the caller's transaction. For
    rows whose dedupe keys are new (made from rows of that transaction, like an order's
    id): a key already stored fails the insert (IntegrityError), where enqueue would
    return the stored row; the caller then does its work again through enqueue."""
    insert_rows(rows)


def enqueue_email_to_address(
    template: str,
    *,
    email: str,
    language: str,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    now: dt.datetime | None = None,
) -> Notification:
    """One queued email to someone without an account (a visitor who wrote through the
    contact form), in `language`; the same dedupe key twice stores one row."""
    rendering.get_template(template)
    now = now or timezone.now()
    fields: dict[str, Any] = {
        "created_at": now,
        "send_after": now,
        "recipient": None,
        "channel": Channel.EMAIL,
        "template": template,
        "language": language,
        "address": email,
        "context": _jsonable(context),
        "status": NotificationStatus.QUEUED,
    }
    if dedupe_key is None:
        return Notification.objects.create(**fields)
    key = channel_dedupe_key(dedupe_key, Channel.EMAIL)
    try:
        with transaction.atomic():
            row, _created = Notification.objects.get_or_create(dedupe_key=key, defaults=fields)
    except IntegrityError:
        row = Notification.objects.get(dedupe_key=key)
    return row


def cancel_queued(*, line: Line, templates: frozenset[str] | set[str]) -> int:
    """Cancel the line's still-queued notifications of these templates; returns how many."""
    return cancel_queued_of_lines(line_ids=[line.pk], templates=templates)


def cancel_queued_of_lines(*, line_ids: list[int], templates: frozenset[str] | set[str]) -> int:
    """cancel_queued for several lines in one statement."""
    return Notification.objects.filter(
        line_id__in=line_ids, status=NotificationStatus.QUEUED, template__in=sorted(templates)
    ).update(status=NotificationStatus.CANCELLED, last_error="cancelled: superseded")


# --- The outbox: claim, render, send, record -----------------------------------------------
#
# Rows are claimed in a short transaction (FOR UPDATE SKIP LOCKED on
# PostgreSQL, so several workers take disjoint rows; SQLite serializes the
# claim) that counts the attempt and pushes send_after out by a lease; the
# message is sent outside any transaction (a slow SMTP server never holds a
# database lock), then the outcome is recorded. A worker killed mid-send
# leaves the row queued: another picks it up when the lease ends.

MAX_ATTEMPTS = 5
CLAIM_LEASE = dt.timedelta(minutes=5)
# Wait after the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final.
RETRY_DELAYS = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)
BATCH_SIZE = 100
MAX_PER_RUN = 5_000

logger = logging.getLogger(__name__)


def retry_delay(attempts: int) -> dt.timedelta:
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


def claim_due(now: dt.datetime, *, limit: int = BATCH_SIZE) -> list[int]:
    """Take up to `limit` due queued rows for this worker; returns their ids."""
    with transaction.atomic():
        due = Notification.objects.filter(
            status=NotificationStatus.QUEUED, send_after__lte=now
        ).order_by("send_after", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if ids:
            Notification.objects.filter(id__in=ids).update(
                attempts=F("attempts") + 1, send_after=now + CLAIM_LEASE
            )
    return ids


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _subscriber_of(user: User) -> Subscriber | None:
    try:
        return user.subscriber
    except Subscriber.DoesNotExist:
        return None


def resolve_address(notification: Notification) -> str:
    """The recipient's email or phone for the row's channel; raises _Skip when there is none.
    A row queued to an address only (enqueue_email_to_address) goes to that address."""
    recipient = notification.recipient
    if recipient is None and notification.address and notification.channel == Channel.EMAIL:
        return notification.address
    if recipient is None or not recipient.is_active:
        raise _Skip("no recipient")
    subscriber = _subscriber_of(recipient)
    template = rendering.REGISTRY.get(notification.template)
    if template is not None and template.on_request:
        # Asked for this minute (an identity code): no opt-out applies; an SMS goes to the
        # line whose possession it proves.
        subscriber = None
        if notification.channel == Channel.SMS and notification.line is not None:
            return notification.line.msisdn
    if notification.channel == Channel.EMAIL:
        if subscriber is not None and not subscriber.email_notifications_enabled:
            raise _Skip("opted out of email")
        if not recipient.email:
            raise _Skip("no email address")
        return recipient.email
    if subscriber is not None and not subscriber.sms_notifications_enabled:
        raise _Skip("opted out of SMS")
    if not recipient.phone:
        raise _Skip("no mobile number")
    return recipient.phone


def _send_email(
    message: rendering.RenderedMessage, address: str, mail: BaseEmailBackend, row_id: int
) -> None:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers={
            "Auto-Submitted": "auto-generated",
            "Content-Language": message.language,
            "X-Simcare-Notification": str(row_id),
        },
        connection=mail,
    )
    email.attach_alternative(message.html, "text/html")
    for attachment in message.attachments:
        email.attach(attachment.filename, attachment.content, attachment.mimetype)
    email.send()


def is_stale(notification: Notification) -> bool:
    """A message about a period the line no longer has (it was renewed since)."""
    template = rendering.REGISTRY.get(notification.template)
    line = notification.line
    return (
        template is not None
        and template.expires_with_period
        and line is not None
        and notification.reference_at is not None
        and line.period_end != notification.reference_at
    )


def _record(notification_id: int, **fields: Any) -> int:
    """Write an outcome unless the row left the queue meanwhile (e.g. cancelled by a renewal)."""
    return Notification.objects.filter(pk=notification_id, status=NotificationStatus.QUEUED).update(
        **fields
    )


def _error_text(error: BaseException) -> str:
    # The exception's class and message only: never the message body, which may hold a code.
    return f"{type(error).__name__}: {error}"[:300]


class _Settled(Exception):
    """A row leaving `deliver` unsent: the status to report and the fields to store."""

    def __init__(self, outcome: str, **fields: Any) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.fields = fields


def _address_or_settle(notification: Notification) -> str:
    if is_stale(notification):
        raise _Settled(
            NotificationStatus.CANCELLED,
            status=NotificationStatus.CANCELLED,
            last_error="stale: renewed",
        )
    try:
        return resolve_address(notification)
    except _Skip as skip:
        raise _Settled(
            NotificationStatus.SKIPPED, status=NotificationStatus.SKIPPED, last_error=skip.reason
        ) from None


def _render_or_settle(notification: Notification) -> rendering.RenderedMessage:
    try:
        return rendering.render(notification)
    except (rendering.UnknownTemplate, TemplateDoesNotExist, TemplateSyntaxError) as error:
        # A broken template does not heal by waiting: fail now, loudly.
        logger.error("notification %s cannot be rendered: %s", notification.pk, error)
        raise _Settled(
            NotificationStatus.FAILED,
            status=NotificationStatus.FAILED,
            last_error=_error_text(error),
        ) from error


def _transmit_or_settle(
    notification: Notification,
    message: rendering.RenderedMessage,
    address: str,
    *,
    mail: BaseEmailBackend,
    sms: SmsBackend,
    now: dt.datetime,
) -> tuple[str, str, str]:
    """Send; returns the (subject, body) to keep, with secrets masked, and the SMS gateway's
    message id ("" for email or a gateway without ids)."""
    try:
        if notification.channel == Channel.EMAIL:
            _send_email(message, address, mail, notification.pk)
            return message.subject, message.masked(message.body), ""
        message_id = sms.send(address, message.sms)
        return "", message.masked(message.sms), message_id
    except (smtplib.SMTPException, OSError, SmsDeliveryError, SmsRejected) as error:
        if isinstance(error, smtplib.SMTPException | OSError):
            mail.close()  # a broken SMTP session must not poison the next message
        logger.warning(
            "notification %s attempt %s failed: %s",
            notification.pk,
            notification.attempts,
            type(error).__name__,
        )
        if isinstance(error, SmsRejected) or notification.attempts >= MAX_ATTEMPTS:
            raise _Settled(
                NotificationStatus.FAILED,
                status=NotificationStatus.FAILED,
                last_error=_error_text(error),
                address=address,
            ) from error
        raise _Settled(
            NotificationStatus.QUEUED,
            send_after=now + retry_delay(notification.attempts),
            last_error=_error_text(error),
        ) from error


def deliver(notification_id: int, *, mail: BaseEmailBackend, sms: SmsBackend) -> str:
    """Send one claimed row and record the outcome; returns the row's new status.

    Stale (renewed since) → cancelled; no address or opted out → skipped; a
    template that does not render → failed; a transport failure → queued
    again with backoff, or failed after MAX_ATTEMPTS or a final refusal.
    """
    notification = (
        Notification.objects.select_related(
            "recipient", "recipient__subscriber", "line__plan", "line__sim"
        )
        .filter(pk=notification_id, status=NotificationStatus.QUEUED)
        .first()
    )
    if notification is None:
        return "gone"
    now = timezone.now()
    try:
        address = _address_or_settle(notification)
        message = _render_or_settle(notification)
        subject, body, message_id = _transmit_or_settle(
            notification, message, address, mail=mail, sms=sms, now=now
        )
    except _Settled as settled:
        _record(notification.pk, **settled.fields)
        return settled.outcome
    gateway_fields: dict[str, Any] = {}
    if notification.channel == Channel.SMS:
        gateway_fields = {"gateway": sms.name[:20], "provider_message_id": message_id[:200]}
        if message_id:
            gateway_fields |= {
                "delivery_status": DeliveryStatus.ACCEPTED,
                "delivery_updated_at": now,
            }
    _record(
        notification.pk,
        status=NotificationStatus.SENT,
        sent_at=now,
        address=address,
        language=message.language,
        subject=subject[:300],
        body=body,
        last_error="",
        **gateway_fields,
    )
    return NotificationStatus.SENT


def send_due(now: dt.datetime | None = None, *, max_messages: int = MAX_PER_RUN) -> dict[str, int]:
    """Send what is due, batch by batch, up to max_messages; returns counts by outcome."""
    counts = {"sent": 0, "skipped": 0, "failed": 0, "retry": 0, "cancelled": 0}
    outcome_names = {
        NotificationStatus.SENT: "sent",
        NotificationStatus.SKIPPED: "skipped",
        NotificationStatus.FAILED: "failed",
        NotificationStatus.QUEUED: "retry",
        NotificationStatus.CANCELLED: "cancelled",
    }
    mail = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 15)
    sms = get_sms_backend()
    handled = 0
    try:
        while handled < max_messages:
            ids = claim_due(now or timezone.now(), limit=min(BATCH_SIZE, max_messages - handled))
            if not ids:
                break
            for notification_id in ids:
                outcome = deliver(notification_id, mail=mail, sms=sms)
                if outcome in outcome_names:
                    counts[outcome_names[NotificationStatus(outcome)]] += 1
            handled += len(ids)
    finally:
        mail.close()
        sms.close()
    return counts


# --- Delivery receipts from the SMS gateways -----------------------------------------------

# A later receipt never undoes a final one; a failed part of a long message outweighs the rest.
_DELIVERY_RANK = {
    "": 0,
    DeliveryStatus.ACCEPTED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.UNDELIVERED: 4,
}


def _with_message_id(gateway: str, message_id: str) -> QuerySet[Notification]:
    return Notification.objects.filter(gateway=gateway).filter(
        Q(provider_message_id=message_id)
        | Q(provider_message_id__startswith=f"{message_id},")
        | Q(provider_message_id__endswith=f",{message_id}")
        | Q(provider_message_id__contains=f",{message_id},")
    )


@transaction.atomic
def record_delivery_status(
    *,
    gateway: str,
    message_id: str,
    status: str,
    error: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Store a gateway's delivery receipt on the SMS it is about; returns how many rows
    changed (0 for an unknown id, a repeat, or news older than what is known)."""
    if not message_id or status not in DeliveryStatus.values:
        return 0
    now = now or timezone.now()
    changed = 0
    for notification in _with_message_id(gateway, message_id).select_for_update().order_by("pk"):
        if _DELIVERY_RANK[status] <= _DELIVERY_RANK.get(notification.delivery_status, 0):
            continue
        Notification.objects.filter(pk=notification.pk).update(
            delivery_status=status, delivery_updated_at=now, delivery_error=error[:100]
        )
        changed += 1
    return changed
