"""Receipts: issued once per paid order, numbered in order, shown as a page and as a PDF.

The PDF checks go through poppler-utils (pdftotext, pdffonts, pdftoppm), as a
reader would open the file.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image, ImageChops

from simcare.accounts.models import Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.orders.errors import ReceiptNotAvailable
from simcare.orders.models import (
    Coupon,
    Order,
    OrderItem,
    OrderState,
    PaymentMethod,
    Receipt,
)
from simcare.orders.services import receipts
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]
NNBSP, NBSP = "\u202f", "\u00a0"
HST_ZH = "统一销售税（HST） 13%"  # noqa: RUF001  (Chinese full-width parentheses)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftotext, pdftoppm) not installed"
)


@pytest.fixture
def lin(make_subscriber: Callable[..., Subscriber]) -> Subscriber:
    return make_subscriber(
        username="lin.wei",
        email="lin.wei@example.com",
        first_name="Wei",
        last_name="Lin",
        language="zh-hans",
    )


@pytest.fixture
def renewal(
    lin: Subscriber, plan: Plan, make_line: Callable[..., Line], make_order: MakeOrder
) -> Order:
    """Lin's renewal of "加拿大30天" in Ontario: $35.00 + HST 13% $4.55 = $39.55, by wallet."""
    return make_order(lin, plan, line=make_line(lin, plan), province="ON")


def run(*command: str, data: bytes | None = None) -> bytes:
    return subprocess.run(command, input=data, capture_output=True, check=True, timeout=60).stdout


def pdf_text(pdf: bytes) -> str:
    return run("pdftotext", "-layout", "-enc", "UTF-8", "-", "-", data=pdf).decode()


def first_page_png(pdf: bytes, folder: Path, name: str) -> Path:
    source = folder / f"{name}.pdf"
    source.write_bytes(pdf)
    run(
        "pdftoppm",
        "-png",
        "-r",
        "100",
        "-f",
        "1",
        "-l",
        "1",
        "-singlefile",
        str(source),
        str(folder / name),
    )
    return folder / f"{name}.png"


# --- issuing ----------------------------------------------------------------------------------


def test_issuing_twice_returns_the_same_receipt(renewal: Order) -> None:
    first = receipts.issue_receipt(renewal)
    second = receipts.issue_receipt(Order.objects.get(pk=renewal.pk))

    assert second.pk == first.pk
    assert Receipt.objects.filter(order=renewal).count() == 1
    assert first.language == "zh-hans"  # the subscriber's preferred language


def test_receipt_numbers_are_unique_and_follow_the_order_of_issue(
    lin: Subscriber, plan: Plan, make_order: MakeOrder
) -> None:
    orders = [make_order(lin, plan) for _ in range(4)]

    numbers = [receipts.issue_receipt(order).number for order in reversed(orders)]

    assert all(re.fullmatch(r"R-\d{4}-\d{7}", number) for number in numbers)
    assert len(set(numbers)) == 4
    assert numbers == sorted(numbers)


@pytest.mark.parametrize("state", [OrderState.PENDING, OrderState.CANCELLED, OrderState.FAILED])
def test_an_unpaid_order_gets_no_receipt(
    lin: Subscriber, plan: Plan, make_order: MakeOrder, state: OrderState
) -> None:
    order = make_order(lin, plan, state=state)

    with pytest.raises(ReceiptNotAvailable) as refusal:
        receipts.issue_receipt(order)

    assert refusal.value.code == "receipt_not_available"
    assert Receipt.objects.count() == 0


def test_the_state_in_the_database_decides_not_a_stale_copy(renewal: Order) -> None:
    # given: the order was cancelled meanwhile; the caller holds an old copy that says fulfilled
    Order.objects.filter(pk=renewal.pk).update(state=OrderState.CANCELLED)

    with pytest.raises(ReceiptNotAvailable):
        receipts.issue_receipt(renewal)

    assert Receipt.objects.count() == 0


# --- what the HTML shows -----------------------------------------------------------------------

LABELS = {
    "en": ["Receipt number", "Order number", "Subtotal", "Total", "Payment method", "Wallet"],
    "fr": [
        "Numéro de reçu",
        "Numéro de commande",
        "Sous-total",
        "Mode de paiement",
        "Portefeuille",
    ],
    "zh-hans": ["收据编号", "订单编号", "小计", "合计", "支付方式", "钱包"],
}
ONTARIO = {
    "en": ["$35.00", "HST (13%)", "$4.55", "$39.55", "Dec. 1, 2026, 10:30 a.m."],
    "fr": [
        f"35,00{NBSP}$",
        f"TVH (13{NNBSP}%)",
        f"4,55{NBSP}$",
        f"39,55{NBSP}$",
        "1 décembre 2026 10:30",
    ],
    "zh-hans": [
        "35.00 加元",
        HST_ZH,
        "4.55 加元",
        "39.55 加元",
        "2026年12月1日 10:30",
    ],
}


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_the_receipt_speaks_each_language_with_its_own_money_and_dates(
    renewal: Order, language: str
) -> None:
    receipt = receipts.issue_receipt(renewal)

    html = receipts.render_receipt_html(receipt, language=language)

    assert f'<html lang="{language}">' in html
    for text in [*LABELS[language], *ONTARIO[language], receipt.number, renewal.number]:
        assert text in html, text
    assert "(905) 555-" in html  # the line's number, formatted
    assert "Wei Lin" in html
    assert "lin.wei@example.com" in html


def test_without_a_language_the_receipt_is_in_the_subscribers_preferred_one(
    renewal: Order,
) -> None:
    receipt = receipts.issue_receipt(renewal)

    html = receipts.render_receipt_html(receipt)

    assert "收据编号" in html
    assert "39.55 加元" in html
    assert "加拿大30天" in html


def test_items_take_the_plan_name_of_the_receipts_language(renewal: Order) -> None:
    receipt = receipts.issue_receipt(renewal)

    assert "Canada 30 days" in receipts.render_receipt_html(receipt, language="en")
    assert "Canada 30 jours" in receipts.render_receipt_html(receipt, language="fr")


def test_quebec_shows_gst_and_qst_on_separate_lines(
    lin: Subscriber, plan: Plan, make_order: MakeOrder
) -> None:
    # $35.00: GST 5% $1.75, QST 9.975% $3.49, total $40.24
    receipt = receipts.issue_receipt(make_order(lin, plan, province="QC"))

    english = receipts.render_receipt_html(receipt, language="en")
    french = receipts.render_receipt_html(receipt, language="fr")

    assert re.search(r"GST \(5%\)</th><td>\$1\.75<", english)
    assert re.search(r"QST \(9\.975%\)</th><td>\$3\.49<", english)
    assert "$40.24" in english
    assert "HST" not in english.replace("GST/HST", "")
    assert f"TPS (5{NNBSP}%)" in french
    assert f"TVQ (9,975{NNBSP}%)" in french
    assert f"40,24{NBSP}$" in french


def test_a_coupon_discount_is_a_line_of_its_own(
    lin: Subscriber, plan: Plan, make_order: MakeOrder, coupon: Coupon
) -> None:
    # two periods: $70.00, WELCOME5 -$5.00, HST 13% of $65.00 = $8.45, total $73.45
    order = make_order(lin, plan, periods=2, coupon=coupon, discount_cents=500)

    html = receipts.render_receipt_html(receipts.issue_receipt(order), language="en")

    assert re.search(r"Discount \(coupon WELCOME5\)</th><td>-\$5\.00<", html)
    assert "$70.00" in html
    assert re.search(r"HST \(13%\)</th><td>\$8\.45<", html)
    assert "$73.45" in html


def test_a_refund_is_shown_with_what_was_paid_in_the_end(
    lin: Subscriber, plan: Plan, make_order: MakeOrder
) -> None:
    order = make_order(
        lin, plan, state=OrderState.REFUNDED, refunded_cents=1000, payment_method=PaymentMethod.CARD
    )

    html = receipts.render_receipt_html(receipts.issue_receipt(order), language="en")

    assert "Refunded on Dec. 3, 2026, 10:30 a.m." in html
    assert "-$10.00" in html
    assert re.search(r"Net paid</th><td>\$29\.55<", html)
    assert "Card" in html


def test_the_seller_is_named_as_configured(renewal: Order, settings: Any) -> None:
    settings.SIMCARE_BUSINESS_NAME = "Maple Mobile Ltd."
    settings.SIMCARE_BUSINESS_ADDRESS = "1 Bay St\nToronto ON  M5J 2R8"
    settings.SIMCARE_TAX_REGISTRATION = "987654321 RT0001"

    html = receipts.render_receipt_html(receipts.issue_receipt(renewal), language="en")

    assert "Maple Mobile Ltd." in html
    assert "<p>1 Bay St</p><p>Toronto ON  M5J 2R8</p>" in html
    assert "GST/HST registration no. 987654321 RT0001" in html


def test_names_are_escaped(
    make_subscriber: Callable[..., Subscriber], plan: Plan, make_order: MakeOrder
) -> None:
    someone = make_subscriber(first_name="<script>alert(1)</script>", last_name="X")

    html = receipts.render_receipt_html(receipts.issue_receipt(make_order(someone, plan)))

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_receipt_links_for_emails_are_absolute_and_in_the_language_asked(
    renewal: Order, settings: Any
) -> None:
    settings.SIMCARE_PUBLIC_BASE_URL = "https://my.simcare.example/"
    receipt = receipts.issue_receipt(renewal)

    assert receipts.receipt_url(receipt, "fr") == (
        f"https://my.simcare.example/fr/orders/{renewal.pk}/receipt/"
    )
    assert receipts.receipt_url(receipt, "en", pdf=True) == (
        f"https://my.simcare.example/en/orders/{renewal.pk}/receipt.pdf"
    )
    assert receipts.receipt_url(receipt) == (
        f"https://my.simcare.example/zh-hans/orders/{renewal.pk}/receipt/"
    )


# --- the PDF -----------------------------------------------------------------------------------


@needs_poppler
def test_the_pdf_is_a_pdf_with_the_chinese_text_and_font(renewal: Order) -> None:
    pdf = receipts.render_receipt_pdf(receipts.issue_receipt(renewal), language="zh-hans")

    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "加拿大30天" in text
    assert "收据编号" in text
    assert "39.55 加元" in text


@needs_poppler
def test_the_pdf_embeds_the_cjk_font(renewal: Order, tmp_path: Path) -> None:
    source = tmp_path / "receipt.pdf"
    source.write_bytes(receipts.render_receipt_pdf(receipts.issue_receipt(renewal)))

    fonts = run("pdffonts", str(source)).decode()

    assert "Noto-Sans-CJK-SC" in fonts


@needs_poppler
def test_chinese_glyphs_are_drawn_not_missing_glyph_boxes(renewal: Order, tmp_path: Path) -> None:
    """The same page three times, only the item's text changing: Chinese, characters no font
    has (drawn as the missing-glyph box), and nothing. Chinese must differ from both."""
    receipt = receipts.issue_receipt(renewal)
    item = OrderItem.objects.get(order=renewal)

    def page_with(description: str, name: str) -> Image.Image:
        OrderItem.objects.filter(pk=item.pk).update(description=description)
        pdf = receipts.render_receipt_pdf(receipt, language="zh-hans")
        return Image.open(first_page_png(pdf, tmp_path, name)).convert("L")

    chinese = page_with("加拿大三十天套餐", "chinese")
    boxes = page_with("\U000f0000\U000f0001\U000f0002\U000f0003\U000f0004\U000f0005", "boxes")
    blank = page_with("-", "blank")

    assert chinese.size == boxes.size == blank.size
    assert ImageChops.difference(chinese, boxes).getbbox() is not None
    assert ImageChops.difference(chinese, blank).getbbox() is not None
    # ink where the description sits: the Chinese line is really drawn
    changed = ImageChops.difference(chinese, blank).getbbox()
    assert changed is not None
    region = chinese.crop(changed)
    dark = sum(region.histogram()[:128])
    assert dark > 200


@needs_poppler
def test_weasyprint_finds_a_glyph_for_every_character(
    renewal: Order, caplog: pytest.LogCaptureFixture
) -> None:
    # given: WeasyPrint warns of each character it has to draw as the missing-glyph box
    caplog.set_level(logging.WARNING, logger="weasyprint")
    receipt = receipts.issue_receipt(renewal)

    # when
    for language in ("zh-hans", "fr", "en"):
        receipts.render_receipt_pdf(receipt, language=language)

    # then
    assert [
        record.getMessage() for record in caplog.records if "notdef" in record.getMessage()
    ] == []


# --- the pages ---------------------------------------------------------------------------------


def receipt_page(order: Order, language: str = "en") -> str:
    with translation.override(language):
        return reverse("orders:receipt", kwargs={"order_id": order.pk})


def receipt_pdf(order: Order, language: str = "en") -> str:
    with translation.override(language):
        return reverse("orders:receipt_pdf", kwargs={"order_id": order.pk})


def test_the_owner_sees_the_receipt_page_in_the_sites_layout(renewal: Order) -> None:
    receipt = receipts.issue_receipt(renewal)
    client = signed_in_client(renewal.subscriber.user)  # type: ignore[union-attr]

    response = client.get(receipt_page(renewal, "fr"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="site-header"' in page
    assert "Numéro de reçu" in page
    assert receipt.number in page
    assert f"39,55{NBSP}$" in page
    assert f'href="{receipt_pdf(renewal, "fr")}"' in page
    assert "private" in response["Cache-Control"]


def test_the_page_in_chinese(renewal: Order) -> None:
    client = signed_in_client(renewal.subscriber.user)  # type: ignore[union-attr]

    page = client.get(receipt_page(renewal, "zh-hans")).content.decode()

    assert "收据编号" in page
    assert HST_ZH in page


@needs_poppler
def test_the_pdf_download_is_named_after_the_receipt(renewal: Order) -> None:
    receipt = receipts.issue_receipt(renewal)
    client = signed_in_client(renewal.subscriber.user)  # type: ignore[union-attr]

    response = client.get(receipt_pdf(renewal, "en"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{receipt.number}.pdf"'
    assert "Receipt number" in pdf_text(response.content)


def test_a_paid_order_without_a_receipt_yet_gets_one_on_first_view(renewal: Order) -> None:
    client = signed_in_client(renewal.subscriber.user)  # type: ignore[union-attr]

    first = client.get(receipt_page(renewal))
    second = client.get(receipt_page(renewal))

    assert (first.status_code, second.status_code) == (200, 200)
    assert Receipt.objects.filter(order=renewal).count() == 1


def test_another_subscribers_receipt_is_not_found(
    renewal: Order, make_subscriber: Callable[..., Subscriber]
) -> None:
    receipts.issue_receipt(renewal)
    stranger = signed_in_client(make_subscriber().user)

    page = stranger.get(receipt_page(renewal))
    pdf = stranger.get(receipt_pdf(renewal))

    assert (page.status_code, pdf.status_code) == (404, 404)


def test_an_unpaid_order_has_no_receipt_page(
    lin: Subscriber, plan: Plan, make_order: MakeOrder
) -> None:
    order = make_order(lin, plan, state=OrderState.PENDING)
    client = signed_in_client(lin.user)

    page = client.get(receipt_page(order))
    pdf = client.get(receipt_pdf(order))

    assert (page.status_code, pdf.status_code) == (404, 404)
    assert Receipt.objects.count() == 0


def test_signing_in_comes_first(renewal: Order) -> None:
    response = Client().get(receipt_page(renewal))

    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/")


def test_agents_see_any_receipt_once_their_second_factor_is_verified(
    renewal: Order, make_staff: Callable[..., User]
) -> None:
    agent = make_staff(Role.AGENT)

    verified = signed_in_client(agent).get(receipt_page(renewal))
    unverified = signed_in_client(agent, verified=False).get(receipt_page(renewal))

    assert verified.status_code == 200
    assert unverified.status_code == 302
    assert unverified["Location"].startswith("/en/admin/login/")


def test_a_receipt_page_only_answers_reads(renewal: Order) -> None:
    client = signed_in_client(renewal.subscriber.user)  # type: ignore[union-attr]

    response = client.post(receipt_page(renewal))

    assert response.status_code == 405


# --- through the ordering service ---------------------------------------------------------------


@needs_poppler
def test_a_renewal_paid_from_the_wallet_has_its_receipt_with_quebec_taxes(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
    fund: Callable[[Subscriber, int], Any],
) -> None:
    # given: Lin in Quebec, $100 in the wallet
    from simcare.orders.services import ordering

    lin = make_subscriber(username="lin.qc", language="zh-hans", province="QC")
    line = make_line(lin, plan)
    fund(lin, 10000)

    # when
    order = ordering.place_order(
        kind="renewal",
        channel="web",
        subscriber=lin,
        payment_method="wallet",
        idempotency_key=f"user:{lin.user_id}:renew-1",
        acting_user=lin.user,
        plan=plan,
        line=line,
    )
    receipt = receipts.issue_receipt(order)

    # then: one receipt; $35.00 + GST 5% $1.75 + QST 9.975% $3.49 = $40.24
    assert order.state == OrderState.FULFILLED
    assert Receipt.objects.filter(order=order).count() == 1
    english = receipts.render_receipt_html(receipt, language="en")
    assert re.search(r"GST \(5%\)</th><td>\$1\.75<", english)
    assert re.search(r"QST \(9\.975%\)</th><td>\$3\.49<", english)
    assert "$40.24" in english
    assert "Wallet" in english
    text = pdf_text(receipts.render_receipt_pdf(receipt))
    assert "加拿大30天" in text
    assert "40.24 加元" in text
    client = signed_in_client(lin.user)
    assert client.get(receipt_page(order, "zh-hans")).status_code == 200
