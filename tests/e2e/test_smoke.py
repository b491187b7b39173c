"""The public pages and the back office, as a person sees them in Chromium."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from simcare.accounts.models import Role, User
from simcare.catalog.models import Plan

pytestmark = pytest.mark.django_db(transaction=True)


def current_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_home_page_switches_language_and_remembers_it(
    live_server: object, page: Page, plan: Plan
) -> None:
    # given
    page.goto(f"{live_server.url}/en/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name=plan.name_en)).to_be_visible()

    # when
    page.get_by_role("button", name="简体中文").click()

    # then
    expect(page).to_have_url(f"{live_server.url}/zh-hans/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="加拿大30天")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.goto(f"{live_server.url}/")  # type: ignore[attr-defined]
    expect(page).to_have_url(f"{live_server.url}/zh-hans/")  # type: ignore[attr-defined]


def test_staff_reaches_the_back_office_only_with_the_authenticator_code(
    live_server: object, page: Page, make_staff: Callable[..., User]
) -> None:
    admin = make_staff(Role.ADMIN, username="ops.admin", password="a long demo password 42")
    base = live_server.url  # type: ignore[attr-defined]

    # a password alone is not enough
    page.goto(f"{base}/en/admin/")
    page.fill("#id_username", "ops.admin")
    page.fill("#id_password", "a long demo password 42")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/en/admin/login/?next=/en/admin/")

    # password and the current code
    page.fill("#id_username", "ops.admin")
    page.fill("#id_password", "a long demo password 42")
    page.fill("#id_otp_token", current_code(admin))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/en/admin/")
    page.goto(f"{base}/en/admin/lines/line/")
    expect(page.locator("#changelist, #result_list, table").first).to_be_visible()
