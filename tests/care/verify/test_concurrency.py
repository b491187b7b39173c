"""Identity checks and agent renewals racing themselves on PostgreSQL: one renewal per form
however often it is submitted at once, and no wrong code lost from the count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from simcare.accounts import services as account_services
from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.care import account_actions, verification
from simcare.care.models import Conversation, IdentityCheck, Message, Sender, Team
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerAccount
from simcare.lines.models import Line
from simcare.notify.models import Channel
from simcare.orders.models import Order, OrderKind
from tests.care.conftest import IN_HOURS
from tests.care.verify.support import code_in, sent_sms, served_chat
from tests.concurrency import at_once
from tests.orders.conftest import assert_ledger_clean, balance

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 8


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(IN_HOURS, tick=False) as traveller:
        yield traveller


@pytest.fixture
def served(
    team: Team,
    make_agent: Callable[..., User],
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> tuple[User, Conversation, Line]:
    agent = make_agent()
    subscriber = make_subscriber()
    account_services.set_account_pin(subscriber, "2468")
    subscriber.date_of_birth = dt.date(1990, 1, 2)
    subscriber.save(update_fields=["date_of_birth"])
    line = make_line(subscriber, plan)
    return agent, served_chat(agent, subscriber), line


def test_the_same_renewal_form_submitted_at_once_renews_once(
    served: tuple[User, Conversation, Line], fund: Callable[..., LedgerAccount]
) -> None:
    agent, chat, line = served
    subscriber = chat.subscriber
    assert subscriber is not None
    fund(subscriber, 100_000)
    verification.check_pin_and_birth_date(
        chat, agent=agent, pin="2468", date_of_birth=dt.date(1990, 1, 2)
    )

    results = at_once(
        lambda _index: account_actions.renew_for_customer(
            Conversation.objects.get(pk=chat.pk),
            agent=agent,
            line_id=line.pk,
            nonce="same-form-nonce",
        ),
        THREADS,
    )

    assert {type(result) for result in results} == {Order}, results
    order = Order.objects.get(kind=OrderKind.RENEWAL)
    assert {result.pk for result in results} == {order.pk}
    assert balance(subscriber) == 100_000 - order.total_cents
    assert AuditEvent.objects.filter(action="care.line_renewed").count() == 1
    renewed = Message.objects.filter(
        conversation=chat, sender=Sender.SYSTEM, body__contains="was renewed until"
    )
    assert renewed.count() == 1
    assert_ledger_clean()


def test_wrong_codes_at_once_are_all_counted_and_lock_after_five(
    served: tuple[User, Conversation, Line], sms_file: Path
) -> None:
    agent, chat, line = served
    earlier = len(sent_sms(sms_file))
    verification.start_code_check(chat, agent=agent, channel=Channel.SMS, line=line)
    code = code_in(sent_sms(sms_file)[earlier]["body"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    results = at_once(lambda _index: verification.submit_code(chat, wrong), THREADS)

    outcomes = sorted(
        str(result[1]) if isinstance(result, tuple) else type(result).__name__ for result in results
    )
    assert outcomes.count("wrong") == 4
    assert outcomes.count("locked") == 1
    assert outcomes.count("NoCodePending") == THREADS - 5
    check = IdentityCheck.objects.get()
    assert (check.status, check.failures) == ("failed", 5)
