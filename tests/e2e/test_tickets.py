"""A ticket end to end in Chromium: a subscriber writes through "Contact us", an agent
answers and closes it in the console, the subscriber rates it from the emailed link, and
the lead's reports page shows it (every page watched for console and CSP errors)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from simcare.accounts.models import Role, Subscriber, User
from simcare.care.models import AgentProfile, SatisfactionRating, Team, Ticket
from simcare.notify.models import Notification
from tests.conftest import signed_in_client
from tests.e2e.test_aftersales import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ticket_from_the_contact_form_to_its_rating(
    live_server: object,
    page: Page,
    browser: Browser,
    subscriber: Subscriber,
    make_staff: Callable[..., User],
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    agent = make_staff(Role.ADMIN, username="lead.mei")
    team = Team.objects.create(name="Front line", is_default=True, lead=agent)
    AgentProfile.objects.create(user=agent, team=team, languages=["en"])

    # the subscriber writes to us
    sign_in(page, base, subscriber.user.username)
    page.goto(f"{base}/en/help/")
    page.get_by_role("link", name="No answer here? Contact us").click()
    page.get_by_label("Topic").select_option("coverage")
    page.get_by_label("Subject").fill("Roaming in France")
    page.get_by_label("Your message").fill("Does my plan work in Paris?")
    page.get_by_role("button", name="Send").click()
    ticket = Ticket.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"ticket #{ticket.number}")

    # the agent answers and closes it in the console
    console_context = browser.new_context(locale="en-CA")
    console_context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": signed_in_client(agent).cookies["sessionid"].value,
                "url": base,
            }
        ]
    )
    console = console_context.new_page()
    console_errors: list[str] = []
    console.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    console.goto(f"{base}/en/console/tickets/")
    console.get_by_role("link", name=f"#{ticket.number}").click()
    expect(
        console.get_by_role("heading", name=f"#{ticket.number} Roaming in France")
    ).to_be_visible()
    console.get_by_label("Reply").fill("Yes: France is in your roaming zone.")
    console.get_by_role("button", name="Send").click()
    expect(console.locator(".ticket-thread")).to_contain_text("France is in your roaming zone")
    console.get_by_role("button", name="Close the ticket").click()
    expect(console.locator(".ticket-meta")).to_contain_text("Closed")

    # the subscriber reads the answer, then rates from the email's link
    page.goto(f"{base}/en/help/tickets/{ticket.number}/")
    expect(page.locator(".ticket-thread")).to_contain_text("France is in your roaming zone")
    link = Notification.objects.get(template="care.ticket_rating").context["rating_url"]
    page.goto(base + re.sub(r"^https?://[^/]+", "", link))
    page.get_by_label("4").check()
    page.get_by_label("Comment (optional)").fill("Clear answer")
    page.get_by_role("button", name="Send my rating").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you for your rating!")
    rating = SatisfactionRating.objects.get()
    assert (rating.ticket, rating.score, rating.agent) == (ticket, 4, None)

    # the lead's reports
    console.goto(f"{base}/en/console/reports/")
    expect(console.get_by_role("heading", name="Care reports")).to_be_visible()
    expect(console.locator("#report-team tr[data-label='Front line']")).to_contain_text("4.00")
    assert console_errors == []
    console_context.close()
