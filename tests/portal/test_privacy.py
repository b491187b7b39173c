""" "Download my data" and "close my account"."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from simcare.accounts import services as account_services
from simcare.accounts.models import ApiToken, AuditEvent, Role, Subscriber, User
from simcare.care import ticket_services
from simcare.care.models import (
    Conversation,
    Message,
    SatisfactionRating,
    Sender,
    TicketMessage,
    TicketSource,
)
from simcare.catalog.models import Plan
from simcare.ivr.models import Voicemail
from simcare.ledger import queries as ledger_queries
from simcare.lines.models import Line, LineState, Number, NumberStatus, SimStatus
from simcare.notify.models import Notification, NotificationStatus
from simcare.orders.models import Order, OrderState, SavedPaymentMethod
from simcare.orders.services import ordering
from tests.orders.stripe_standin import StripeStandIn

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def lin_history(
    lin: Subscriber,
    lin_line: Line,
    fund: Callable[[Subscriber, int], None],
) -> Order:
    """Lin topped up, renewed from the wallet (an order with a receipt) and chatted."""
    fund(lin, 5000)
    order = ordering.renew(
        lin_line,
        channel="web",
        payment_method="wallet",
        idempotency_key="test:lin:renew",
        acting_user=lin.user,
    )
    conversation = Conversation.objects.create(
        visitor_key="k" * 32,
        user=lin.user,
        subscriber=lin,
        visitor_name="Lin Wei",
        visitor_contact="lin@example.com",
    )
    Message.objects.create(
        conversation=conversation, sender=Sender.VISITOR, body="My passport is X1234567"
    )
    Voicemail.objects.create(
        call_sid="CA1",
        caller="+14165550142",
        subscriber=lin,
        recording_url="https://api.twilio.com/recordings/RE1",
        recording_sid="RE1",
    )
    return order


@pytest.fixture
def someone_else(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
    fund: Callable[[Subscriber, int], None],
) -> Subscriber:
    other = make_subscriber(username="other", email="other@example.com")
    line = make_line(other, plan)
    fund(other, 5000)
    ordering.renew(
        line,
        channel="web",
        payment_method="wallet",
        idempotency_key="test:other:renew",
        acting_user=other.user,
    )
    return other


def _export(client: Client) -> dict[str, Any]:
    response = client.post("/en/portal/profile/my-data/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="simcare-my-data-')
    document: dict[str, Any] = json.loads(response.content)
    return document


def test_the_export_holds_the_subscribers_records_and_only_theirs(
    lin: Subscriber,
    lin_client: Client,
    lin_line: Line,
    lin_history: Order,
    someone_else: Subscriber,
) -> None:
    # given
    lin.id_document_type = "passport"
    lin.id_document_number = "X1234567"
    lin.save()
    account_services.set_account_pin(lin, "4829")

    # when
    document = _export(lin_client)

    # then
    assert document["format"] == "simcare.personal-data/1"
    assert document["profile"]["email"] == "lin@example.com"
    assert document["profile"]["id_document_number_masked"] == lin.id_document_number_masked
    assert document["profile"]["has_account_pin"] is True
    assert [line["msisdn"] for line in document["lines"]] == [lin_line.msisdn]
    assert {order["id"] for order in document["orders"]} == set(
        Order.objects.filter(subscriber=lin).values_list("pk", flat=True)
    )
    assert len(document["receipts"]) == 1
    assert document["receipts"][0]["order_id"] == lin_history.pk
    assert sum(entry["amount_cents"] for entry in document["wallet_entries"]) == (
        ledger_queries.wallet_balance_cents(lin)
    )
    assert document["chat_messages"][0]["body"] == "My passport is X1234567"
    assert len(document["notifications"]) == Notification.objects.filter(recipient=lin.user).count()
    assert document["buckets"]
    text = json.dumps(document)
    assert "other@example.com" not in text
    other_line = Line.objects.get(subscriber=someone_else)
    assert other_line.msisdn not in text
    # no secrets
    assert lin.account_pin_hash not in text
    assert lin.user.password not in text
    event = AuditEvent.objects.get(action="subscriber.data_exported")
    assert event.actor == lin.user
    assert event.data["sections"]["orders"] == len(document["orders"])


def test_a_second_export_at_once_is_refused_with_a_message(
    lin_client: Client,
) -> None:
    _export(lin_client)
    response = lin_client.post("/en/portal/profile/my-data/", follow=True)
    assert "You downloaded your data a moment ago." in response.content.decode()
    assert AuditEvent.objects.filter(action="subscriber.data_exported").count() == 1
    assert lin_client.get("/en/portal/profile/my-data/").status_code == 405


def test_the_closure_page_says_what_will_happen(
    lin_client: Client, lin_line: Line, fund: Callable[[Subscriber, int], None], lin: Subscriber
) -> None:
    fund(lin, 250)
    page = lin_client.get("/en/portal/profile/close/").content.decode()
    assert "Your line ends at once and its number is released" in page
    assert "Your wallet still holds $2.50." in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"password": PASSWORD}, "Tick the box to confirm"),
        ({"confirm": "on", "password": "not it"}, "Your password is not correct."),
        ({"confirm": "on"}, "Your password is not correct."),
    ],
)
def test_closing_needs_the_box_and_the_password_and_a_refusal_changes_nothing(
    lin: Subscriber, lin_client: Client, lin_line: Line, form: dict[str, str], message: str
) -> None:
    response = lin_client.post("/en/portal/profile/close/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    lin.user.refresh_from_db()
    lin_line.refresh_from_db()
    assert lin.user.is_active
    assert lin.user.email == "lin@example.com"
    assert lin_line.state == LineState.ACTIVE
    assert not AuditEvent.objects.filter(action="subscriber.closed").exists()
    french = lin_client.post("/fr/portal/profile/close/", form).content.decode()
    assert "Votre mot de passe est incorrect." in french or "Cochez la case" in french


def test_closing_erases_the_person_ends_the_lines_and_keeps_the_books_balanced(
    lin: Subscriber,
    lin_client: Client,
    lin_line: Line,
    lin_history: Order,
    someone_else: Subscriber,
) -> None:
    # given
    lin.id_document_type = "passport"
    lin.id_document_number = "X1234567"
    lin.save()
    account_services.set_account_pin(lin, "4829")
    account_services.issue_api_token(lin.user)
    balance_before = ledger_queries.wallet_balance_cents(lin)
    orders_before = list(Order.objects.filter(subscriber=lin).values_list("pk", "total_cents"))
    other_before = Line.objects.get(subscriber=someone_else).state

    # when
    response = lin_client.post("/en/portal/profile/close/", {"confirm": "on", "password": PASSWORD})

    # then: signed out, told so
    assert response.status_code == 200
    assert "Your account is closed" in response.content.decode()
    assert lin_client.get("/en/portal/").status_code == 302

    # the person is gone
    user = User.objects.get(pk=lin.user_id)
    subscriber = Subscriber.objects.get(pk=lin.pk)
    assert user.username == f"closed-{user.pk}"
    assert (user.email, user.phone, user.first_name, user.last_name) == (None, None, "", "")
    assert not user.is_active
    assert not user.has_usable_password()
    assert subscriber.id_document_number == ""
    assert subscriber.id_document_type == ""
    assert subscriber.account_pin_hash == ""
    assert subscriber.marketing_consent_at is None
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    for name in ("lin@example.com", "lin"):
        attempt = Client().post("/en/accounts/login/", {"username": name, "password": PASSWORD})
        assert attempt.status_code == 200  # the form again, not a redirect in
        assert "_auth_user_id" not in attempt.client.session

    # the line ended, its number in quarantine
    lin_line.refresh_from_db()
    assert lin_line.state == LineState.RECYCLED
    assert lin_line.auto_renew is False
    assert Number.objects.get(pk=lin_line.number_id).status == NumberStatus.QUARANTINE
    assert lin_line.sim.__class__.objects.get(pk=lin_line.sim_id).status == SimStatus.REVOKED

    # what was written is erased, the record of it kept
    notifications = Notification.objects.filter(recipient=user)
    assert notifications.exists()
    assert not notifications.exclude(address="", subject="", body="").exists()
    assert not notifications.filter(status=NotificationStatus.QUEUED).exists()
    message = Message.objects.get(conversation__subscriber=subscriber)
    assert message.body == ""
    conversation = Conversation.objects.get(subscriber=subscriber)
    assert (conversation.visitor_name, conversation.visitor_contact) == ("", "")
    assert not AuditEvent.objects.filter(actor_label="lin").exists()
    voicemail = Voicemail.objects.get(subscriber=subscriber)
    assert (voicemail.caller, voicemail.recording_url, voicemail.recording_sid) == ("", "", "RE1")

    # the books: same orders and receipts, same wallet balance, ledger balanced
    assert (
        list(Order.objects.filter(subscriber=lin).values_list("pk", "total_cents")) == orders_before
    )
    assert Order.objects.get(pk=lin_history.pk).receipt is not None
    assert ledger_queries.wallet_balance_cents(subscriber) == balance_before
    assert ledger_queries.find_breaks() == []

    # someone else's account is untouched
    assert Line.objects.get(subscriber=someone_else).state == other_before
    assert User.objects.get(pk=someone_else.user_id).email == "other@example.com"

    event = AuditEvent.objects.get(action="subscriber.closed")
    assert event.actor_label == f"closed-{user.pk}"
    assert event.data["lines"] == [lin_line.msisdn]


def test_a_pending_card_order_is_cancelled_at_closure(
    lin: Subscriber, lin_client: Client, lin_line: Line, stripe_standin: StripeStandIn
) -> None:
    # given: a renewal waiting for Stripe
    lin_client.post(
        f"/en/portal/lines/{lin_line.msisdn}/renew/",
        {"plan": lin_line.plan.code, "method": "card", "token": uuid.uuid4().hex},
    )
    order = Order.objects.get(subscriber=lin)
    assert order.state == OrderState.PENDING

    # when
    response = lin_client.post("/en/portal/profile/close/", {"confirm": "on", "password": PASSWORD})

    # then
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    assert AuditEvent.objects.get(action="subscriber.closed").data["cancelled_orders"] == 1


def test_saved_cards_are_removed_and_detached_at_stripe_once_the_closure_holds(
    lin: Subscriber,
    lin_client: Client,
    stripe_standin: StripeStandIn,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: two saved cards, one of which Stripe no longer knows
    for reference in ("pm_card_visa", "pm_unknown_at_stripe"):
        SavedPaymentMethod.objects.create(
            subscriber=lin,
            customer_reference="cus_000001",
            method_reference=reference,
            brand="visa",
            last4="4242",
        )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = lin_client.post(
            "/en/portal/profile/close/", {"confirm": "on", "password": PASSWORD}
        )

    # then
    assert response.status_code == 200
    assert not SavedPaymentMethod.objects.filter(subscriber=lin, removed_at__isnull=True).exists()
    detached = [call.path for call in stripe_standin.calls("POST", "/v1/payment_methods/")]
    assert sorted(detached) == [
        "/v1/payment_methods/pm_card_visa/detach",
        "/v1/payment_methods/pm_unknown_at_stripe/detach",
    ]


def test_tickets_are_in_the_export_and_erased_at_closure(
    lin: Subscriber, lin_client: Client, make_staff: Callable[..., User]
) -> None:
    # given: a ticket of Lin's with an answer, an internal note and a rating
    agent = make_staff(Role.AGENT)
    ticket = ticket_services.create_ticket(
        source=TicketSource.WEB,
        subject="Roaming in Seattle",
        body="My data stopped in Seattle",
        actor=lin.user,
        user=lin.user,
        requester_email="lin@example.com",
    )
    ticket_services.reply(ticket, actor=agent, body="Roaming is on now", sender="agent")
    ticket_services.reply(
        ticket, actor=agent, body="Customer sounded upset", sender="agent", is_internal=True
    )
    ticket_services.close(ticket, actor=agent)
    ticket_services.rate_ticket(ticket, score=4, comment="Quick, thanks Lin")

    # when
    document = _export(lin_client)

    # then: the ticket, its messages without the internal note, the rating
    assert [row["subject"] for row in document["tickets"]] == ["Roaming in Seattle"]
    bodies = [row["body"] for row in document["ticket_messages"]]
    assert "My data stopped in Seattle" in bodies
    assert "Roaming is on now" in bodies
    assert "Customer sounded upset" not in bodies
    assert [row["score"] for row in document["ratings"]] == [4]

    # when: Lin closes the account
    lin_client.post("/en/portal/profile/close/", {"confirm": "on", "password": PASSWORD})

    # then: nothing of what Lin wrote or was told stays
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.requester_email) == ("", "")
    assert set(TicketMessage.objects.filter(ticket=ticket).values_list("body", flat=True)) == {""}
    assert SatisfactionRating.objects.get(ticket=ticket).comment == ""
