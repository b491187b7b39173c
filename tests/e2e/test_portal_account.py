"""The subscriber's account pages in Chromium: a line's usage chart and its table, the
notifications, the profile (language, consent), "download my data", "close my account";
no console error, axe finds no serious or critical problem, and each page fits 360 px."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from simcare.accounts.models import Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines.models import Line, LineState
from tests.e2e.test_portal import assert_accessible, screenshot
from tests.lines.conftest import make_line
from tests.portal.conftest import record_usage

__all__ = ["make_line"]

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a long enough passphrase"


def sign_in(page: Page, base: str, email: str, language: str = "en") -> None:
    page.goto(f"{base}/{language}/accounts/login/?next=/{language}/portal/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.locator("#main form button[type=submit]").last.click()
    expect(page).to_have_url(f"{base}/{language}/portal/")


@pytest.fixture
def ada(
    make_subscriber: Callable[..., Subscriber], make_line: Callable[..., Line], plan: Plan
) -> tuple[Subscriber, Line]:
    subscriber = make_subscriber(username="ada", email="ada@example.com", password=PASSWORD)
    line = make_line(subscriber, plan)
    record_usage(line)
    return subscriber, line


def test_usage_notifications_profile_download_and_closing_the_account(
    live_server: Any, page: Page, ada: tuple[Subscriber, Line], tmp_path: Path
) -> None:
    subscriber, line = ada
    base = live_server.url
    sign_in(page, base, "ada@example.com")

    # the usage chart, from the line card
    page.get_by_role("link", name="Usage").click()
    expect(page).to_have_url(f"{base}/en/portal/lines/{line.msisdn}/usage/")
    expect(page.get_by_role("img", name="Data")).to_be_visible()
    expect(page.get_by_text("Total: 3 MB")).to_be_visible()
    page.get_by_text("Texts: day by day").click()
    expect(page.locator("details.usage-table").nth(2).locator("tbody tr").first).to_contain_text(
        "2 SMS"
    )
    screenshot(page, "usage-desktop-en")
    assert_accessible(page)

    # notifications: the activation messages
    page.get_by_role("link", name="Notifications", exact=True).click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.locator(".notice-list li").first).to_be_visible()
    screenshot(page, "notifications-desktop-en")
    assert_accessible(page)

    # profile: consent to offers, then switch to French from the profile
    page.get_by_role("link", name="Profile", exact=True).click()
    screenshot(page, "profile-desktop-en")
    assert_accessible(page)
    page.get_by_label("Yes, send me offers").check()
    page.select_option("#id_language", "fr")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(f"{base}/fr/portal/profile/")
    expect(page.get_by_text("Vos préférences sont enregistrées.")).to_be_visible()
    expect(page.get_by_role("heading", name="Profil", exact=True)).to_be_visible()
    assert_accessible(page)
    subscriber.refresh_from_db()
    assert subscriber.marketing_consent_wording_version != ""
    # remembered: the home page now opens in French
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/fr/")

    # download my data
    page.goto(f"{base}/fr/portal/profile/")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Télécharger mes données").click()
    saved = tmp_path / "data.json"
    download_info.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["profile"]["email"] == "ada@example.com"
    assert [row["msisdn"] for row in document["lines"]] == [line.msisdn]

    # close the account: refused without the password, then closed
    page.get_by_role("link", name="Fermer mon compte").click()
    screenshot(page, "close-account-desktop-fr")
    assert_accessible(page)
    page.get_by_label("Je comprends").check()
    page.get_by_role("button", name="Fermer mon compte").click()
    expect(page.locator("#form-error")).to_contain_text("Votre mot de passe est incorrect.")
    page.get_by_label("Je comprends").check()
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Fermer mon compte").click()
    expect(page.get_by_role("heading", name="Votre compte est fermé")).to_be_visible()
    assert_accessible(page)
    line.refresh_from_db()
    assert line.state == LineState.RECYCLED
    assert not User.objects.get(pk=subscriber.user_id).is_active

    # and nobody signs in with it again
    page.goto(f"{base}/en/accounts/login/?next=/en/portal/")
    page.fill("#id_username", "ada@example.com")
    page.fill("#id_password", PASSWORD)
    page.locator("#main form button[type=submit]").last.click()
    expect(page).to_have_url(f"{base}/en/accounts/login/?next=/en/portal/")


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_the_account_pages_fit_a_360_pixel_phone(
    live_server: Any, browser: Browser, ada: tuple[Subscriber, Line], language: str
) -> None:
    _subscriber, line = ada
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="en-CA")
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, live_server.url, "ada@example.com", language)
        for path in (f"lines/{line.msisdn}/usage/", "notifications/", "profile/", "profile/close/"):
            page.goto(f"{live_server.url}/{language}/portal/{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width}px wide in {language}"
            if path.endswith("usage/"):
                screenshot(page, f"usage-mobile-{language}")
        assert errors == []
    finally:
        context.close()
