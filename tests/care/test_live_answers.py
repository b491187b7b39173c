"""Live answers from a signed-in subscriber's own data; never for a visitor or staff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone

from simcare.accounts.models import Role, Subscriber, User
from simcare.care.bot import answer_for
from simcare.catalog.models import Plan
from simcare.kit.iccid import make_iccid
from simcare.ledger import services as ledger_services
from simcare.lines import services as line_services
from simcare.lines.models import Bucket, Line, Number, SimCard, SimKind
from simcare.orders.models import Order, OrderKind, OrderState, SalesChannel

pytestmark = pytest.mark.django_db

ACTIVATED = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan) -> Line:
    number = Number.objects.create(msisdn="+16475550123")
    sim = SimCard.objects.create(
        iccid=make_iccid("891230000077777777"), kind=SimKind.PHYSICAL, location="WAREHOUSE"
    )
    return line_services.activate_line(
        subscriber,
        plan,
        kind=SimKind.PHYSICAL,
        acting_user=None,
        sim=sim,
        msisdn=number.msisdn,
        now=ACTIVATED,
    )


def top_up(subscriber: Subscriber, cents: int) -> None:
    ledger_services.transfer(
        kind="wallet_topup",
        source=ledger_services.system_account("clearing:stripe"),
        destination=ledger_services.wallet_for(subscriber),
        amount_cents=cents,
    )


def test_a_subscriber_gets_their_wallet_balance_in_their_language(
    subscriber: Subscriber, line: Line
) -> None:
    top_up(subscriber, 123456)

    english = answer_for("what is my balance?", language="en", user=subscriber.user)
    french = answer_for("quel est mon solde?", language="fr", user=subscriber.user)
    chinese = answer_for("我的余额是多少", language="zh-hans", user=subscriber.user)

    assert (english.intent, english.slug, english.handoff) == ("live:balance", None, False)
    assert english.text == "Your wallet balance is $1,234.56."
    assert french.text == "Le solde de votre portefeuille est de 1\u202f234,56\u00a0$."
    assert chinese.text == "您的钱包余额为 1,234.56 加元。"


def test_a_subscriber_gets_the_expiry_date_and_days_left_of_each_line(
    subscriber: Subscriber, line: Line
) -> None:
    now = timezone.now()
    line.period_end = now + dt.timedelta(days=5)
    line.save(update_fields=["period_end"])

    answer = answer_for("when does my plan expire?", language="en", user=subscriber.user)

    assert answer.intent == "live:expiry"
    assert answer.text.startswith("(647) 555-0123 (Canada 30 days) expires on ")
    assert answer.text.endswith(": 5 days left.") or answer.text.endswith(": 6 days left.")


def test_a_subscriber_gets_what_is_left_of_their_allowances(
    subscriber: Subscriber, line: Line
) -> None:
    now = timezone.now()
    line.buckets.all().delete()
    Bucket.objects.create(
        line=line,
        kind="data",
        source="plan",
        total=20 * 1024 * 1024,
        used=7 * 1024 * 1024 + 512 * 1024,
        starts_at=now - dt.timedelta(days=1),
        expires_at=now + dt.timedelta(days=20),
    )
    Bucket.objects.create(
        line=line,
        kind="voice",
        source="plan",
        total=None,
        starts_at=now - dt.timedelta(days=1),
        expires_at=now + dt.timedelta(days=20),
    )

    answer = answer_for("how much data do I have left", language="en", user=subscriber.user)

    assert answer.text == "(647) 555-0123 has left: data: 12.5 GB; calls: unlimited."


def test_a_subscriber_gets_their_last_order_and_a_renewal_link(
    subscriber: Subscriber, line: Line, plan: Plan
) -> None:
    order = Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.WEB,
        state=OrderState.FULFILLED,
        subscriber=subscriber,
        line=line,
        plan=plan,
        total_cents=3955,
        idempotency_key="test:live-order",
        created_at=dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC),
    )

    last = answer_for("what about my last order", language="en", user=subscriber.user)
    renewal = answer_for("je veux renouveler ma ligne", language="fr", user=subscriber.user)

    assert last.text == (
        f"Your last order, no. {order.pk} of Nov. 25, 2026: Renewal, $39.55, Completed."
    )
    assert renewal.intent == "live:renewal"
    assert [link.url for link in renewal.links] == ["/fr/portal/"]


def test_a_visitor_asking_for_a_balance_gets_the_article_not_account_data(
    demo_kb: Path, subscriber: Subscriber, line: Line
) -> None:
    top_up(subscriber, 5000)

    answer = answer_for("what is my balance?", language="en", user=None)

    assert (answer.slug, answer.intent) == ("check-balance", "article")
    assert "$50.00" not in answer.text


def test_staff_get_the_article_too(
    demo_kb: Path, make_staff: Callable[..., User], line: Line
) -> None:
    agent = make_staff(Role.AGENT)

    answer = answer_for("when does my plan expire?", language="en", user=agent)

    assert answer.intent == "article"


def test_a_subscriber_without_wallet_or_line_is_told_so_and_nothing_is_written(
    subscriber: Subscriber,
) -> None:
    from simcare.ledger.models import LedgerAccount

    balance = answer_for("what is my balance?", language="en", user=subscriber.user)
    expiry = answer_for("我的套餐哪天到期", language="zh-hans", user=subscriber.user)
    order = answer_for("where is my order?", language="en", user=subscriber.user)

    assert balance.text == "Your wallet balance is $0.00."
    assert expiry.text == "你的账户下没有在用的线路。"
    assert order.text == "You have no orders yet."
    assert LedgerAccount.objects.count() == 0
