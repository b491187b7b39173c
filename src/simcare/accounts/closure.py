"""Closing a subscriber's account ("close my account", 70-trust.md, PIPEDA).

What closing does, in one transaction:

- every live line is terminated (lines.services.terminate_line): recycled now, its number
  to quarantine, its card revoked, buckets ended; pending orders are cancelled, auto-renew
  and data auto-top-up are off, saved cards are removed, API tokens are revoked;
- the person is erased: name, email, mobile number, identity document, date of birth,
  account PIN, marketing consent, VIP reason; the login is renamed "closed-<id>", made
  inactive and given an unusable password, so nobody can sign in with it again;
- what the person wrote or received is erased, the record that something happened is
  kept: the text and address of every notification, the text and attachments of their
  chats (and the visitor's name and contact), the description and photos of their
  returns, the text and replies of their reviews (which are unpublished), the caller
  number and recording link of their voicemails (the recording SID stays, to delete
  the recording at Twilio);
- financial records stay as the law requires (orders, items, payments, receipts, coupon
  uses, the ledger and the wallet account with any balance left), attached to the
  anonymised subscriber row, which no longer says who the person was.

Money does not move: the ledger stays balanced and any wallet balance left remains
owed (an agent can refund it on request, quoting the closure's audit event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from simcare.accounts import errors
from simcare.accounts.models import ApiToken, AuditEvent, Subscriber, User
from simcare.accounts.services import record_audit
from simcare.aftersales.models import ReturnPhoto, ReturnRequest, Review, ReviewStatus
from simcare.care.models import (
    ChatAttachment,
    Conversation,
    Message,
    SatisfactionRating,
    Ticket,
    TicketMessage,
)
from simcare.ivr.models import CallSession, Voicemail
from simcare.ledger import queries as ledger_queries
from simcare.lines import services as line_services
from simcare.lines.models import Line, LineEvent, LineState
from simcare.notify.models import Notification, NotificationStatus
from simcare.orders.models import AutoRenewSetting, Order, OrderState, SavedPaymentMethod
from simcare.orders.services import cards, ordering

CLOSED_USERNAME_PREFIX = "closed-"


@dataclass(frozen=True)
class ClosureSummary:
    subscriber_id: int
    terminated_lines: list[str]
    cancelled_orders: int
    wallet_balance_cents: int


def is_closed(user: User) -> bool:
    return not user.is_active and user.username.startswith(CLOSED_USERNAME_PREFIX)


@transaction.atomic
def close_account(
    subscriber: Subscriber,
    *,
    password: str,
    confirmed: bool,
    acting_user: User,
    now: dt.datetime | None = None,
) -> ClosureSummary:
    """Close the account after the owner confirmed it with their password.

    Refuses ConfirmationMissing, PasswordIncorrect, AccountClosed; a refusal changes nothing.
    """
    now = now or timezone.now()
    subscriber = Subscriber.objects.select_for_update().select_related("user").get(pk=subscriber.pk)
    user = User.objects.select_for_update().get(pk=subscriber.user_id)
    if not user.is_active:
        raise errors.AccountClosed
    if not confirmed:
        raise errors.ConfirmationMissing
    if not user.check_password(password):
        raise errors.PasswordIncorrect

    terminated = []
    for line in (
        Line.objects.filter(subscriber=subscriber).exclude(state=LineState.RECYCLED).order_by("pk")
    ):
        line_services.terminate_line(line, acting_user=acting_user, cause="account_closed", now=now)
        terminated.append(line.msisdn)
    AutoRenewSetting.objects.filter(line__subscriber=subscriber).update(data_topup_enabled=False)
    pending = list(
        Order.objects.filter(subscriber=subscriber, state=OrderState.PENDING).order_by("pk")
    )
    for order in pending:
        ordering.cancel_order(order, acting_user=acting_user, now=now)
    saved_cards = SavedPaymentMethod.objects.filter(subscriber=subscriber, removed_at__isnull=True)
    card_references = list(saved_cards.values_list("method_reference", flat=True))
    saved_cards.update(removed_at=now, is_default=False)
    # Stripe keeps the card until it is detached; that call waits until the closure holds.
    transaction.on_commit(lambda: cards.detach_quietly(card_references))
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)

    _erase_messages(user, subscriber)
    _erase_person(user, subscriber)

    summary = ClosureSummary(
        subscriber_id=subscriber.pk,
        terminated_lines=terminated,
        cancelled_orders=len(pending),
        wallet_balance_cents=ledger_queries.wallet_balance_cents(subscriber),
    )
    record_audit(
        "subscriber.closed",
        actor=acting_user,
        target=subscriber,
        # Who acted is the person being erased: the label says what, not who.
        actor_label=f"{CLOSED_USERNAME_PREFIX}{user.pk}",
        lines=terminated,
        cancelled_orders=summary.cancelled_orders,
        wallet_balance_cents=summary.wallet_balance_cents,
    )
    return summary


def _erase_person(user: User, subscriber: Subscriber) -> None:
    user.username = f"{CLOSED_USERNAME_PREFIX}{user.pk}"
    user.first_name = ""
    user.last_name = ""
    user.email = None
    user.phone = None
    user.is_active = False
    user.set_unusable_password()  # also ends every other session (the auth hash changes)
    user.save()
    subscriber.is_vip = False
    subscriber.vip_reason = ""
    subscriber.email_notifications_enabled = False
    subscriber.sms_notifications_enabled = False
    subscriber.marketing_consent_at = None
    subscriber.marketing_consent_channel = ""
    subscriber.marketing_consent_wording_version = ""
    subscriber.id_document_type = ""
    subscriber.id_document_number = ""
    subscriber.date_of_birth = None
    subscriber.account_pin_hash = ""
    subscriber.save()
    # Staff and the jobs name an actor by their username, which for a subscriber is their
    # email or mobile number: the history keeps the events, not the name.
    label = f"{CLOSED_USERNAME_PREFIX}{user.pk}"
    AuditEvent.objects.filter(actor=user).update(actor_label=label)
    LineEvent.objects.filter(actor=user).update(actor_label=label)


def _erase_messages(user: User, subscriber: Subscriber) -> None:
    notifications = Notification.objects.filter(recipient=user)
    notifications.filter(status=NotificationStatus.QUEUED).update(
        status=NotificationStatus.CANCELLED, last_error="cancelled: account closed"
    )
    notifications.update(address="", subject="", body="", context={})

    conversations = Conversation.objects.filter(
        subscriber=subscriber
    ) | Conversation.objects.filter(user=user)
    for attachment in ChatAttachment.objects.filter(message__conversation__in=conversations):
        attachment.file.delete(save=False)
        attachment.delete()
    Message.objects.filter(conversation__in=conversations).update(body="", has_attachment=False)
    conversations.update(visitor_name="", visitor_contact="")

    tickets = Ticket.objects.filter(subscriber=subscriber) | Ticket.objects.filter(user=user)
    for message in TicketMessage.objects.filter(ticket__in=tickets).exclude(attachment=""):
        message.attachment.delete(save=False)
    TicketMessage.objects.filter(ticket__in=tickets).update(
        body="", attachment="", attachment_name="", attachment_content_type=""
    )
    tickets.update(subject="", requester_name="", requester_email="")
    SatisfactionRating.objects.filter(ticket__in=tickets).update(comment="")
    SatisfactionRating.objects.filter(conversation__in=conversations).update(comment="")

    returns = ReturnRequest.objects.filter(subscriber=subscriber)
    for photo in ReturnPhoto.objects.filter(request__in=returns):
        photo.image.delete(save=False)
        photo.delete()
    returns.update(description="")
    Review.objects.filter(subscriber=subscriber).update(
        text="", reply="", status=ReviewStatus.REJECTED
    )
    # The recording SID stays: it is how an operator deletes the recording at Twilio.
    Voicemail.objects.filter(subscriber=subscriber).update(caller="", recording_url="")
    CallSession.objects.filter(subscriber=subscriber).update(caller="")
