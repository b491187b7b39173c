"""A subscriber opens a receipt in Chromium: the site's layout, the receipt's own stylesheet
under the CSP, Chinese text, and the PDF download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.orders.models import Order, Receipt
from simcare.orders.services import receipts
from tests.orders.conftest import make_order

__all__ = ["make_order"]

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def receipt(
    make_subscriber: Callable[..., Subscriber], plan: Plan, make_order: Callable[..., Order]
) -> Receipt:
    """Lin's paid renewal in Quebec, and its receipt."""
    lin = make_subscriber(
        username="lin.wei", email="lin.wei@example.com", password=PASSWORD, language="zh-hans"
    )
    return receipts.issue_receipt(make_order(lin, plan, province="QC"))


def test_a_subscriber_reads_their_receipt_in_chinese_and_downloads_the_pdf(
    live_server: object, page: Page, receipt: Receipt, tmp_path: Path
) -> None:
    # given
    order = receipt.order
    base = live_server.url  # type: ignore[attr-defined]

    # when: Lin signs in and opens the receipt
    page.goto(f"{base}/zh-hans/orders/{order.pk}/receipt/")
    page.fill("#id_username", "lin.wei@example.com")
    page.fill("#id_password", PASSWORD)
    page.locator("#id_password").press("Enter")

    # then
    expect(page).to_have_url(f"{base}/zh-hans/orders/{order.pk}/receipt/")
    expect(page.get_by_role("heading", name="收据")).to_be_visible()
    expect(page.get_by_text("加拿大30天")).to_be_visible()
    expect(page.get_by_text("魁北克销售税")).to_be_visible()
    table_width = page.locator(".receipt-items").evaluate("table => table.offsetWidth")
    assert table_width > 400  # the receipt stylesheet applies
    page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{receipt.number}.pdf"
    saved = tmp_path / "receipt.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
