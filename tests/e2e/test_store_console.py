"""A clerk in Chromium: signs in with the authenticator code, sells and activates a SIM for
cash, sees the receipt; a clerk of another store gets "not found" for that sale. And the
public locator filtering with htmx."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from simcare.accounts.models import Role, User
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.orders.models import Order
from simcare.stores.models import Store
from tests.lines.stock_support import iccid

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long clerk password 42"
EVERY_SERVICE = ["sim_sales", "esim", "renewals", "vouchers", "returns"]


def current_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def make_shop(code: str, name: str, city: str, province: str) -> Store:
    return Store.objects.create(
        code=code,
        name=name,
        address="317 Spadina Ave",
        city=city,
        province=province,
        postal_code="M5T 2E9",
        phone="+14169770100",
        hours={day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        services=EVERY_SERVICE,
    )


def assert_accessible(page: Page) -> None:
    """axe-core (shipped inside axe-playwright-python) finds no violation on the page."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def sign_in(page: Page, base: str, user: User, start: str) -> None:
    page.goto(f"{base}{start}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_code(user))
    page.get_by_role("button", name="Log in").click()


def test_a_clerk_sells_and_activates_a_sim_for_cash_and_another_store_cannot_see_it(
    live_server: object,
    page: Page,
    browser: Browser,
    *,
    make_staff: Callable[..., User],
    plan: Plan,
    tmp_path: Path,
) -> None:
    # given: a Toronto clerk with a SIM on the shelf, and a Vancouver clerk
    base = live_server.url  # type: ignore[attr-defined]
    toronto = make_shop("TOR-01", "Toronto Chinatown", "Toronto", "ON")
    vancouver = make_shop("VAN-01", "Vancouver Cambie", "Vancouver", "BC")
    clerk = make_staff(Role.CLERK, username="clerk.tor", password=PASSWORD)
    toronto.clerks.add(clerk)
    stranger = make_staff(Role.CLERK, username="clerk.van", password=PASSWORD)
    vancouver.clerks.add(stranger)
    Number.objects.create(msisdn="+16475550150")
    sim = SimCard.objects.create(
        iccid=iccid(910001), kind=SimKind.PHYSICAL, location="TOR-01", store=toronto
    )

    # when: the clerk signs in (password and authenticator code) and lands on the store
    sign_in(page, base, clerk, "/en/store-console/")
    expect(page).to_have_url(f"{base}/en/store-console/TOR-01/")
    expect(page.get_by_role("heading", name="Toronto Chinatown")).to_be_visible()

    # and sells a SIM to a walk-in customer for cash
    page.get_by_role("link", name="Sell a SIM").first.click()
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "sell.png"), full_page=True)
    page.get_by_label("A new customer").check()
    page.get_by_label("First name").fill("Wei")
    page.get_by_label("Last name").fill("Lin")
    page.get_by_label("Email", exact=True).fill("wei.lin@example.com")
    page.get_by_label("Mobile number", exact=True).fill("416 555 0177")
    page.get_by_label("Plan", exact=True).select_option(str(plan.pk))
    page.get_by_label(f"Physical SIM {sim.iccid}").check()
    page.get_by_role("button", name="Take cash and activate").click()

    # then: the sale, the new line, the drawer, the receipt
    order = Order.objects.get()
    expect(page).to_have_url(f"{base}/en/store-console/TOR-01/sales/{order.pk}/")
    expect(page.get_by_role("heading", name=f"Sale {order.number}")).to_be_visible()
    line = Line.objects.get()
    assert line.sim == sim
    assert order.line == line
    expect(page.locator(".sale-msisdn")).to_have_text("(647) 555-0150")
    expect(page.locator("#drawer-balance")).to_contain_text("$39.55")
    assert ledger.store_drawer(toronto).cached_balance_cents == -3955
    page.screenshot(path=str(tmp_path / "sale.png"), full_page=True)
    page.get_by_role("link", name="Show the receipt").click()
    expect(page).to_have_url(f"{base}/en/orders/{order.pk}/receipt/")
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    expect(page.get_by_role("rowheader", name="HST (13%)")).to_be_visible()

    # and a clerk of another store, signed in the same way, finds nothing there
    context = browser.new_context(locale="en-CA")
    other = context.new_page()
    messages: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            messages.append(message.text)

    other.on("console", on_console)
    other.on("pageerror", lambda error: messages.append(str(error)))
    sign_in(other, base, stranger, "/en/store-console/")
    expect(other).to_have_url(f"{base}/en/store-console/VAN-01/")
    response = other.goto(f"{base}/en/store-console/TOR-01/sales/{order.pk}/")
    assert response is not None
    assert response.status == 404
    expect(other.get_by_role("heading", name="Page not found")).to_be_visible()
    receipt = other.goto(f"{base}/en/orders/{order.pk}/receipt/")
    assert receipt is not None
    assert receipt.status == 404
    context.close()
    # The two refusals are the only errors the browser saw (it logs each 404 it loads).
    assert all("404" in message for message in messages), messages
    assert len(messages) <= 2


def test_the_locator_filters_with_htmx_in_place(
    live_server: object, page: Page, tmp_path: Path
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    make_shop("TOR-01", "Toronto Chinatown", "Toronto", "ON")
    make_shop("VAN-01", "Vancouver Cambie", "Vancouver", "BC")

    page.goto(f"{base}/en/stores/")
    expect(page.get_by_role("heading", name="Vancouver Cambie")).to_be_visible()
    assert_accessible(page)
    page.evaluate("window.marker = 'still the same page'")

    page.get_by_label("Province").select_option("ON")

    expect(page.get_by_role("heading", name="Vancouver Cambie")).to_have_count(0)
    expect(page.get_by_role("heading", name="Toronto Chinatown")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/en/stores/\?.*province=ON"))
    # Swapped in place by htmx: the page was not reloaded.
    assert page.evaluate("window.marker") == "still the same page"
    page.screenshot(path=str(tmp_path / "locator-phone.png"), full_page=True)
