"""The money back office: orders, payments and receipts to read; coupons and promotions to edit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from simcare.accounts.models import Role, Subscriber, User
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.ledger import services as ledger_services
from simcare.lines.models import Line
from simcare.orders.models import (
    AttemptStatus,
    AutoRenewAttempt,
    AutoRenewSetting,
    Coupon,
    DiscountKind,
    Order,
    OrderState,
    Payment,
    PaymentMethod,
    Promotion,
    PromotionKind,
    Receipt,
    SalesChannel,
    SavedPaymentMethod,
)
from simcare.orders.services import receipts
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]
NBSP = "\u00a0"


@dataclass
class Shop:
    """Lin's fulfilled card renewal (with receipt and ledger transaction), Amélie's pending
    PayPal top-up-like order by an agent, and Omar's cancelled order in a store."""

    lin: Subscriber
    amelie: Subscriber
    line: Line
    paid: Order
    pending: Order
    cancelled: Order
    receipt: Receipt


@pytest.fixture
def shop(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
    make_order: MakeOrder,
) -> Shop:
    lin = make_subscriber(
        username="lin.wei", email="lin.wei@example.com", phone="+14169790177", language="zh-hans"
    )
    amelie = make_subscriber(username="amelie.roy", email="amelie.roy@example.com")
    omar = make_subscriber(username="omar.haddad", email="omar@example.com")
    line = make_line(lin, plan)
    paid = make_order(
        lin,
        plan,
        line=line,
        payment_method=PaymentMethod.CARD,
        paid_at=dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC),
    )
    paid.created_at = dt.datetime(2026, 11, 20, 14, 55, tzinfo=dt.UTC)
    paid.ledger_transaction = ledger_services.transfer(
        kind="order_payment",
        source=ledger_services.system_account("clearing:stripe"),
        destination=ledger_services.system_account("revenue:plans"),
        amount_cents=paid.total_cents,
        reference=f"order:{paid.pk}",
    )
    paid.save()
    pending = make_order(
        amelie,
        plan,
        state=OrderState.PENDING,
        payment_method=PaymentMethod.PAYPAL,
        channel=SalesChannel.AGENT,
        province="QC",
    )
    pending.created_at = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)  # Nov 27 in Toronto
    pending.save()
    cancelled = make_order(
        omar,
        plan,
        state=OrderState.CANCELLED,
        payment_method=PaymentMethod.CASH,
        channel=SalesChannel.STORE,
    )
    cancelled.created_at = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)
    cancelled.save()
    return Shop(lin, amelie, line, paid, pending, cancelled, receipts.issue_receipt(paid))


def results(response: Any) -> list[Any]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_every_money_page_loads_for_a_verified_admin(
    admin_client_verified: Client, shop: Shop, coupon: Coupon, addon: AddOn
) -> None:
    # given
    promotion = _promotion(addon)
    method = _saved_card(shop.lin)
    attempt = AutoRenewAttempt.objects.create(
        line=shop.line,
        period_end=dt.datetime(2026, 12, 20, tzinfo=dt.UTC),
        attempt=1,
        due_at=dt.datetime(2026, 12, 19, tzinfo=dt.UTC),
        status=AttemptStatus.FAILED,
        failure_code="wallet_short",
        order=shop.pending,
    )
    payment = Payment.objects.filter(order=shop.paid).get()
    pages = [
        "/en/admin/orders/order/",
        f"/en/admin/orders/order/{shop.paid.pk}/change/",
        f"/en/admin/orders/order/{shop.pending.pk}/change/",
        "/en/admin/orders/payment/",
        f"/en/admin/orders/payment/{payment.pk}/change/",
        "/en/admin/orders/receipt/",
        f"/en/admin/orders/receipt/{shop.receipt.pk}/change/",
        "/en/admin/orders/coupon/",
        "/en/admin/orders/coupon/add/",
        f"/en/admin/orders/coupon/{coupon.pk}/change/",
        "/en/admin/orders/promotion/",
        "/en/admin/orders/promotion/add/",
        f"/en/admin/orders/promotion/{promotion.pk}/change/",
        "/en/admin/orders/savedpaymentmethod/",
        f"/en/admin/orders/savedpaymentmethod/{method.pk}/change/",
        "/en/admin/orders/autorenewattempt/",
        f"/en/admin/orders/autorenewattempt/{attempt.pk}/change/",
        "/en/admin/orders/payment/?status__exact=succeeded&method__exact=card&provider=stripe",
        "/en/admin/orders/receipt/?language=zh-hans&issued_at_from=2026-01-01",
        "/en/admin/orders/autorenewattempt/?status__exact=failed",
        "/en/admin/orders/coupon/?is_active__exact=1&kind__exact=fixed",
        "/en/admin/orders/order/?created_at_from=not-a-date",
    ]

    # when
    statuses = {page: admin_client_verified.get(page).status_code for page in pages}

    # then
    assert statuses == dict.fromkeys(pages, 200)


def test_the_order_list_shows_numbers_money_and_who_bought(
    admin_client_verified: Client, shop: Shop
) -> None:
    response = admin_client_verified.get("/en/admin/orders/order/")

    page = response.content.decode()
    assert shop.paid.number in page
    assert "$39.55" in page  # $35.00 + HST 13%
    assert "$40.24" in page  # $35.00 + GST 5% + QST 9.975%
    assert "lin.wei" in page
    assert results(response) == [shop.cancelled, shop.pending, shop.paid]


def test_amounts_follow_the_admins_language(admin_client_verified: Client, shop: Shop) -> None:
    response = admin_client_verified.get("/fr/admin/orders/order/")

    assert f"39,55{NBSP}$" in response.content.decode()


def test_orders_are_found_by_their_number_as_customers_quote_it(
    admin_client_verified: Client, shop: Shop
) -> None:
    def found(term: str) -> list[Order]:
        return results(admin_client_verified.get("/en/admin/orders/order/", {"q": term}))

    assert shop.pending.number == f"SC-{shop.pending.pk:07d}"
    assert found(shop.pending.number) == [shop.pending]
    assert found(shop.pending.number.lower()) == [shop.pending]
    assert found(f"SC{shop.pending.pk}") == [shop.pending]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("lin.wei@example.com", "paid"),
        ("(416) 979-0177", "paid"),
        ("+14169790177", "paid"),
        ("amelie.roy", "pending"),
    ],
)
def test_orders_are_found_by_the_subscribers_email_phone_and_name(
    admin_client_verified: Client, shop: Shop, term: str, expected: str
) -> None:
    found = results(admin_client_verified.get("/en/admin/orders/order/", {"q": term}))

    assert found == [getattr(shop, expected)]


def test_orders_are_found_by_the_lines_number_in_any_format(
    admin_client_verified: Client, shop: Shop
) -> None:
    national = shop.line.msisdn.removeprefix("+1")
    spaced = f"{national[:3]} {national[3:6]} {national[6:]}"

    found = results(admin_client_verified.get("/en/admin/orders/order/", {"q": spaced}))

    assert found == [shop.paid]


def test_an_order_number_nobody_has_finds_nothing(
    admin_client_verified: Client, shop: Shop
) -> None:
    found = results(admin_client_verified.get("/en/admin/orders/order/", {"q": "SC-9999999"}))

    assert found == []


def test_orders_are_filtered_by_state_kind_channel_method_and_day(
    admin_client_verified: Client, shop: Shop
) -> None:
    def filtered(**query: str) -> list[Order]:
        return results(admin_client_verified.get("/en/admin/orders/order/", query))

    assert filtered(state__exact="pending") == [shop.pending]
    assert filtered(kind__exact="renewal") == [shop.cancelled, shop.pending, shop.paid]
    assert filtered(kind__exact="addon") == []
    assert filtered(channel__exact="store") == [shop.cancelled]
    assert filtered(payment_method__exact="card") == [shop.paid]
    # 03:00 UTC on Nov 28 is the evening of Nov 27 in Toronto
    assert filtered(created_at_from="2026-11-27", created_at_to="2026-11-27") == [shop.pending]
    assert filtered(created_at_from="2026-11-28") == [shop.cancelled]
    assert filtered(created_at_to="2026-11-20") == [shop.paid]


def test_the_order_page_is_read_only_with_items_payments_books_and_receipt(
    admin_client_verified: Client, shop: Shop
) -> None:
    response = admin_client_verified.get(f"/en/admin/orders/order/{shop.paid.pk}/change/")

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    page = response.content.decode()
    formsets = {fs.opts.model.__name__: fs for fs in response.context["inline_admin_formsets"]}
    assert len(formsets["OrderItem"].formset.forms) == 1
    assert len(formsets["Payment"].formset.forms) == 1
    assert "加拿大30天" in page  # the item as sold, in Lin's language
    assert "HST 13%: $4.55" in page
    ledger_link = f"/en/admin/ledger/ledgertransaction/{shop.paid.ledger_transaction_id}/change/"
    assert f'<a href="{ledger_link}">' in page
    assert f'<a href="/en/orders/{shop.paid.pk}/receipt/" target="_blank"' in page
    assert f'<a href="/en/orders/{shop.paid.pk}/receipt.pdf">PDF</a>' in page
    assert f'<a href="/en/admin/accounts/subscriber/{shop.lin.pk}/change/">' in page


def test_an_unpaid_order_offers_no_receipt(admin_client_verified: Client, shop: Shop) -> None:
    response = admin_client_verified.get(f"/en/admin/orders/order/{shop.pending.pk}/change/")

    assert f"/orders/{shop.pending.pk}/receipt" not in response.content.decode()


def test_the_admin_opens_any_receipt_from_the_back_office(
    admin_client_verified: Client, shop: Shop
) -> None:
    response = admin_client_verified.get(f"/en/orders/{shop.paid.pk}/receipt/")

    assert response.status_code == 200
    assert shop.receipt.number in response.content.decode()


@pytest.mark.parametrize(
    "model", ["order", "payment", "receipt", "savedpaymentmethod", "autorenewsetting"]
)
def test_what_services_write_cannot_be_added_changed_or_deleted(
    admin_client_verified: Client, shop: Shop, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the refusals are expected; their logged tracebacks only cost time
    caplog.set_level(logging.ERROR, logger="django.request")
    instance = {
        "order": shop.paid,
        "payment": Payment.objects.filter(order=shop.paid).get(),
        "receipt": shop.receipt,
        "savedpaymentmethod": _saved_card(shop.lin),
        "autorenewsetting": AutoRenewSetting.objects.create(line=shop.line),
    }[model]
    before = (Order.objects.count(), Payment.objects.count(), Receipt.objects.count())

    # when
    add = admin_client_verified.post(f"/en/admin/orders/{model}/add/", {})
    change = admin_client_verified.post(
        f"/en/admin/orders/{model}/{instance.pk}/change/", {"state": "refunded"}
    )
    delete = admin_client_verified.post(
        f"/en/admin/orders/{model}/{instance.pk}/delete/", {"post": "yes"}
    )

    # then
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert (Order.objects.count(), Payment.objects.count(), Receipt.objects.count()) == before
    shop.paid.refresh_from_db()
    assert shop.paid.state == OrderState.FULFILLED


def test_payments_are_found_by_provider_reference_and_order_number(
    admin_client_verified: Client, shop: Shop
) -> None:
    payment = Payment.objects.filter(order=shop.paid).get()

    by_reference = admin_client_verified.get(
        "/en/admin/orders/payment/", {"q": payment.provider_reference}
    )
    by_order = admin_client_verified.get("/en/admin/orders/payment/", {"q": shop.paid.number})
    by_method = admin_client_verified.get("/en/admin/orders/payment/", {"method__exact": "paypal"})

    assert results(by_reference) == [payment]
    assert results(by_order) == [payment]
    assert [found.order for found in results(by_method)] == [shop.pending]
    assert "$39.55" in by_reference.content.decode()


def test_receipts_are_found_by_their_number_and_link_to_html_and_pdf(
    admin_client_verified: Client, shop: Shop
) -> None:
    response = admin_client_verified.get("/en/admin/orders/receipt/", {"q": shop.receipt.number})

    assert results(response) == [shop.receipt]
    page = response.content.decode()
    assert f"/en/orders/{shop.paid.pk}/receipt.pdf" in page
    assert "$39.55" in page


def test_auto_renew_settings_show_the_card_and_the_data_top_up(
    admin_client_verified: Client, shop: Shop, addon: AddOn
) -> None:
    shop.line.auto_renew = True
    shop.line.save(update_fields=["auto_renew"])
    setting = AutoRenewSetting.objects.create(
        line=shop.line,
        payment_method=_saved_card(shop.lin),
        data_topup_enabled=True,
        data_topup_addon=addon,
    )

    listing = admin_client_verified.get(
        f"/en/admin/orders/autorenewsetting/?q={shop.line.msisdn}"
    ).content.decode()
    detail = admin_client_verified.get(
        f"/en/admin/orders/autorenewsetting/{setting.pk}/change/"
    ).content.decode()

    for page in (listing, detail):
        assert "visa •••• 4242" in page
        assert "pm_secretish_1" not in page
    assert "5 GB data" in detail


def test_saved_cards_show_brand_and_last_four_but_no_provider_reference(
    admin_client_verified: Client, shop: Shop
) -> None:
    method = _saved_card(shop.lin)

    listing = admin_client_verified.get("/en/admin/orders/savedpaymentmethod/").content.decode()
    detail = admin_client_verified.get(
        f"/en/admin/orders/savedpaymentmethod/{method.pk}/change/"
    ).content.decode()

    for page in (listing, detail):
        assert "visa •••• 4242" in page
        assert "pm_secretish_1" not in page
        assert "cus_secretish_1" not in page
    assert "04/2029" in detail


def test_agents_and_unverified_admins_are_kept_out(
    make_staff: Callable[..., User], shop: Shop
) -> None:
    agent = signed_in_client(make_staff(Role.AGENT))
    unverified = signed_in_client(make_staff(Role.ADMIN), verified=False)

    assert agent.get("/en/admin/orders/order/").status_code == 403
    assert unverified.get("/en/admin/orders/order/").status_code == 302


# --- coupons -----------------------------------------------------------------------------------

COUPON_FORM: dict[str, Any] = {
    "code": "SPRING10",
    "description": "10% off in spring",
    "kind": "percent",
    "percent_off": "10",
    "amount_off_cents": "",
    "minimum_spend_cents": "2000",
    "valid_from_0": "2027-03-01",
    "valid_from_1": "00:00:00",
    "valid_until_0": "2027-06-01",
    "valid_until_1": "00:00:00",
    "max_uses_total": "500",
    "max_uses_per_customer": "1",
    "channels": ["web", "ivr"],
    "is_active": "on",
}


def test_a_percent_coupon_is_added_with_its_channels_and_plans(
    admin_client_verified: Client, plan: Plan
) -> None:
    response = admin_client_verified.post(
        "/en/admin/orders/coupon/add/", {**COUPON_FORM, "plans": [str(plan.pk)]}
    )

    assert response.status_code == 302
    coupon = Coupon.objects.get(code="SPRING10")
    assert (coupon.kind, coupon.percent_off, coupon.amount_off_cents) == ("percent", 10, None)
    assert coupon.channels == ["web", "ivr"]
    assert list(coupon.plans.all()) == [plan]
    assert coupon.minimum_spend_cents == 2000
    assert coupon.valid_from is not None
    assert coupon.valid_until is not None
    assert coupon.valid_from < coupon.valid_until


def test_a_fixed_coupon_drops_a_stray_percentage(admin_client_verified: Client) -> None:
    response = admin_client_verified.post(
        "/en/admin/orders/coupon/add/",
        {**COUPON_FORM, "kind": "fixed", "amount_off_cents": "500", "percent_off": "10"},
    )

    assert response.status_code == 302
    coupon = Coupon.objects.get(code="SPRING10")
    assert (coupon.kind, coupon.percent_off, coupon.amount_off_cents) == ("fixed", None, 500)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"percent_off": "0"}, "percent_off"),
        ({"percent_off": "101"}, "percent_off"),
        ({"percent_off": ""}, "percent_off"),
        ({"kind": "fixed", "amount_off_cents": ""}, "amount_off_cents"),
        ({"kind": "fixed", "amount_off_cents": "0"}, "amount_off_cents"),
        ({"valid_until_0": "2027-03-01"}, "valid_until"),
        ({"valid_until_0": "2027-01-01"}, "valid_until"),
        ({"code": "spring 10"}, "code"),
        ({"code": "welcome5"}, "code"),  # WELCOME5 exists, in another case
    ],
)
def test_a_coupon_with_broken_rules_is_refused_and_nothing_is_stored(
    admin_client_verified: Client, coupon: Coupon, changes: dict[str, str], field: str
) -> None:
    response = admin_client_verified.post(
        "/en/admin/orders/coupon/add/", {**COUPON_FORM, **changes}
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert list(Coupon.objects.values_list("code", flat=True)) == ["WELCOME5"]


def test_the_coupon_list_shows_discounts_as_money_or_percent(
    admin_client_verified: Client, coupon: Coupon
) -> None:
    Coupon.objects.create(
        code="HALF", kind=DiscountKind.PERCENT, percent_off=50, minimum_spend_cents=3000
    )

    page = admin_client_verified.get("/en/admin/orders/coupon/").content.decode()

    assert "$5.00" in page  # WELCOME5
    assert "50%" in page
    assert "$30.00" in page  # HALF's minimum spend


# --- promotions ---------------------------------------------------------------------------------


def _promotion(addon: AddOn) -> Promotion:
    return Promotion.objects.create(
        name_en="Renew 3, get 5 GB",
        name_fr="Renouvelez 3 périodes, 5 Go offerts",
        name_zh_hans="续费3期送5GB",
        kind=PromotionKind.RENEW_AHEAD_BONUS,
        minimum_periods=3,
        bonus_addon=addon,
    )


def _saved_card(subscriber: Subscriber) -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.get_or_create(
        method_reference="pm_secretish_1",
        defaults={
            "subscriber": subscriber,
            "customer_reference": "cus_secretish_1",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 4,
            "exp_year": 2029,
        },
    )[0]


@pytest.fixture
def addon(db: Any) -> AddOn:
    return AddOn.objects.create(
        code="data5",
        name_en="5 GB data",
        name_fr="5 Go de données",
        name_zh_hans="5GB流量",
        kind=UsageKind.DATA,
        quantity=5120,
        price_cents=1500,
        validity_days=30,
    )


def _promotion_form(addon: AddOn, **changes: Any) -> dict[str, Any]:
    return {
        "kind": "renew_ahead_bonus",
        "is_active": "on",
        "name_en": "Renew 3, get 5 GB",
        "name_fr": "Renouvelez 3 périodes, 5 Go offerts",
        "name_zh_hans": "续费3期送5GB",
        "minimum_periods": "3",
        "bonus_addon": str(addon.pk),
        "channels": ["web"],
        "valid_from_0": "2027-01-01",
        "valid_from_1": "00:00:00",
        "valid_until_0": "2027-02-01",
        "valid_until_1": "00:00:00",
        **changes,
    }


def test_a_promotion_is_added_in_three_languages(
    admin_client_verified: Client, addon: AddOn
) -> None:
    response = admin_client_verified.post("/en/admin/orders/promotion/add/", _promotion_form(addon))

    assert response.status_code == 302
    promotion = Promotion.objects.get()
    assert (promotion.name_fr, promotion.name_zh_hans) == (
        "Renouvelez 3 périodes, 5 Go offerts",
        "续费3期送5GB",
    )
    assert promotion.bonus_addon == addon
    assert promotion.channels == ["web"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bonus_addon": ""}, "bonus_addon"),
        ({"minimum_periods": "1"}, "minimum_periods"),
        ({"valid_until_0": "2026-12-31"}, "valid_until"),
        ({"name_zh_hans": ""}, "name_zh_hans"),
    ],
)
def test_a_promotion_with_broken_rules_is_refused(
    admin_client_verified: Client, addon: AddOn, changes: dict[str, str], field: str
) -> None:
    response = admin_client_verified.post(
        "/en/admin/orders/promotion/add/", _promotion_form(addon, **changes)
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Promotion.objects.count() == 0


def test_auto_renew_attempts_are_found_by_line_number(
    admin_client_verified: Client, shop: Shop
) -> None:
    attempt = AutoRenewAttempt.objects.create(
        line=shop.line,
        period_end=dt.datetime(2026, 12, 20, tzinfo=dt.UTC),
        attempt=2,
        due_at=dt.datetime(2026, 12, 20, tzinfo=dt.UTC),
    )
    national = shop.line.msisdn.removeprefix("+1")

    found = results(
        admin_client_verified.get(
            "/en/admin/orders/autorenewattempt/", {"q": f"({national[:3]}) {national[3:]}"}
        )
    )

    assert found == [attempt]


def test_the_money_section_of_the_sidebar_lists_the_money_pages(
    make_staff: Callable[..., User],
) -> None:
    from django.test import RequestFactory

    from simcare.admin_site import sidebar_navigation

    request = RequestFactory().get("/en/admin/")
    request.user = make_staff(Role.ADMIN)

    money = next(
        section for section in sidebar_navigation(request) if str(section["title"]) == "Money"
    )

    links = [str(item["link"]) for item in money["items"]]
    assert links[3:] == [
        "/en/admin/orders/order/",
        "/en/admin/orders/payment/",
        "/en/admin/orders/receipt/",
        "/en/admin/orders/coupon/",
        "/en/admin/orders/promotion/",
        "/en/admin/orders/savedpaymentmethod/",
        "/en/admin/orders/autorenewattempt/",
    ]
