"""'Download my data' (70-trust.md): one JSON document of a subscriber's own records.

Built on request from the subscriber row outward, so it holds only what is theirs:
profile, lines with their buckets and history, daily usage, orders with items and
payments, receipts, coupon uses, saved cards (brand and last four only), auto-renew
settings, the wallet's ledger entries, notifications, chats and their messages,
returns, reviews, voicemails. Secrets are left out: the password and PIN hashes, the
full identity document number (masked, as everywhere), eSIM activation codes, API
token hashes, payment provider links. One download every few minutes; each one is
audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from simcare.accounts import errors
from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.accounts.services import record_audit
from simcare.aftersales.models import ReturnRequest, Review
from simcare.care.models import Conversation, Message, SatisfactionRating, Ticket, TicketMessage
from simcare.ivr.models import Voicemail
from simcare.ledger.models import LedgerEntry
from simcare.lines.models import Bucket, Line, LineEvent
from simcare.notify.models import Notification
from simcare.orders.models import (
    AutoRenewSetting,
    CouponUse,
    Order,
    OrderItem,
    Payment,
    Receipt,
    SavedPaymentMethod,
)
from simcare.usage.models import DailyUsage

EXPORT_FORMAT = "simcare.personal-data/1"
MIN_INTERVAL = dt.timedelta(minutes=5)


def _rows(queryset: QuerySet[Any], fields: Iterable[str]) -> list[dict[str, Any]]:
    return list(queryset.values(*fields))


@transaction.atomic
def export_personal_data(
    subscriber: Subscriber, *, acting_user: User, now: dt.datetime | None = None
) -> bytes:
    """The subscriber's records as UTF-8 JSON; refuses ExportTooSoon within MIN_INTERVAL."""
    now = now or timezone.now()
    # The lock serializes two requests at once, so the interval holds under a double click.
    subscriber = Subscriber.objects.select_for_update().select_related("user").get(pk=subscriber.pk)
    last = (
        AuditEvent.objects.filter(
            action="subscriber.data_exported",
            object_type="subscriber",
            object_id=str(subscriber.pk),
            created_at__gt=now - MIN_INTERVAL,
        )
        .order_by("-created_at")
        .first()
    )
    if last is not None:
        raise errors.ExportTooSoon(
            retry_after=(last.created_at + MIN_INTERVAL - now).total_seconds()
        )
    document = build_document(subscriber, now=now)
    record_audit(
        "subscriber.data_exported",
        actor=acting_user,
        target=subscriber,
        sections={name: len(rows) for name, rows in document.items() if isinstance(rows, list)},
    )
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def build_document(subscriber: Subscriber, *, now: dt.datetime) -> dict[str, Any]:
    user = subscriber.user
    lines = Line.objects.filter(subscriber=subscriber)
    orders = Order.objects.filter(subscriber=subscriber)
    conversations = Conversation.objects.filter(
        subscriber=subscriber
    ) | Conversation.objects.filter(user=user)
    tickets = Ticket.objects.filter(subscriber=subscriber) | Ticket.objects.filter(user=user)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": now,
        "profile": _profile(user, subscriber),
        "lines": _rows(
            lines.order_by("pk"),
            [
                "msisdn",
                "sim__iccid",
                "kind",
                "state",
                "plan__code",
                "period_start",
                "period_end",
                "auto_renew",
                "activated_at",
                "recycled_at",
                "is_barred",
                "usage_debt_cents",
            ],
        ),
        "line_history": _rows(
            LineEvent.objects.filter(line__in=lines).order_by("pk"),
            ["line__msisdn", "created_at", "from_state", "to_state", "cause", "note"],
        ),
        "buckets": _rows(
            Bucket.objects.filter(line__in=lines).order_by("pk"),
            [
                "line__msisdn",
                "kind",
                "zone",
                "source",
                "addon__code",
                "total",
                "used",
                "starts_at",
                "expires_at",
            ],
        ),
        "daily_usage": _rows(
            DailyUsage.objects.filter(line__in=lines).order_by("day", "pk"),
            ["line__msisdn", "day", "kind", "units", "records", "charged_cents"],
        ),
        "orders": _rows(
            orders.order_by("pk"),
            [
                "id",
                "kind",
                "channel",
                "state",
                "line__msisdn",
                "plan__code",
                "addon__code",
                "sim_kind",
                "periods",
                "currency",
                "subtotal_cents",
                "discount_cents",
                "tax_cents",
                "total_cents",
                "refunded_cents",
                "taxes",
                "province",
                "coupon__code",
                "payment_method",
                "language",
                "created_at",
                "paid_at",
                "fulfilled_at",
                "closed_at",
                "failure_code",
            ],
        ),
        "order_items": _rows(
            OrderItem.objects.filter(order__in=orders).order_by("pk"),
            [
                "order_id",
                "kind",
                "code",
                "description",
                "quantity",
                "unit_price_cents",
                "amount_cents",
            ],
        ),
        "payments": _rows(
            Payment.objects.filter(order__in=orders).order_by("pk"),
            [
                "order_id",
                "method",
                "provider",
                "status",
                "amount_cents",
                "refunded_cents",
                "failure_code",
                "created_at",
                "completed_at",
            ],
        ),
        "receipts": [
            {
                "number": receipt.number,
                "order_id": receipt.order_id,
                "issued_at": receipt.issued_at,
                "language": receipt.language,
            }
            for receipt in Receipt.objects.filter(order__in=orders).order_by("pk")
        ],
        "coupon_uses": _rows(
            CouponUse.objects.filter(subscriber=subscriber).order_by("pk"),
            ["coupon__code", "order_id", "discount_cents", "created_at"],
        ),
        "saved_cards": _rows(
            SavedPaymentMethod.objects.filter(subscriber=subscriber).order_by("pk"),
            [
                "provider",
                "brand",
                "last4",
                "exp_month",
                "exp_year",
                "is_default",
                "created_at",
                "removed_at",
            ],
        ),
        "auto_renew": _rows(
            AutoRenewSetting.objects.filter(line__in=lines).order_by("pk"),
            [
                "line__msisdn",
                "payment_method__last4",
                "data_topup_enabled",
                "data_topup_addon__code",
                "data_topup_threshold_kb",
                "updated_at",
            ],
        ),
        "wallet_entries": _rows(
            LedgerEntry.objects.filter(account__subscriber=subscriber).order_by("pk"),
            [
                "created_at",
                "amount_cents",
                "transaction__kind",
                "transaction__memo",
                "transaction__reference",
            ],
        ),
        "notifications": _rows(
            Notification.objects.filter(recipient=user).order_by("pk"),
            [
                "created_at",
                "channel",
                "template",
                "language",
                "line__msisdn",
                "status",
                "address",
                "subject",
                "body",
                "sent_at",
                "delivery_status",
            ],
        ),
        "chats": _rows(
            conversations.order_by("pk"),
            [
                "public_id",
                "visitor_name",
                "visitor_contact",
                "language",
                "status",
                "created_at",
                "closed_at",
            ],
        ),
        "chat_messages": _rows(
            Message.objects.filter(conversation__in=conversations).order_by("pk"),
            ["conversation__public_id", "sender", "body", "created_at", "has_attachment"],
        ),
        "tickets": _rows(
            tickets.order_by("pk"),
            [
                "number",
                "source",
                "subject",
                "category",
                "priority",
                "status",
                "language",
                "requester_name",
                "requester_email",
                "created_at",
                "resolved_at",
                "closed_at",
            ],
        ),
        # Agents' internal notes are the provider's working notes, not the customer's data.
        "ticket_messages": _rows(
            TicketMessage.objects.filter(ticket__in=tickets, is_internal=False).order_by("pk"),
            ["ticket__number", "sender", "body", "created_at", "attachment_name"],
        ),
        "ratings": _rows(
            SatisfactionRating.objects.filter(conversation__in=conversations).order_by("pk")
            | SatisfactionRating.objects.filter(ticket__in=tickets).order_by("pk"),
            ["conversation__public_id", "ticket__number", "score", "comment", "created_at"],
        ),
        "returns": _rows(
            ReturnRequest.objects.filter(subscriber=subscriber).order_by("pk"),
            [
                "id",
                "order_id",
                "line__msisdn",
                "kind",
                "resolution",
                "fault",
                "description",
                "state",
                "decided_at",
                "decision_note",
                "refund_cents",
                "created_at",
            ],
        ),
        "reviews": _rows(
            Review.objects.filter(subscriber=subscriber).order_by("pk"),
            [
                "order_id",
                "about",
                "plan__code",
                "store__name",
                "rating",
                "text",
                "language",
                "status",
                "reply",
                "created_at",
            ],
        ),
        "voicemails": _rows(
            Voicemail.objects.filter(subscriber=subscriber).order_by("pk"),
            ["caller", "duration_seconds", "language", "created_at"],
        ),
    }


def _profile(user: User, subscriber: Subscriber) -> dict[str, Any]:
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "language": user.language,
        "joined_at": subscriber.created_at,
        "province": subscriber.province,
        "is_vip": subscriber.is_vip,
        "email_notifications": subscriber.email_notifications_enabled,
        "sms_notifications": subscriber.sms_notifications_enabled,
        "marketing_consent_at": subscriber.marketing_consent_at,
        "marketing_consent_channel": subscriber.marketing_consent_channel,
        "marketing_consent_wording_version": subscriber.marketing_consent_wording_version,
        "id_document_type": subscriber.id_document_type,
        "id_document_number_masked": subscriber.id_document_number_masked,
        "date_of_birth": subscriber.date_of_birth,
        "has_account_pin": bool(subscriber.account_pin_hash),
    }


__all__ = ["EXPORT_FORMAT", "MIN_INTERVAL", "build_document", "export_personal_data"]
