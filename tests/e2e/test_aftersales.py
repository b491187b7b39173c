"""A faulty SIM replaced end to end: the customer files it with a photo, an agent approves and
swaps the card, the customer sees the new ICCID on the same number with the same days left."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from simcare.accounts.models import Role, Subscriber, User
from simcare.aftersales.models import ReturnRequest
from simcare.orders.models import Order
from tests.aftersales.conftest import buy_sim, image_bytes, spare_sim
from tests.e2e.test_smoke import current_code

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"
__all__ = ["buy_sim"]  # the fixture, shared with tests/aftersales


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/en/accounts/login/")
    page.get_by_label("Email, mobile number or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_faulty_sim_is_replaced_keeping_number_and_days(
    live_server: object,
    page: Page,
    subscriber: Subscriber,
    buy_sim: Callable[..., Order],
    make_staff: Callable[..., User],
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    order = buy_sim(subscriber, at=timezone.now())
    line = order.line
    assert line is not None
    old_iccid = line.sim.iccid
    new_sim = spare_sim()
    agent = make_staff(Role.AGENT, username="agent.ana", password=PASSWORD)

    # the customer files the request with a photo, after checking the policy
    sign_in(page, base, subscriber.user.username)
    page.goto(f"{base}/en/portal/returns/new/")
    page.get_by_label("Order").select_option(str(order.pk))
    page.get_by_label("Faulty card: replacement").check()
    page.get_by_label("What is wrong with the card?").select_option("no_network")
    page.get_by_role("button", name="Check eligibility").click()
    expect(page.get_by_role("heading", name="Within our policy")).to_be_visible()
    page.get_by_label("Description").fill("No signal anywhere since day one")
    page.get_by_label("Photos (up to 5; JPEG, PNG or WebP)").set_input_files(
        [{"name": "card.jpg", "mimeType": "image/jpeg", "buffer": image_bytes()}]
    )
    page.get_by_role("button", name="Send the request").click()
    rma = ReturnRequest.objects.get()
    expect(page).to_have_url(f"{base}/en/portal/returns/{rma.pk}/")
    expect(page.locator(".rma-state")).to_have_text("Requested")
    expect(page.locator(".iccid")).to_have_text(old_iccid)
    days_before = page.locator(".days-left").inner_text()
    expect(page.get_by_role("img", name="Photo 1")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # the agent approves and swaps the card
    page.goto(f"{base}/en/admin/login/?next=/en/console/returns/{rma.pk}/")
    page.fill("#id_username", "agent.ana")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_code(agent))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/en/console/returns/{rma.pk}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".rma-state")).to_have_text("Approved")
    page.get_by_label("ICCID of the new SIM card").fill(new_sim.iccid)
    page.get_by_role("button", name="Swap to the new card").click()
    expect(page.locator(".rma-state")).to_have_text("Replacement sent")
    page.context.clear_cookies()

    # the customer's line: new ICCID, same number, same days left
    sign_in(page, base, subscriber.user.username)
    page.goto(f"{base}/en/portal/returns/{rma.pk}/")
    expect(page.locator(".rma-state")).to_have_text("Replacement sent")
    expect(page.locator(".iccid")).to_have_text(new_sim.iccid)
    expect(page.locator(".msisdn")).to_contain_text(line.msisdn[-4:])
    expect(page.locator(".days-left")).to_have_text(days_before)


def test_the_returns_and_reviews_pages_pass_axe(
    live_server: object,
    page: Page,
    subscriber: Subscriber,
    buy_sim: Callable[..., Order],
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    base = live_server.url  # type: ignore[attr-defined]
    order = buy_sim(subscriber, at=timezone.now())
    axe = Axe()
    sign_in(page, base, subscriber.user.username)
    pages = [
        "/en/reviews/",
        "/fr/portal/returns/",
        f"/zh-hans/portal/returns/new/?order={order.pk}&kind=no_reason&check=1",
        f"/en/portal/reviews/new/{order.pk}/",
    ]
    problems = {}
    for path in pages:
        page.goto(f"{base}{path}")
        results = axe.run(page)
        violations = [
            f"{violation['id']}: {violation['help']}"
            for violation in results.response["violations"]
            if violation["impact"] in ("serious", "critical")
        ]
        if violations:
            problems[path] = violations
    assert problems == {}
