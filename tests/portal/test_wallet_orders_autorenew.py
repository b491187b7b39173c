"""The wallet page (voucher redemption, lockout, card top-up), the order history and the
auto-renew settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.lines.models import Line
from simcare.orders.models import AutoRenewSetting, Order, OrderState, SavedPaymentMethod
from tests.conftest import signed_in_client
from tests.orders.stripe_standin import StripeStandIn
from tests.portal.conftest import assert_sent_to_stripe, balance

pytestmark = pytest.mark.django_db


def test_redeeming_a_voucher_credits_the_wallet_and_lists_the_movement(
    lin_client: Client, lin: Subscriber, voucher_pin: Callable[[int], str]
) -> None:
    pin = voucher_pin(2500)

    response = lin_client.post("/en/portal/wallet/", {"pin": pin}, follow=True)

    page = response.content.decode()
    assert balance(lin) == 2500
    assert "Your voucher added $25.00 to your wallet." in page
    assert "Voucher redemption" in page


def test_a_wrong_pin_changes_nothing_and_repeated_ones_lock_redemption(
    lin_client: Client, lin: Subscriber, voucher_pin: Callable[[int], str]
) -> None:
    pin = voucher_pin(2500)
    wrong = [
        lin_client.post("/zh-hans/portal/wallet/", {"pin": "9999 9999 9999"}).content.decode()
        for _ in range(6)
    ]

    locked = lin_client.post("/en/portal/wallet/", {"pin": pin})

    assert 'role="alert"' in wrong[0]
    assert balance(lin) == 0
    assert "Too many wrong voucher PINs" in locked.content.decode()


def test_an_empty_pin_is_asked_for(lin_client: Client) -> None:
    response = lin_client.post("/en/portal/wallet/", {"pin": "  "})
    assert response.status_code == 200
    assert "Enter the PIN" in response.content.decode()


def test_wallet_top_up_by_card_is_offered_only_with_stripe(
    lin_client: Client, lin: Subscriber, stripe_standin: StripeStandIn
) -> None:
    page = lin_client.get("/en/portal/wallet/").content.decode()
    response = lin_client.post(
        "/en/portal/wallet/top-up/", {"amount": "2000", "method": "card", "token": uuid.uuid4().hex}
    )
    refused = lin_client.post(
        "/en/portal/wallet/top-up/", {"amount": "1", "method": "card", "token": uuid.uuid4().hex}
    )

    assert "Top up by card" in page
    assert_sent_to_stripe(response)
    assert Order.objects.get().total_cents == 2000
    assert refused.status_code == 200
    assert Order.objects.count() == 1


def test_no_card_top_up_without_stripe(lin_client: Client) -> None:
    assert "Top up by card" not in lin_client.get("/en/portal/wallet/").content.decode()


def test_the_order_history_links_each_receipt(
    lin_client: Client, lin: Subscriber, lin_line: Line, fund: Callable[[Subscriber, int], None]
) -> None:
    fund(lin, 10_000)
    lin_client.post(
        f"/en/portal/lines/{lin_line.msisdn}/renew/",
        {"plan": "talk30", "method": "wallet", "token": uuid.uuid4().hex},
    )
    order = Order.objects.get()

    page = lin_client.get("/fr/portal/orders/").content.decode()
    pdf = lin_client.get(f"/fr/orders/{order.pk}/receipt.pdf")

    assert order.number in page
    assert f"/fr/orders/{order.pk}/receipt/" in page
    assert f"/fr/orders/{order.pk}/receipt.pdf" in page
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")


def test_another_subscribers_order_confirmation_is_not_found(
    lin_client: Client,
    lin: Subscriber,
    lin_line: Line,
    fund: Callable[[Subscriber, int], None],
    make_subscriber: Callable[..., Subscriber],
) -> None:
    fund(lin, 10_000)
    lin_client.post(
        f"/en/portal/lines/{lin_line.msisdn}/renew/",
        {"plan": "talk30", "method": "wallet", "token": uuid.uuid4().hex},
    )
    order = Order.objects.get()
    assert order.state == OrderState.FULFILLED

    other = signed_in_client(make_subscriber().user)

    assert other.get(f"/en/portal/orders/{order.pk}/").status_code == 404
    assert lin_client.get(f"/en/portal/orders/{order.pk}/").status_code == 200


def test_auto_renew_is_turned_on_with_a_card_and_a_data_top_up(
    lin_client: Client, lin: Subscriber, lin_line: Line
) -> None:
    card = SavedPaymentMethod.objects.create(
        subscriber=lin,
        customer_reference="cus_1",
        method_reference="pm_1",
        brand="visa",
        last4="4242",
    )
    addon = AddOn.objects.create(
        code="data5",
        name_en="5 GB extra",
        name_fr="5 Go de plus",
        name_zh_hans="额外5GB",
        kind=UsageKind.DATA,
        quantity=5120,
        price_cents=1500,
        validity_days=30,
    )

    page = lin_client.get(f"/en/portal/lines/{lin_line.msisdn}/auto-renew/").content.decode()
    response = lin_client.post(
        f"/en/portal/lines/{lin_line.msisdn}/auto-renew/",
        {"enabled": "on", "card": str(card.pk), "addon": str(addon.pk), "threshold_mb": "1024"},
    )

    assert "visa •••• 4242" in page
    assert response.status_code == 302
    lin_line.refresh_from_db()
    assert lin_line.auto_renew
    setting = AutoRenewSetting.objects.get(line=lin_line)
    assert setting.payment_method == card
    assert setting.data_topup_addon == addon
    assert setting.data_topup_threshold_kb == 1024 * 1024


def test_a_threshold_out_of_range_is_refused_and_nothing_changes(
    lin_client: Client, lin_line: Line
) -> None:
    addon = AddOn.objects.create(
        code="data1",
        name_en="1 GB",
        name_fr="1 Go",
        name_zh_hans="1GB",
        kind=UsageKind.DATA,
        quantity=1024,
        price_cents=500,
        validity_days=30,
    )

    response = lin_client.post(
        f"/en/portal/lines/{lin_line.msisdn}/auto-renew/",
        {"enabled": "on", "addon": str(addon.pk), "threshold_mb": "0"},
    )

    assert response.status_code == 200
    lin_line.refresh_from_db()
    assert not lin_line.auto_renew
    assert not AutoRenewSetting.objects.exists()


def test_save_a_card_sends_to_stripe(
    lin_client: Client, lin_line: Line, stripe_standin: StripeStandIn
) -> None:
    page = lin_client.get(f"/en/portal/lines/{lin_line.msisdn}/auto-renew/").content.decode()
    response = lin_client.post(
        "/en/portal/cards/save/", {"next": f"/en/portal/lines/{lin_line.msisdn}/auto-renew/"}
    )

    assert "Save a card" in page
    assert_sent_to_stripe(response)


def _saved_card(subscriber: Subscriber, reference: str, **fields: object) -> SavedPaymentMethod:
    values: dict[str, object] = {"brand": "visa", "last4": "4242", **fields}
    return SavedPaymentMethod.objects.create(
        subscriber=subscriber,
        customer_reference="cus_000001",
        method_reference=reference,
        **values,
    )


def test_removing_a_saved_card_detaches_it_and_auto_renew_falls_back_to_the_wallet(
    lin_client: Client, lin: Subscriber, lin_line: Line, stripe_standin: StripeStandIn
) -> None:
    older = _saved_card(lin, "pm_card_mastercard", last4="4444", brand="mastercard")
    card = _saved_card(lin, "pm_card_visa", is_default=True)
    setting = AutoRenewSetting.objects.create(line=lin_line, payment_method=card)
    page = f"/en/portal/lines/{lin_line.msisdn}/auto-renew/"

    response = lin_client.post(f"/en/portal/cards/{card.pk}/remove/", {"next": page}, follow=True)

    assert response.redirect_chain == [(page, 302)]
    body = response.content.decode()
    assert "is removed; auto-renew now uses your wallet only" in body
    assert "Remove visa •••• 4242" not in body
    assert "Remove mastercard •••• 4444" in body
    assert [call.path for call in stripe_standin.calls("POST", "/v1/payment_methods/")] == [
        "/v1/payment_methods/pm_card_visa/detach"
    ]
    card.refresh_from_db()
    setting.refresh_from_db()
    older.refresh_from_db()
    assert card.removed_at is not None
    assert setting.payment_method is None
    assert older.is_default is True
    # A second click (another tab) finds nothing left to remove: 404, nothing sent.
    again = lin_client.post(f"/en/portal/cards/{card.pk}/remove/", {"next": page})
    assert again.status_code == 404
    assert len(stripe_standin.calls("POST", "/v1/payment_methods/")) == 1


def test_another_persons_card_cannot_be_removed(
    lin_client: Client,
    make_subscriber: Callable[..., Subscriber],
    stripe_standin: StripeStandIn,
) -> None:
    other = make_subscriber(username="omar", email="omar@example.com")
    card = _saved_card(other, "pm_card_visa")

    response = lin_client.post(f"/en/portal/cards/{card.pk}/remove/", {})

    assert response.status_code == 404
    card.refresh_from_db()
    assert card.removed_at is None
    assert stripe_standin.calls("POST", "/v1/payment_methods/") == []


def test_a_card_stripe_cannot_detach_now_stays_saved_with_a_clear_message(
    lin_client: Client, lin: Subscriber, stripe_standin: StripeStandIn
) -> None:
    card = _saved_card(lin, "pm_card_visa")
    stripe_standin.failures.append(503)

    response = lin_client.post(
        f"/fr/portal/cards/{card.pk}/remove/", {"next": "/fr/portal/"}, follow=True
    )

    assert "Le prestataire de paiement" in response.content.decode()
    card.refresh_from_db()
    assert card.removed_at is None


def test_register_opens_a_subscriber_account_and_signs_in(client: Client, plan: Plan) -> None:
    response = client.post(
        "/en/accounts/register/",
        {
            "email": "new@example.com",
            "phone": "",
            "password": "a long enough passphrase",
            "language": "fr",
            "next": "/en/portal/buy/talk30/",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/en/portal/buy/talk30/"
    subscriber = Subscriber.objects.get(user__email="new@example.com")
    assert subscriber.user.language == "fr"
    assert client.get("/en/portal/").status_code == 200


def test_register_refuses_a_taken_email_and_an_empty_contact(
    client: Client, lin: Subscriber
) -> None:
    taken = client.post(
        "/en/accounts/register/",
        {"email": "lin@example.com", "password": "a long enough passphrase", "language": "en"},
    )
    empty = client.post(
        "/en/accounts/register/", {"password": "a long enough passphrase", "language": "en"}
    )

    assert taken.status_code == 200
    assert "already exists" in taken.content.decode()
    assert empty.status_code == 200
    assert "Enter an email address or a mobile number." in empty.content.decode()
    assert Subscriber.objects.count() == 1
