"""The clerk console through the test client: who gets in, selling and activating a SIM for
cash, double submits, renewals, bad input, and the drawer in the ledger."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines.models import Line, SimCard, SimKind, SimStatus
from simcare.orders.models import Order, OrderKind, OrderState, PaymentMethod, Receipt
from simcare.stores.models import Store
from tests.conftest import signed_in_client
from tests.lines.conftest import make_line
from tests.orders.conftest import assert_ledger_clean, fund, money_snapshot

__all__ = ["fund", "make_line"]

pytestmark = pytest.mark.django_db

# $35 plan in Ontario: HST 13% = 455 cents.
PLAN_TOTAL = 3955


def token_of(response: object) -> str:
    match = re.search(rb'name="form_token" value="([^"]+)"', response.content)  # type: ignore[attr-defined]
    assert match is not None
    return match.group(1).decode()


def drawer(store: Store) -> int:
    return ledger.store_drawer(store).cached_balance_cents


def new_customer_sale(
    client: Client, store: Store, plan: Plan, sim_choice: str, /, **extra: str
) -> dict[str, str]:
    token = token_of(client.get(f"/en/store-console/{store.code}/sell/"))
    data = {
        "form_token": token,
        "customer_kind": "new",
        "first_name": "Wei",
        "last_name": "Lin",
        "email": "wei.lin@example.com",
        "phone": "(416) 555-0177",
        "language": "zh-hans",
        "plan": str(plan.pk),
        "sim": sim_choice,
    }
    data.update(extra)
    return data


# --- who gets in ---------------------------------------------------------------------------


def test_anonymous_and_staff_without_totp_are_sent_to_the_staff_sign_in(
    clerk: User, shop: Store
) -> None:
    for client in (Client(), signed_in_client(clerk, verified=False)):
        response = client.get("/en/store-console/TOR-01/")
        assert response.status_code == 302
        assert response["Location"] == "/en/admin/login/?next=/en/store-console/TOR-01/"


@pytest.mark.parametrize("role", [Role.AGENT])
def test_agents_are_refused(make_staff: Callable[..., User], shop: Store, role: Role) -> None:
    client = signed_in_client(make_staff(role))

    assert client.get("/en/store-console/").status_code == 403
    assert client.get("/en/store-console/TOR-01/").status_code == 403


def test_subscribers_are_refused(subscriber: Subscriber, shop: Store) -> None:
    client = signed_in_client(subscriber.user)

    assert client.get("/en/store-console/").status_code == 403
    assert client.get("/en/store-console/TOR-01/sell/").status_code == 403


def test_a_clerk_of_one_store_goes_straight_to_it(clerk: User, shop: Store) -> None:
    response = signed_in_client(clerk).get("/en/store-console/")

    assert response.status_code == 302
    assert response["Location"] == "/en/store-console/TOR-01/"


def test_a_clerk_of_several_stores_picks_one(clerk: User, shop: Store, other_shop: Store) -> None:
    other_shop.clerks.add(clerk)

    body = signed_in_client(clerk).get("/en/store-console/").content.decode()

    assert "/en/store-console/TOR-01/" in body
    assert "/en/store-console/VAN-01/" in body


@pytest.mark.parametrize(
    "path", ["", "sell/", "renew/", "vouchers/", "day/", "day.csv", "day/?date=2026-11-30"]
)
def test_another_stores_pages_are_not_found(
    clerk: User, shop: Store, other_shop: Store, path: str
) -> None:
    client = signed_in_client(clerk)

    assert client.get(f"/en/store-console/TOR-01/{path}").status_code in (200, 302)
    assert client.get(f"/en/store-console/VAN-01/{path}").status_code == 404
    assert client.get(f"/en/store-console/NOPE-1/{path}").status_code == 404


def test_an_admin_works_every_store(
    admin_client_verified: Client, shop: Store, other_shop: Store
) -> None:
    assert admin_client_verified.get("/en/store-console/").status_code == 200
    assert admin_client_verified.get("/en/store-console/VAN-01/").status_code == 200


# --- selling and activating a SIM for cash ---------------------------------------------------


def test_a_cash_sale_to_a_new_customer_activates_one_line_and_fills_the_drawer(
    clerk: User, shop: Store, plan: Plan, stock: Callable[..., list[SimCard]]
) -> None:
    # given
    sim, _spare = stock(shop, 2)
    client = signed_in_client(clerk)
    data = new_customer_sale(client, shop, plan, str(sim.pk))

    # when
    response = client.post("/en/store-console/TOR-01/sell/", data)

    # then
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/en/store-console/TOR-01/sales/{order.pk}/"
    assert (order.kind, order.channel, order.state) == (
        OrderKind.NEW_LINE,
        "store",
        OrderState.FULFILLED,
    )
    assert (order.payment_method, order.store, order.created_by) == (
        PaymentMethod.CASH,
        shop,
        clerk,
    )
    assert (order.subtotal_cents, order.tax_cents, order.total_cents) == (3500, 455, PLAN_TOTAL)
    line = Line.objects.get()
    assert order.line == line
    assert line.sim == sim
    assert line.plan == plan
    sim.refresh_from_db()
    assert sim.status == SimStatus.ASSIGNED
    customer = line.subscriber.user
    assert (customer.email, customer.phone, customer.language) == (
        "wei.lin@example.com",
        "+14165550177",
        "zh-hans",
    )
    assert not customer.has_usable_password()
    assert drawer(shop) == -PLAN_TOTAL
    assert Receipt.objects.filter(order=order).count() == 1
    assert AuditEvent.objects.filter(action="order.fulfilled", actor=clerk).count() == 1
    registered = AuditEvent.objects.get(action="subscriber.registered_at_store")
    assert (registered.actor, registered.data) == (clerk, {"store": "TOR-01"})
    assert_ledger_clean()

    page = client.get(response["Location"]).content.decode()
    assert order.number in page
    assert "(647) 555-" in page or line.msisdn[2:5] in page
    assert f"/en/orders/{order.pk}/receipt/" in page
    assert f"/en/orders/{order.pk}/receipt.pdf" in page
    assert "$39.55" in page  # the drawer's running balance in the console's header
    receipt = client.get(f"/en/orders/{order.pk}/receipt/")
    assert receipt.status_code == 200


def test_a_double_submit_sells_once(
    clerk: User, shop: Store, plan: Plan, stock: Callable[..., list[SimCard]]
) -> None:
    sim, _spare = stock(shop, 2)
    client = signed_in_client(clerk)
    data = new_customer_sale(client, shop, plan, str(sim.pk))

    first = client.post("/en/store-console/TOR-01/sell/", data)
    second = client.post("/en/store-console/TOR-01/sell/", data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1
    assert Line.objects.count() == 1
    assert Subscriber.objects.count() == 1
    assert drawer(shop) == -PLAN_TOTAL
    assert_ledger_clean()


def test_an_esim_sale_to_a_known_customer_shows_the_qr_code(
    clerk: User,
    shop: Store,
    plan: Plan,
    subscriber: Subscriber,
    stock: Callable[..., list[SimCard]],
) -> None:
    (profile,) = stock(None, 1, kind=SimKind.ESIM)
    client = signed_in_client(clerk)
    token = token_of(client.get("/en/store-console/TOR-01/sell/"))

    response = client.post(
        "/en/store-console/TOR-01/sell/",
        {
            "form_token": token,
            "customer_kind": "existing",
            "customer": subscriber.user.phone,
            "language": "en",
            "plan": str(plan.pk),
            "sim": "esim",
        },
        follow=True,
    )

    body = response.content.decode()
    line = Line.objects.get()
    assert line.subscriber == subscriber
    assert line.sim == profile
    assert line.kind == SimKind.ESIM
    assert 'class="esim-qr"' in body
    assert f"LPA:1$smdp.example.com${profile.matching_id}" in body
    assert drawer(shop) == -PLAN_TOTAL


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"customer_kind": "existing", "customer": ""}, "customer", "Enter the customer"),
        (
            {"customer_kind": "existing", "customer": "nobody@example.com"},
            "customer",
            "No customer has this email or mobile number",
        ),
        ({"email": "", "phone": ""}, "email", "Give the new customer"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"phone": "12"}, "phone", "phone number"),
        ({"plan": "999999"}, "plan", "Select a valid choice."),
        ({"sim": "999999"}, "sim", "Select a valid choice."),
        ({"form_token": "short"}, "form_token", "This form has expired."),
        ({"customer_kind": "<script>"}, "customer_kind", "Select a valid choice."),
    ],
)
def test_bad_input_keeps_the_form_and_writes_nothing(
    clerk: User,
    shop: Store,
    plan: Plan,
    *,
    stock: Callable[..., list[SimCard]],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    (sim,) = stock(shop, 1)
    client = signed_in_client(clerk)
    data = new_customer_sale(client, shop, plan, str(sim.pk), **changes)
    before = money_snapshot()

    response = client.post("/en/store-console/TOR-01/sell/", data)

    assert response.status_code == 422
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    assert 'value="Wei"' in response.content.decode()  # the rest of the form is kept
    assert money_snapshot() == before
    assert Line.objects.count() == 0


def test_errors_are_shown_in_the_clerks_language(
    clerk: User, shop: Store, plan: Plan, stock: Callable[..., list[SimCard]]
) -> None:
    (sim,) = stock(shop, 1)
    client = signed_in_client(clerk)
    data = new_customer_sale(client, shop, plan, str(sim.pk), email="", phone="")

    response = client.post("/fr/store-console/TOR-01/sell/", data)

    assert response.status_code == 422
    assert "Indiquez l’adresse e-mail ou le numéro de mobile" in response.content.decode()  # noqa: RUF001  (French apostrophe)


def test_a_sim_of_another_store_cannot_be_sold_here(
    clerk: User,
    shop: Store,
    other_shop: Store,
    plan: Plan,
    stock: Callable[..., list[SimCard]],
) -> None:
    stock(shop, 1)
    (elsewhere,) = stock(other_shop, 1)
    client = signed_in_client(clerk)
    data = new_customer_sale(client, shop, plan, str(elsewhere.pk))

    response = client.post("/en/store-console/TOR-01/sell/", data)

    assert response.status_code == 422
    assert "sim" in response.context["form"].errors
    assert Order.objects.count() == 0


def test_an_existing_email_asks_to_find_the_customer(
    clerk: User,
    shop: Store,
    plan: Plan,
    make_subscriber: Callable[..., Subscriber],
    stock: Callable[..., list[SimCard]],
) -> None:
    make_subscriber(email="wei.lin@example.com", phone="+14165550100")
    (sim,) = stock(shop, 1)
    client = signed_in_client(clerk)
    before = money_snapshot()

    response = client.post(
        "/en/store-console/TOR-01/sell/", new_customer_sale(client, shop, plan, str(sim.pk))
    )

    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    assert money_snapshot() == before


def test_another_clerk_cannot_see_the_sale_or_its_receipt(
    clerk: User,
    other_clerk: User,
    shop: Store,
    plan: Plan,
    stock: Callable[..., list[SimCard]],
) -> None:
    (sim,) = stock(shop, 1)
    client = signed_in_client(clerk)
    client.post(
        "/en/store-console/TOR-01/sell/", new_customer_sale(client, shop, plan, str(sim.pk))
    )
    order = Order.objects.get()
    other = signed_in_client(other_clerk)

    assert other.get(f"/en/store-console/TOR-01/sales/{order.pk}/").status_code == 404
    assert other.get(f"/en/store-console/VAN-01/sales/{order.pk}/").status_code == 404
    assert other.get(f"/en/orders/{order.pk}/receipt/").status_code == 404
    assert client.get(f"/en/store-console/TOR-01/sales/{order.pk}/").status_code == 200


# --- renewing a line ----------------------------------------------------------------------------


def renew_data(client: Client, line: Line, method: str) -> dict[str, str]:
    token = token_of(client.get("/en/store-console/TOR-01/renew/"))
    return {"form_token": token, "msisdn": line.msisdn, "plan": "", "payment_method": method}


def test_a_renewal_for_cash_goes_into_the_drawer(
    clerk: User,
    shop: Store,
    plan: Plan,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
) -> None:
    line = make_line(subscriber, plan)
    period_end = line.period_end
    client = signed_in_client(clerk)
    data = renew_data(client, line, "cash")

    first = client.post("/en/store-console/TOR-01/renew/", data)
    second = client.post("/en/store-console/TOR-01/renew/", data)

    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/en/store-console/TOR-01/sales/{order.pk}/"
    assert (order.kind, order.store, order.total_cents) == (OrderKind.RENEWAL, shop, PLAN_TOTAL)
    line.refresh_from_db()
    assert line.period_end > period_end
    assert drawer(shop) == -PLAN_TOTAL
    assert_ledger_clean()


def test_a_renewal_from_the_wallet_leaves_the_drawer_alone(
    clerk: User,
    shop: Store,
    plan: Plan,
    *,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
    fund: Callable[..., object],
) -> None:
    line = make_line(subscriber, plan)
    client = signed_in_client(clerk)

    short = client.post("/en/store-console/TOR-01/renew/", renew_data(client, line, "wallet"))
    assert short.status_code == 422
    assert "wallet balance is too low" in short.content.decode()
    assert Order.objects.count() == 0

    fund(subscriber, 5000)
    paid = client.post("/en/store-console/TOR-01/renew/", renew_data(client, line, "wallet"))

    assert paid.status_code == 302
    assert ledger.wallet_for(subscriber).cached_balance_cents == 5000 - PLAN_TOTAL
    assert ledger.store_drawer(shop).cached_balance_cents == 0
    assert_ledger_clean()


@pytest.mark.parametrize(
    ("msisdn", "message"),
    [("+16475559999", "No line has this phone number."), ("hello", "phone number")],
)
def test_renewing_an_unknown_number_is_a_field_error(
    clerk: User, shop: Store, msisdn: str, message: str
) -> None:
    client = signed_in_client(clerk)
    token = token_of(client.get("/en/store-console/TOR-01/renew/"))

    response = client.post(
        "/en/store-console/TOR-01/renew/",
        {"form_token": token, "msisdn": msisdn, "payment_method": "cash"},
    )

    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors["msisdn"])


def test_a_store_without_renewals_refuses_them(
    clerk: User,
    shop: Store,
    plan: Plan,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
) -> None:
    shop.services = ["sim_sales"]
    shop.save()
    line = make_line(subscriber, plan)
    client = signed_in_client(clerk)

    response = client.post("/en/store-console/TOR-01/renew/", renew_data(client, line, "cash"))

    assert response.status_code == 422
    assert "This store does not offer this service." in response.content.decode()
    assert Order.objects.count() == 0


def test_posts_without_a_csrf_token_are_refused(clerk: User, shop: Store) -> None:
    client = signed_in_client(clerk)
    client.handler.enforce_csrf_checks = True  # type: ignore[attr-defined]

    response = client.post("/en/store-console/TOR-01/vouchers/", {"serial": "V1"})

    assert response.status_code == 403


def test_the_console_speaks_the_languages_of_its_prefix(clerk: User, shop: Store) -> None:
    client = signed_in_client(clerk)

    chinese = client.get("/zh-hans/store-console/TOR-01/sell/").content.decode()
    french = client.get("/fr/store-console/TOR-01/day/").content.decode()

    assert "销售并激活 SIM 卡" in chinese
    assert "收取现金并激活" in chinese
    assert "Fin de journée" in french
    assert "Télécharger le CSV" in french


def test_a_store_without_esims_does_not_offer_them(
    clerk: User, shop: Store, plan: Plan, stock: Callable[..., list[SimCard]]
) -> None:
    shop.services = ["sim_sales"]
    shop.save()
    stock(None, 1, kind=SimKind.ESIM)
    client = signed_in_client(clerk)

    response = client.post(
        "/en/store-console/TOR-01/sell/", new_customer_sale(client, shop, plan, "esim")
    )

    assert response.status_code == 422
    assert "Select a valid choice." in " ".join(response.context["form"].errors["sim"])
    assert Order.objects.count() == 0


def test_the_renewal_sale_page_shows_the_line_and_the_receipt(
    clerk: User,
    shop: Store,
    plan: Plan,
    *,
    subscriber: Subscriber,
    make_line: Callable[..., Line],
) -> None:
    line = make_line(subscriber, plan)
    client = signed_in_client(clerk)

    page = client.post(
        "/en/store-console/TOR-01/renew/", renew_data(client, line, "cash"), follow=True
    )

    body = page.content.decode()
    assert page.status_code == 200
    assert "Renewal" in body
    assert "$39.55 paid (Cash)." in body
    assert 'class="esim-qr"' not in body
