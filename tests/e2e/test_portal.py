"""The subscriber portal in Chromium: register → redeem a voucher → buy an eSIM → see its QR →
renew with a coupon → download the receipt → switch to 中文; another subscriber cannot reach
the line; axe finds no serious or critical accessibility problem on the main pages."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from simcare.catalog.models import Plan
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.orders.models import Coupon, DiscountKind, Order
from simcare.orders.services import vouchers
from tests.lines.conftest import make_line
from tests.lines.stock_support import iccid
from tests.orders.conftest import stripe_standin
from tests.orders.stripe_standin import StripeStandIn

__all__ = ["make_line", "stripe_standin"]

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long enough passphrase"
SEVERE = {"serious", "critical"}
# Set to a folder (docs/screenshots) to write the README's screenshots while the test runs.
SCREENSHOTS = os.environ.get("SIMCARE_SCREENSHOTS", "")


@pytest.fixture
def shop(plan: Plan) -> dict[str, Any]:
    """Two eSIM profiles with numbers, a $100 voucher and the SAVE5 coupon."""
    for serial in (810001, 810002):
        Number.objects.create(msisdn=f"+1647555{serial % 10000:04d}")
        SimCard.objects.create(
            iccid=iccid(serial),
            kind=SimKind.ESIM,
            smdp_address="smdp.example.com",
            matching_id=f"E2E-{serial}",
        )
    _batch, pins = vouchers.generate_batch(
        name="E2E",
        value_cents=10_000,
        count=1,
        expires_at=timezone.now() + dt.timedelta(days=30),
        acting_user=None,
    )
    Coupon.objects.create(code="SAVE5", kind=DiscountKind.FIXED, amount_off_cents=500)
    return {"pin": pins[0][1], "plan": plan}


def register(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/en/accounts/login/?next=/en/portal/")
    page.get_by_role("link", name="Create an account").last.click()
    assert_accessible(page)
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.select_option("#id_language", "en")
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(f"{base}/en/portal/")


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    severe = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation.get("impact") in SEVERE
    ]
    assert severe == [], f"{page.url}: {severe}"


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def test_a_subscriber_buys_an_esim_renews_it_and_reads_the_dashboard_in_chinese(
    live_server: Any, page: Page, browser: Browser, shop: dict[str, Any], tmp_path: Path
) -> None:
    base = live_server.url

    # register
    register(page, base, "mei@example.com")
    expect(page.get_by_text("You have no line yet")).to_be_visible()
    assert_accessible(page)

    # redeem a voucher
    page.get_by_role("link", name="Wallet", exact=True).click()
    page.fill("#id_voucher_pin", "0000 0000 0000")
    page.get_by_role("button", name="Redeem").click()
    expect(page.locator("#form-error")).to_be_visible()
    expect(page.locator("#wallet-balance")).to_have_text("$0.00")
    page.fill("#id_voucher_pin", shop["pin"])
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("Your voucher added $100.00 to your wallet.")).to_be_visible()
    expect(page.locator("#wallet-balance")).to_have_text("$100.00")
    assert_accessible(page)

    # buy an eSIM from the catalog, paid from the wallet
    page.get_by_role("link", name="Plans", exact=True).click()
    page.get_by_role("link", name="Get it as an eSIM · Canada 30 days").click()
    expect(page.get_by_role("heading", name="Get an eSIM on Canada 30 days")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Pay and get my eSIM").click()

    # its QR code
    line = Line.objects.get(subscriber__user__email="mei@example.com")
    expect(page).to_have_url(f"{base}/en/portal/lines/{line.msisdn}/esim/")
    qr = page.get_by_role("img", name="QR code to install your eSIM")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 100
    expect(page.get_by_role("heading", name="iPhone")).to_be_visible()
    assert_accessible(page)

    # renew with a coupon: the quote updates as the code is typed
    page.get_by_role("link", name="My lines", exact=True).click()
    expect(page.get_by_text("Days left")).to_be_visible()
    screenshot(page, "dashboard-desktop-en")
    page.get_by_role("link", name="Renew", exact=True).click()
    expect(page.get_by_role("radio", name="Canada 30 days")).to_be_checked()
    page.wait_for_load_state("load")  # htmx (deferred) listens from DOMContentLoaded on
    page.fill("#id_coupon", "SAVE5")
    expect(page.locator("#quote")).to_contain_text("Discount (SAVE5)", timeout=10_000)
    expect(page.locator("#quote [data-total]")).to_have_text("$33.90")
    screenshot(page, "renew-desktop-en")
    assert_accessible(page)
    page.get_by_role("button", name="Pay and renew").click()
    expect(page.get_by_role("heading", name="Your line is renewed")).to_be_visible()
    assert Order.objects.filter(line=line).count() == 2

    # download the receipt
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download receipt (PDF)").click()
    saved = tmp_path / "receipt.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("table")).to_contain_text("Renewal")
    assert_accessible(page)

    # auto-renew on, from its settings page
    page.get_by_role("link", name="My lines", exact=True).click()
    page.get_by_role("link", name="Auto-renew settings").click()
    assert_accessible(page)
    page.get_by_label("Renew this line automatically").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Your auto-renew settings are saved.")).to_be_visible()
    expect(page.locator(".line-facts")).to_contain_text("On")

    # switch to Chinese: the dashboard is translated
    page.get_by_role("link", name="My lines", exact=True).click()
    page.locator('.language-switcher button[value="zh-hans"]').click()
    expect(page).to_have_url(f"{base}/zh-hans/portal/")
    expect(page.get_by_role("heading", name="我的号码")).to_be_visible()
    expect(page.get_by_text("剩余天数")).to_be_visible()
    expect(page.get_by_text("钱包余额")).to_be_visible()
    screenshot(page, "dashboard-desktop-zh-hans")
    assert_accessible(page)

    # another subscriber cannot reach the line
    other = browser.new_context(locale="en-CA")
    try:
        stranger = other.new_page()
        register(stranger, base, "stranger@example.com")
        for path in ("esim/", "renew/", "auto-renew/"):
            response = stranger.request.get(f"{base}/en/portal/lines/{line.msisdn}/{path}")
            assert response.status == 404, path
        order = Order.objects.filter(line=line).first()
        assert order is not None
        assert stranger.request.get(f"{base}/en/portal/orders/{order.pk}/").status == 404
    finally:
        other.close()


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_the_portal_fits_a_360_pixel_phone(  # noqa: PLR0917 (fixtures)
    live_server: Any,
    browser: Browser,
    make_subscriber: Callable[..., Any],
    make_line: Callable[..., Line],
    plan: Plan,
    language: str,
) -> None:
    subscriber = make_subscriber(email=f"phone-{language}@example.com", password=PASSWORD)
    line = make_line(subscriber, plan, kind=SimKind.ESIM)
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="en-CA")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/{language}/accounts/login/?next=/{language}/portal/")
        page.fill("#id_username", subscriber.user.email)
        page.fill("#id_password", PASSWORD)
        page.locator("#main form button[type=submit]").last.click()
        expect(page).to_have_url(f"{live_server.url}/{language}/portal/")
        for path in ("", f"lines/{line.msisdn}/renew/", "wallet/", "orders/"):
            page.goto(f"{live_server.url}/{language}/portal/{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path or 'dashboard'} is {width}px wide in {language}"
            if path == "":
                screenshot(page, f"dashboard-mobile-{language}")
            if path.endswith("renew/"):
                screenshot(page, f"renew-{language}")
        assert errors == []
    finally:
        context.close()


def test_paying_by_card_reaches_stripe_checkout_under_the_csp(
    live_server: Any, page: Page, stripe_standin: StripeStandIn, shop: dict[str, Any]
) -> None:
    # Stripe's page itself is not ours: the browser gets a stand-in for its address.
    page.route(
        "https://checkout.stripe.test/**",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body="<!doctype html><title>Stripe Checkout</title><h1>Stripe Checkout</h1>",
        ),
    )
    register(page, live_server.url, "card@example.com")
    page.goto(f"{live_server.url}/en/portal/buy/talk30/")

    page.get_by_label("Credit or debit card").check()
    page.get_by_role("button", name="Pay and get my eSIM").click()

    expect(page.get_by_role("heading", name="Stripe Checkout")).to_be_visible()
    assert page.url.startswith("https://checkout.stripe.test/")
    assert Order.objects.get(subscriber__user__email="card@example.com").state == "pending"
