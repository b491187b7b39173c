"""Identity checks and account actions in the agent console, over HTTP: code by SMS and
email through the outbox, account PIN with date of birth, lockout, binding expiry, and
the renewal, document reveal, SIM swap and eSIM re-issue they allow (and refuse without)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import translation

from simcare.accounts import services as account_services
from simcare.accounts.models import AuditEvent, IdentityDocumentType, Role, Subscriber, User
from simcare.care import chat_services, verification
from simcare.care.models import (
    Conversation,
    IdentityCheck,
    Message,
    Sender,
    Team,
    VerificationMethod,
    VerificationStatus,
)
from simcare.catalog.models import Plan
from simcare.kit.money import format_cents
from simcare.ledger.models import LedgerAccount, LedgerEntry
from simcare.lines.models import Line, SimCard, SimKind, SimStatus
from simcare.notify.models import Notification, NotificationStatus
from simcare.orders.models import Order, OrderKind, OrderState
from tests.care.conftest import IN_HOURS
from tests.care.verify.support import code_in, sent_sms, served_chat
from tests.conftest import signed_in_client
from tests.lines.stock_support import iccid
from tests.orders.conftest import balance, money_snapshot

pytestmark = pytest.mark.django_db

PIN = "2468"
BIRTH = dt.date(1994, 5, 17)


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(IN_HOURS, tick=False) as traveller:
        yield traveller


@pytest.fixture
def customer(
    make_subscriber: Callable[..., Subscriber], make_line: Callable[..., Line], plan: Plan
) -> tuple[Subscriber, Line]:
    subscriber = make_subscriber(language="fr", first_name="Léa")
    account_services.set_account_pin(subscriber, PIN)
    subscriber.date_of_birth = BIRTH
    subscriber.id_document_type = IdentityDocumentType.STUDY_PERMIT
    subscriber.id_document_number = "T123456789"
    subscriber.save(update_fields=["date_of_birth", "id_document_type", "id_document_number"])
    return subscriber, make_line(subscriber, plan)


@pytest.fixture
def agent(team: Team, make_agent: Callable[..., User]) -> User:
    return make_agent(languages=("en", "fr", "zh-hans"))


def _url(name: str, chat: Conversation) -> str:
    return reverse(f"console:{name}", args=[chat.public_id])


def _said(response: object) -> str:
    """The message the console flashed on this response (the newest one)."""
    said = [str(message) for message in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]
    return said[-1] if said else ""


def _verify_by_pin(client: Client, chat: Conversation) -> IdentityCheck:
    response = client.post(_url("verify_pin", chat), {"pin": PIN, "date_of_birth": "1994-05-17"})
    assert response.status_code == 302
    check = verification.valid_check(chat)
    assert check is not None
    return check


def _system_texts(chat: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=chat, sender=Sender.SYSTEM).values_list(
            "body", flat=True
        )
    )


# --- the code ------------------------------------------------------------------------------


def test_a_code_by_sms_goes_to_the_lines_number_in_the_customers_language_and_is_kept_hashed(
    agent: User, customer: tuple[Subscriber, Line], sms_file: Path
) -> None:
    subscriber, line = customer
    chat = served_chat(agent, subscriber, language="fr")
    client = signed_in_client(agent)
    earlier = len(sent_sms(sms_file))  # the activation's messages
    # Notifications off: the code still goes, the customer asked for it this minute.
    Subscriber.objects.filter(pk=subscriber.pk).update(sms_notifications_enabled=False)

    response = client.post(_url("verify_code", chat), {"destination": f"line:{line.pk}"})

    assert response.status_code == 302
    check = IdentityCheck.objects.get()
    assert (check.method, check.status, check.line) == ("sms_code", "pending", line)
    assert check.code_expires_at == IN_HOURS + dt.timedelta(minutes=10)
    sent = sent_sms(sms_file)[earlier:]
    assert [record["to"] for record in sent] == [line.msisdn]
    assert line.msisdn != subscriber.user.phone
    code = code_in(sent[0]["body"])
    with translation.override("fr"):
        assert "votre code d'identité est" in sent[0]["body"]
    assert len(check.code_hash) == 64
    assert code not in check.code_hash
    stored = Notification.objects.get(template="care.identity_code")
    assert stored.status == NotificationStatus.SENT
    assert code not in stored.body
    assert code not in str(stored.context)
    assert "[hidden]" in stored.body
    with translation.override("fr"):
        assert any("se terminant par" in text for text in _system_texts(chat))
    page = client.get(_url("conversation", chat))
    assert "Code sent" in page.content.decode()


def test_a_code_by_email_goes_through_the_outbox(
    agent: User, customer: tuple[Subscriber, Line], smtp_server: object
) -> None:
    subscriber, _line = customer
    chat = served_chat(agent, subscriber, language="fr")

    signed_in_client(agent).post(_url("verify_code", chat), {"destination": "email"})
    sent_sms(Path("/nonexistent"))  # runs the outbox

    mail = smtp_server.messages  # type: ignore[attr-defined]
    mail = [message for message in mail if "code" in str(message["Subject"])]
    assert [message["To"] for message in mail] == [subscriber.user.email]
    body = mail[0].get_body(preferencelist=("plain",)).get_content()
    assert "Votre code" in body
    code = code_in(body)
    assert code not in Notification.objects.get(template="care.identity_code").body


def test_a_code_to_a_line_that_is_not_the_customers_is_refused(
    agent: User,
    customer: tuple[Subscriber, Line],
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> None:
    subscriber, _line = customer
    stranger_line = make_line(make_subscriber(), plan)
    chat = served_chat(agent, subscriber)

    response = signed_in_client(agent).post(
        _url("verify_code", chat), {"destination": f"line:{stranger_line.pk}"}
    )

    assert response.status_code == 302
    assert _said(response) == (
        "Choose one of the customer's lines, or email for an account with an address."
    )
    assert not IdentityCheck.objects.exists()
    assert not Notification.objects.filter(template="care.identity_code").exists()


# --- PIN and date of birth -----------------------------------------------------------------


def test_the_account_pin_with_the_date_of_birth_verifies_for_15_minutes(
    agent: User, customer: tuple[Subscriber, Line], clock: time_machine.Traveller
) -> None:
    subscriber, _line = customer
    chat = served_chat(agent, subscriber, language="fr")
    client = signed_in_client(agent)

    check = _verify_by_pin(client, chat)

    assert check.method == VerificationMethod.PIN_DOB
    assert check.bound_until == IN_HOURS + dt.timedelta(minutes=15)
    page = client.get(_url("conversation", chat)).content.decode()
    assert "account actions allowed until 10:15" in page
    with translation.override("fr"):
        assert "Merci : votre identité est confirmée." in _system_texts(chat)
    assert AuditEvent.objects.filter(
        action="care.identity_verified", data__identity_check=check.pk
    ).exists()
    clock.shift(dt.timedelta(minutes=14, seconds=59))
    assert verification.valid_check(chat) == check
    clock.shift(dt.timedelta(seconds=1))
    assert verification.valid_check(chat) is None


def test_a_wrong_pin_or_date_fails_and_five_failures_lock_new_checks_for_an_hour(
    agent: User, customer: tuple[Subscriber, Line], clock: time_machine.Traveller
) -> None:
    subscriber, _line = customer
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)
    wrong = [
        {"pin": "1111", "date_of_birth": "1994-05-17"},
        {"pin": PIN, "date_of_birth": "1994-05-18"},
        {"pin": "1111", "date_of_birth": "2000-01-01"},
        {"pin": "9999", "date_of_birth": "1994-05-17"},
        {"pin": "0000", "date_of_birth": "1994-05-17"},
    ]
    for attempt in wrong:
        response = client.post(_url("verify_pin", chat), attempt)
        assert _said(response) == "The PIN or the date of birth is not right."

    right = client.post(_url("verify_pin", chat), {"pin": PIN, "date_of_birth": "1994-05-17"})

    assert _said(right).startswith("Too many failed identity checks for this account")
    assert verification.valid_check(chat) is None
    assert IdentityCheck.objects.filter(status=VerificationStatus.FAILED).count() == 5
    by_code = client.post(_url("verify_code", chat), {"destination": "email"})
    assert _said(by_code).startswith("Too many failed identity checks for this account")
    assert not IdentityCheck.objects.filter(status=VerificationStatus.PENDING).exists()
    clock.shift(dt.timedelta(hours=1, seconds=1))
    _verify_by_pin(client, chat)
    assert not AuditEvent.objects.filter(data__icontains=PIN).exists()


def test_pin_and_date_of_birth_need_both_and_an_account_that_has_them(
    agent: User, make_subscriber: Callable[..., Subscriber]
) -> None:
    chat = served_chat(agent, make_subscriber())
    client = signed_in_client(agent)

    missing = client.post(_url("verify_pin", chat), {"pin": "1234", "date_of_birth": "soon"})
    no_pin = client.post(_url("verify_pin", chat), {"pin": "1234", "date_of_birth": "1990-01-01"})

    assert _said(missing) == "Enter the account PIN and the date of birth (YYYY-MM-DD)."
    assert _said(no_pin) == (
        "This account has no PIN or no date of birth on file: send a code instead."
    )
    assert not IdentityCheck.objects.exists()


# --- renewal ---------------------------------------------------------------------------------


def test_renewal_is_refused_without_a_check_and_changes_nothing(
    agent: User, customer: tuple[Subscriber, Line], fund: Callable[..., LedgerAccount]
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = served_chat(agent, subscriber)
    before = money_snapshot()
    period_end = line.period_end

    response = signed_in_client(agent).post(
        _url("renew", chat), {"line": line.pk, "nonce": "n0nce-abcdef"}
    )

    assert response.status_code == 302
    assert _said(response) == (
        "Verify the customer's identity first: this action needs a successful check "
        "in this chat within the last 15 minutes."
    )
    assert money_snapshot() == before
    line.refresh_from_db()
    assert line.period_end == period_end
    assert not AuditEvent.objects.filter(action="care.line_renewed").exists()


def test_renewal_with_a_check_is_an_agent_order_from_the_wallet_audited_with_the_check(
    agent: User, customer: tuple[Subscriber, Line], fund: Callable[..., LedgerAccount]
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = served_chat(agent, subscriber, language="fr")
    client = signed_in_client(agent)
    check = _verify_by_pin(client, chat)
    period_end = line.period_end

    page = client.get(_url("conversation", chat)).content.decode()
    response = client.post(_url("renew", chat), {"line": line.pk, "nonce": "n0nce-abcdef"})

    order = Order.objects.get(kind=OrderKind.RENEWAL)
    quoted = f"Renewal from the wallet: {format_cents(order.total_cents, language='en')}"
    assert quoted in page  # the quote, first
    assert _said(response) == f"Renewed: order #{order.pk}."
    assert (order.channel, order.payment_method, order.state) == (
        "agent",
        "wallet",
        OrderState.FULFILLED,
    )
    assert order.created_by == agent
    assert order.idempotency_key == f"care:{chat.public_id}:renew:n0nce-abcdef"
    assert balance(subscriber) == 10_000 - order.total_cents
    entries = LedgerEntry.objects.filter(transaction=order.ledger_transaction)
    assert entries.aggregate(total=Sum("amount_cents"))["total"] == 0
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    audit = AuditEvent.objects.get(action="care.line_renewed")
    assert audit.actor == agent
    assert audit.object_id == str(line.pk)
    assert audit.data["identity_check"] == check.pk
    assert audit.data["verification_method"] == "pin_dob"
    assert audit.data["order"] == order.pk
    texts = _system_texts(chat)
    with translation.override("fr"):
        assert any(
            text.startswith("Votre forfait pour la ligne se terminant par") for text in texts
        )
        assert any(format_cents(order.total_cents, language="fr") in text for text in texts)


def test_the_same_renewal_form_twice_renews_once(
    agent: User, customer: tuple[Subscriber, Line], fund: Callable[..., LedgerAccount]
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)
    _verify_by_pin(client, chat)

    first = client.post(_url("renew", chat), {"line": line.pk, "nonce": "same-nonce-1"})
    second = client.post(_url("renew", chat), {"line": line.pk, "nonce": "same-nonce-1"})

    order = Order.objects.get(kind=OrderKind.RENEWAL)
    assert _said(first) == _said(second) == f"Renewed: order #{order.pk}."
    assert balance(subscriber) == 10_000 - order.total_cents
    assert AuditEvent.objects.filter(action="care.line_renewed").count() == 1
    assert sum("renewed until" in text for text in _system_texts(chat)) == 1


def test_the_check_stops_allowing_actions_after_15_minutes(
    agent: User,
    customer: tuple[Subscriber, Line],
    fund: Callable[..., LedgerAccount],
    clock: time_machine.Traveller,
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)
    _verify_by_pin(client, chat)
    clock.shift(dt.timedelta(minutes=15))

    response = client.post(_url("renew", chat), {"line": line.pk, "nonce": "late-nonce-1"})

    assert _said(response).startswith("Verify the customer's identity first")
    assert not Order.objects.filter(kind=OrderKind.RENEWAL).exists()


def test_another_agents_chat_is_404_and_a_watching_admin_cannot_act(
    agent: User,
    customer: tuple[Subscriber, Line],
    make_agent: Callable[..., User],
    fund: Callable[..., LedgerAccount],
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = served_chat(agent, subscriber)
    _verify_by_pin(signed_in_client(agent), chat)
    other = signed_in_client(make_agent(available=False))
    admin = signed_in_client(make_agent(role=Role.ADMIN, available=False))

    for name in ("verify_code", "verify_pin", "renew", "document", "sim_swap", "esim_reissue"):
        assert other.post(_url(name, chat), {"line": line.pk}).status_code == 404
    by_admin = admin.post(_url("renew", chat), {"line": line.pk, "nonce": "admin-nonce"})
    watching = admin.get(_url("conversation", chat)).content.decode()
    assert "Verified (Account PIN and date of birth)" in watching
    assert "Renew now" not in watching  # the panel's actions are for the serving agent

    assert _said(by_admin) == (
        "Only the agent serving this chat can do this, while the chat is open."
    )
    assert not Order.objects.filter(kind=OrderKind.RENEWAL).exists()
    assert not AuditEvent.objects.filter(action="care.document_revealed").exists()


def test_a_line_of_another_customer_is_refused(
    agent: User,
    customer: tuple[Subscriber, Line],
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> None:
    subscriber, _line = customer
    stranger_line = make_line(make_subscriber(), plan)
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)
    _verify_by_pin(client, chat)

    response = client.post(_url("renew", chat), {"line": stranger_line.pk, "nonce": "x-nonce-12"})

    assert _said(response) == "This line is not one of this customer's."
    assert not Order.objects.filter(kind=OrderKind.RENEWAL).exists()


# --- the document number, SIM swap, eSIM -------------------------------------------------


def test_revealing_the_document_number_needs_a_check_and_is_audited(
    agent: User, customer: tuple[Subscriber, Line]
) -> None:
    subscriber, _line = customer
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)

    page = client.get(_url("conversation", chat)).content.decode()
    refused = client.post(_url("document", chat))
    check = _verify_by_pin(client, chat)
    shown = client.post(_url("document", chat))

    assert "T123456789" not in page
    assert "•••••••789" in page
    assert refused.status_code == 302
    assert shown.status_code == 200
    assert "T123456789" in shown.content.decode()
    assert "no-cache" in shown["Cache-Control"] or "no-store" in shown["Cache-Control"]
    audit = AuditEvent.objects.get(action="care.document_revealed")
    assert audit.actor == agent
    assert audit.object_id == str(subscriber.pk)
    assert audit.data["identity_check"] == check.pk
    assert "T123456789" not in str(audit.data)


def test_a_sim_swap_moves_the_line_to_the_card_and_tells_the_customer(
    agent: User, customer: tuple[Subscriber, Line]
) -> None:
    subscriber, line = customer
    old = line.sim
    card = SimCard.objects.create(iccid=iccid(990001), kind=SimKind.PHYSICAL, location="STORE")
    chat = served_chat(agent, subscriber, language="zh-hans")
    client = signed_in_client(agent)
    refused = client.post(_url("sim_swap", chat), {"line": line.pk, "iccid": card.iccid})
    check = _verify_by_pin(client, chat)

    done = client.post(
        _url("sim_swap", chat), {"line": line.pk, "iccid": card.iccid, "reason": "lost"}
    )

    assert _said(refused).startswith("Verify the customer's identity first")
    assert _said(done) == "The line is on the new SIM card."
    line.refresh_from_db()
    old.refresh_from_db()
    assert line.sim == card
    assert old.status == SimStatus.FAULTY
    audit = AuditEvent.objects.get(action="care.sim_swapped")
    assert audit.data["identity_check"] == check.pk
    with translation.override("zh-hans"):
        assert any("新SIM卡" in text for text in _system_texts(chat))


def test_an_esim_reissue_gives_a_new_profile_once_per_form(
    agent: User,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> None:
    subscriber = make_subscriber()
    account_services.set_account_pin(subscriber, PIN)
    subscriber.date_of_birth = BIRTH
    subscriber.save(update_fields=["date_of_birth"])
    line = make_line(subscriber, plan, kind=SimKind.ESIM)
    old = line.sim
    for serial in (990101, 990102):
        SimCard.objects.create(
            iccid=iccid(serial),
            kind=SimKind.ESIM,
            smdp_address="smdp.example.com",
            matching_id=f"MATCH-{serial}",
        )
    chat = served_chat(agent, subscriber)
    client = signed_in_client(agent)
    check = _verify_by_pin(client, chat)
    form = {"line": line.pk, "nonce": "esim-nonce-1", "reason": "new phone"}

    client.post(_url("esim_reissue", chat), form)
    client.post(_url("esim_reissue", chat), form)

    line.refresh_from_db()
    assert line.sim != old
    assert line.sim.kind == SimKind.ESIM
    assert SimCard.objects.filter(kind=SimKind.ESIM, status=SimStatus.IN_STOCK).count() == 1
    audit = AuditEvent.objects.get(action="care.esim_reissued")
    assert audit.data["identity_check"] == check.pk


# --- an anonymous visitor ------------------------------------------------------------------


def _anonymous_chat(agent: User) -> Conversation:
    conversation = chat_services.open_conversation(
        visitor_key="v_anonymous", user=None, language="en"
    )
    chat_services.request_person(conversation)
    conversation.refresh_from_db()
    chat_services.accept_chat(conversation, agent=agent)
    conversation.refresh_from_db()
    return conversation


def test_an_anonymous_visitor_is_linked_by_line_number_or_email_then_verified(
    agent: User, customer: tuple[Subscriber, Line], fund: Callable[..., LedgerAccount]
) -> None:
    subscriber, line = customer
    fund(subscriber, 10_000)
    chat = _anonymous_chat(agent)
    client = signed_in_client(agent)
    form = client.get(_url("conversation", chat)).content.decode()

    unknown = client.post(_url("link_customer", chat), {"contact": "+1 416 555 9999"})
    by_line = client.post(_url("link_customer", chat), {"contact": line.msisdn[2:]})
    chat.refresh_from_db()
    linked_by_line = chat.subscriber
    by_email = client.post(_url("link_customer", chat), {"contact": subscriber.user.email.upper()})
    chat.refresh_from_db()

    assert "Find the customer's account" in form
    assert _said(unknown).startswith("No account has this line number")
    assert _said(by_line) == _said(by_email)
    assert _said(by_email) == "The chat is linked to this account: verify the customer."
    assert linked_by_line == subscriber
    assert chat.subscriber == subscriber
    assert chat.user is None
    assert [
        row.data["found_by"]
        for row in AuditEvent.objects.filter(action="care.customer_linked").order_by("id")
    ] == ["phone", "email"]
    refused = client.post(_url("renew", chat), {"line": line.pk, "nonce": "anon-nonce-1"})
    assert _said(refused).startswith("Verify the customer's identity first")
    _verify_by_pin(client, chat)
    client.post(_url("renew", chat), {"line": line.pk, "nonce": "anon-nonce-1"})
    assert Order.objects.get(kind=OrderKind.RENEWAL).channel == "agent"


def test_a_signed_in_visitors_chat_stays_linked_to_their_account(
    agent: User, customer: tuple[Subscriber, Line], make_subscriber: Callable[..., Subscriber]
) -> None:
    subscriber, _line = customer
    other = make_subscriber()
    chat = served_chat(agent, subscriber)

    response = signed_in_client(agent).post(
        _url("link_customer", chat), {"contact": other.user.email}
    )

    chat.refresh_from_db()
    assert _said(response).startswith("No account has this line number")
    assert chat.subscriber == subscriber
