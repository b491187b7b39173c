"""Receipts: issued once per paid order, rendered from one template to HTML and to PDF.

A receipt shows what the order recorded at sale time (items, discount, the tax
lines orders/tax.py computed for the subscriber's province, total, method); it
recomputes nothing. The same template (orders/receipt.html) is the HTML
document and, through WeasyPrint, the PDF; the subscriber's page shows its body
(orders/_receipt.html) inside the site's layout.

Language: the one asked for, else the subscriber's preferred language, else the
language the receipt was issued in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext, pgettext_lazy
from django_stubs_ext import StrOrPromise

from simcare.kit.i18n import suffix_for
from simcare.kit.money import format_cents
from simcare.kit.phone import format_national
from simcare.kit.time import local
from simcare.orders.errors import ReceiptNotAvailable
from simcare.orders.models import ItemKind, Order, OrderItem, OrderState, Receipt

RECEIPTABLE_STATES = frozenset({OrderState.PAID, OrderState.FULFILLED, OrderState.REFUNDED})
STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "orders" / "receipt.css"

# Canadian sales taxes by their English abbreviation, as orders/tax.py names them.
TAX_NAMES: dict[str, StrOrPromise] = {
    "GST": pgettext_lazy("sales tax", "GST"),
    "HST": pgettext_lazy("sales tax", "HST"),
    "PST": pgettext_lazy("sales tax", "PST"),
    "QST": pgettext_lazy("sales tax", "QST"),
    "RST": pgettext_lazy("sales tax", "RST"),
}


# --- issuing -----------------------------------------------------------------------------------


@transaction.atomic
def issue_receipt(order: Order) -> Receipt:
    """The order's receipt, created the first time; the same row on every later call.

    Refused (ReceiptNotAvailable) unless the order is paid, fulfilled or refunded,
    as the database has it. Concurrent calls meet on the unique order column:
    one inserts, the others get that row.
    """
    state = Order.objects.filter(pk=order.pk).values_list("state", flat=True).first()
    if state not in RECEIPTABLE_STATES:
        raise ReceiptNotAvailable(order=order.number, state=state)
    receipt, _created = Receipt.objects.get_or_create(
        order_id=order.pk, defaults={"language": _subscriber_language(order) or order.language}
    )
    return receipt


def receipt_for_fulfilment(order: Order) -> Receipt:
    """The receipt of an order being fulfilled in the caller's transaction (ordering calls
    this right after saving the fulfilled state, so the state is not read again); the row
    already there, if any, is returned as issue_receipt would."""
    try:
        with transaction.atomic():
            return Receipt.objects.create(
                order=order, language=_subscriber_language(order) or order.language
            )
    except IntegrityError:
        return Receipt.objects.get(order_id=order.pk)


def receipt_url(receipt: Receipt, language: str | None = None, *, pdf: bool = False) -> str:
    """The absolute link to the receipt page (or its PDF) in `language`, for emails and SMS."""
    with translation.override(receipt_language(receipt, language)):
        name = "orders:receipt_pdf" if pdf else "orders:receipt"
        path = reverse(name, kwargs={"order_id": receipt.order_id})
    return settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/") + path


def receipt_language(receipt: Receipt, language: str | None = None) -> str:
    """The supported language to show `receipt` in (see the module docstring)."""
    chosen = language or _subscriber_language(receipt.order) or receipt.language
    try:
        return translation.get_supported_language_variant(chosen or settings.LANGUAGE_CODE)
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def _subscriber_language(order: Order) -> str:
    subscriber = order.subscriber
    return subscriber.user.language if subscriber is not None else ""


# --- what a receipt shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptItem:
    description: str
    quantity: int
    unit_price: str
    amount: str


@dataclass(frozen=True)
class ReceiptAmount:
    label: str
    amount: str


@dataclass(frozen=True)
class ReceiptContent:
    """Every text of one receipt in one language, formatted: the template only lays it out."""

    language: str
    business_name: str
    business_address: list[str]
    tax_registration: str
    number: str
    order_number: str
    date: str
    customer: str
    customer_contact: str
    line_number: str
    items: list[ReceiptItem]
    subtotal: str
    discount: ReceiptAmount | None
    taxes: list[ReceiptAmount]
    total: str
    payment_method: str
    refund: ReceiptAmount | None
    net_paid: str
    state: str


def receipt_content(receipt: Receipt, *, language: str | None = None) -> ReceiptContent:
    """What `receipt` shows, in `language` (resolved by receipt_language)."""
    language = receipt_language(receipt, language)
    order = (
        Order.objects.select_related("subscriber__user", "line", "plan", "addon", "coupon")
        .select_related("promotion")
        .get(pk=receipt.order_id)
    )
    with translation.override(language):
        return _content(receipt, order, language)


def _content(receipt: Receipt, order: Order, language: str) -> ReceiptContent:
    def money(cents: int) -> str:
        return format_cents(cents, language=language)

    refund = None
    if order.refunded_cents:
        label = gettext("Refunded")
        if order.state == OrderState.REFUNDED and order.closed_at is not None:
            label = gettext("Refunded on %(date)s") % {"date": _date(order.closed_at)}
        refund = ReceiptAmount(label, money(-order.refunded_cents))
    return ReceiptContent(
        language=language,
        business_name=settings.SIMCARE_BUSINESS_NAME,
        business_address=[
            part.strip() for part in settings.SIMCARE_BUSINESS_ADDRESS.splitlines() if part.strip()
        ],
        tax_registration=settings.SIMCARE_TAX_REGISTRATION,
        number=receipt.number,
        order_number=order.number,
        date=_date(order.paid_at or receipt.issued_at),
        customer=str(order.subscriber) if order.subscriber is not None else "",
        customer_contact=_contact(order),
        line_number=_phone(order.line.msisdn) if order.line is not None else "",
        items=[
            ReceiptItem(
                description=_item_description(item, order, language),
                quantity=item.quantity,
                unit_price=money(item.unit_price_cents),
                amount=money(item.amount_cents),
            )
            for item in order.items.all()
        ],
        subtotal=money(order.subtotal_cents),
        discount=_discount(order, language),
        taxes=[_tax_line(tax, language) for tax in order.taxes or []],
        total=money(order.total_cents),
        payment_method=str(order.get_payment_method_display()),
        refund=refund,
        net_paid=money(order.total_cents - order.refunded_cents),
        state=str(order.get_state_display()),
    )


def _date(moment: Any) -> str:
    return str(formats.date_format(local(moment), "DATETIME_FORMAT"))


def _phone(msisdn: str) -> str:
    try:
        return format_national(msisdn)
    except Exception:  # a number the parser refuses is still shown as stored
        return msisdn


def _contact(order: Order) -> str:
    if order.subscriber is None:
        return ""
    user = order.subscriber.user
    return user.email or (_phone(user.phone) if user.phone else "")


def _item_description(item: OrderItem, order: Order, language: str) -> str:
    """As sold; in another language than the order's, the sold catalog row's name."""
    if suffix_for(language) == suffix_for(order.language):
        return item.description
    if item.kind == ItemKind.PLAN and order.plan is not None and order.plan.code == item.code:
        return order.plan.translated("name", language)
    if item.kind == ItemKind.ADDON and order.addon is not None and order.addon.code == item.code:
        return order.addon.translated("name", language)
    return item.description


def _discount(order: Order, language: str) -> ReceiptAmount | None:
    if not order.discount_cents:
        return None
    if order.coupon is not None:
        label = gettext("Discount (coupon %(code)s)") % {"code": order.coupon.code}
    elif order.promotion is not None:
        name = getattr(order.promotion, f"name_{suffix_for(language)}", "")
        label = gettext("Promotion: %(name)s") % {"name": name or order.promotion.name_en}
    else:
        label = gettext("Discount")
    return ReceiptAmount(label, format_cents(-order.discount_cents, language=language))


def _tax_line(tax: dict[str, Any], language: str) -> ReceiptAmount:
    name = str(tax.get("name", ""))
    label = str(TAX_NAMES.get(name.upper(), name))
    rate = format_rate(tax.get("rate"), language=language)
    if rate:
        label = gettext("%(tax)s (%(rate)s)") % {"tax": label, "rate": rate}
    return ReceiptAmount(label, format_cents(int(tax.get("amount_cents", 0)), language=language))


def format_rate(rate: object, *, language: str) -> str:
    """ "13" → "13%" (en, zh-hans), "9.975" → "9,975 %" (fr); "" when there is none."""
    if rate in (None, ""):
        return ""
    try:
        value = Decimal(str(rate)).normalize()
    except InvalidOperation:
        return str(rate)
    text = f"{value:f}"
    if language.startswith("fr"):
        return text.replace(".", ",") + "\u202f%"
    return f"{text}%"


# --- rendering -----------------------------------------------------------------------------------


@cache
def stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def render_receipt_html(receipt: Receipt, *, language: str | None = None) -> str:
    """The receipt as a standalone HTML document (its stylesheet inline), in `language`."""
    content = receipt_content(receipt, language=language)
    with translation.override(content.language):
        return render_to_string(
            "orders/receipt.html", {"receipt": content, "stylesheet": stylesheet()}
        )


def render_receipt_pdf(receipt: Receipt, *, language: str | None = None) -> bytes:
    """The same document as render_receipt_html, printed to PDF by WeasyPrint."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_receipt_html(receipt, language=language)
    # The document carries everything inline: nothing is fetched, no file is read.
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
