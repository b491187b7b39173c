"""Identity verification and "was this helpful?" in Chromium: a signed-in customer rates
the bot's article answer, asks for a person, the agent sends a code by SMS, the customer
types it in the widget's code box, and the agent renews the line from the console.

Pages come from a `simcare serve` process on the test database (real WebSockets); the
test process runs the outbox, with the file SMS backend, to read the code as sent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from simcare.accounts.models import Role, Subscriber, User
from simcare.care import chat_queries, hours
from simcare.care.models import (
    AgentProfile,
    Article,
    ArticleFeedback,
    ArticleTranslation,
    IdentityCheck,
    OpeningHours,
    Team,
)
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines import services as line_services
from simcare.lines.models import Number, SimCard, SimKind
from simcare.notify import services as notify_services
from simcare.orders.models import Order, OrderKind
from tests.care.servers import web_processes
from tests.conftest import signed_in_client
from tests.lines.stock_support import iccid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    with web_processes(1, tmp_path / "web") as ports:
        yield f"http://127.0.0.1:{ports[0]}"


@pytest.fixture
def open_team() -> Team:
    team = Team.objects.create(name="Around the clock", is_default=True, province="ON")
    for weekday in range(7):
        OpeningHours.objects.create(
            team=team, weekday=weekday, opens_at=dt.time(0), closes_at=dt.time(23, 59, 59)
        )
    if not hours.is_open(chat_queries.schedule_for(team), timezone.now()):
        pytest.skip("today is a holiday in Ontario (or the last second of the day)")
    return team


def _signed_in(page: Page, user: User, site: str) -> None:
    cookie = signed_in_client(user).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": site}])


def test_the_customer_types_the_code_in_the_widget_and_the_agent_renews(
    site: str,
    page: Page,
    *,
    browser: Browser,
    open_team: Team,
    make_staff: Callable[..., User],
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    settings: Any,
    tmp_path: Path,
) -> None:
    sms_log = tmp_path / "sms.log"
    settings.SIMCARE_SMS_BACKEND = "simcare.notify.sms.FileSmsBackend"
    settings.SIMCARE_SMS_FILE = sms_log
    article = Article.objects.create(slug="esim-activation", category="esim")
    ArticleTranslation.objects.create(
        article=article,
        language="en",
        question="How do I activate my eSIM?",
        alternatives=[],
        answer="Scan the QR code from your email.",
    )
    subscriber = make_subscriber(first_name="Lin")
    Number.objects.create(msisdn="+19055550177")
    card = SimCard.objects.create(iccid=iccid(880001), kind=SimKind.PHYSICAL, location="W")
    line = line_services.activate_line(
        subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None, sim=card, msisdn="+19055550177"
    )
    ledger.transfer(
        kind="wallet_topup",
        source=ledger.system_account("clearing:stripe"),
        destination=ledger.wallet_for(subscriber),
        amount_cents=10_000,
    )
    notify_services.send_due()  # the activation's messages
    agent = make_staff(Role.AGENT, username="agent.mei")
    AgentProfile.objects.create(user=agent, team=open_team, languages=["en"], is_available=True)
    agent_context = browser.new_context(locale="en-CA")
    console = agent_context.new_page()
    _signed_in(console, agent, site)
    console.goto(f"{site}/en/console/")

    # the bot answers from the article; the customer says it helped, once
    _signed_in(page, subscriber.user, site)
    page.goto(f"{site}/en/")
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_role("textbox", name="Type your question").fill("How do I activate my eSIM?")
    page.get_by_role("button", name="Send", exact=True).click()
    log = page.locator(".simcare-chat-log")
    answer = log.locator(".simcare-msg-bot")
    expect(answer).to_contain_text("Scan the QR code")
    answer.get_by_role("button", name="Yes").click()
    expect(page.locator(".simcare-chat-state")).to_have_text("Thank you for your feedback.")
    expect(answer.get_by_role("button", name="Yes")).to_have_count(0)
    assert ArticleFeedback.objects.get().is_helpful is True

    # a person takes the chat and sends a code by SMS to the line
    page.get_by_role("button", name="Talk to a person").click()
    console.get_by_role("button", name="Accept").click()
    expect(console.get_by_label("Send a one-time code")).to_be_visible()
    console.get_by_role("button", name="Send the code").click()
    expect(log.locator(".simcare-msg-system").last).to_contain_text("ending in 0177")
    code_box = page.get_by_role("textbox", name="Identity code (6 digits)")
    expect(code_box).to_be_visible()
    notify_services.send_due()
    sent = [json.loads(row) for row in sms_log.read_text(encoding="utf-8").splitlines()]
    assert sent[-1]["to"] == line.msisdn
    found = re.search(r"\b(\d{6})\b", sent[-1]["body"])
    assert found is not None

    # the customer types it; the console shows the check and renews
    code_box.fill(found.group(1))
    page.get_by_role("button", name="Confirm").click()
    expect(log.locator(".simcare-msg-system").last).to_have_text(
        "Thank you: your identity is confirmed."
    )
    expect(code_box).to_be_hidden()
    expect(console.locator(".verify-ok")).to_contain_text("Verified (Code by SMS)")
    console.get_by_role("button", name="Renew now").click()
    expect(log.locator(".simcare-msg-system").last).to_contain_text(
        "Your plan for the line ending in 0177 was renewed until"
    )
    order = Order.objects.get(kind=OrderKind.RENEWAL)
    assert order.channel == "agent"
    assert IdentityCheck.objects.get().status == "verified"
    agent_context.close()
