"""The returns pages of the portal and the agents, through the Django test client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from simcare.accounts.models import Role, Subscriber, User
from simcare.aftersales.models import ReturnRequest, ReturnState
from simcare.lines.models import SimKind, SimStatus
from simcare.orders.models import Order
from tests.aftersales.conftest import (
    DELIVERED,
    assert_ledger_clean,
    balance,
    image_bytes,
    spare_sim,
)
from tests.conftest import signed_in_client

BuySim = Callable[..., Order]
DAY = dt.timedelta(days=1)


def test_the_customer_sees_the_evaluation_before_submitting(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    client = signed_in_client(subscriber.user)

    with time_machine.travel(DELIVERED + 8 * DAY, tick=False):
        page = client.get(
            "/en/portal/returns/new/", {"order": order.pk, "kind": "no_reason", "check": "1"}
        )

    assert page.status_code == 200
    html = page.content.decode()
    assert "Outside our policy" in html
    assert "This request can be made within 7 days of delivery; it is day 8." in html
    assert not ReturnRequest.objects.exists()


def test_the_customer_files_a_request_with_photos_and_follows_it(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    client = signed_in_client(subscriber.user)

    with time_machine.travel(DELIVERED + DAY, tick=False):
        response = client.post(
            "/fr/portal/returns/new/",
            {
                "order": order.pk,
                "kind": "quality",
                "fault": "no_network",
                "description": "Pas de réseau",
                "form_key": "abc",
                "photos": [
                    SimpleUploadedFile("card.jpg", image_bytes(), content_type="image/jpeg"),
                ],
            },
        )

    rma = ReturnRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/fr/portal/returns/{rma.pk}/"
    detail = client.get(f"/fr/portal/returns/{rma.pk}/").content.decode()
    assert rma.number in detail
    assert order.line is not None
    assert order.line.sim.iccid in detail
    photo = rma.photos.get()
    served = client.get(f"/en/portal/returns/{rma.pk}/photos/{photo.pk}/")
    assert (served.status_code, served["Content-Type"]) == (200, "image/jpeg")
    assert b"PhoneMaker" not in b"".join(served.streaming_content)  # type: ignore[attr-defined]
    listing = client.get("/en/portal/returns/").content.decode()
    assert rma.number in listing


def test_a_refused_upload_keeps_the_form_and_stores_nothing(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    client = signed_in_client(subscriber.user)

    response = client.post(
        "/en/portal/returns/new/",
        {
            "order": order.pk,
            "kind": "quality",
            "fault": "damaged",
            "description": "cracked",
            "photos": [SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")],
        },
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "This file is not an image we can read." in html
    assert "cracked" in html
    assert not ReturnRequest.objects.exists()


def test_another_subscribers_request_and_photo_are_not_found(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    client = signed_in_client(subscriber.user)
    client.post(
        "/en/portal/returns/new/",
        {
            "order": order.pk,
            "kind": "quality",
            "fault": "damaged",
            "photos": [SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")],
        },
    )
    rma = ReturnRequest.objects.get()
    photo = rma.photos.get()
    stranger = signed_in_client(make_subscriber().user)

    assert stranger.get(f"/en/portal/returns/{rma.pk}/").status_code == 404
    assert stranger.get(f"/en/portal/returns/{rma.pk}/photos/{photo.pk}/").status_code == 404
    # someone else's order is not among the choices: refused like an order that does not exist
    foreign = stranger.get("/en/portal/returns/new/", {"order": order.pk, "kind": "quality"})
    missing = stranger.get("/en/portal/returns/new/", {"order": 999999, "kind": "quality"})
    assert foreign.status_code == missing.status_code
    assert order.number not in foreign.content.decode()
    response = stranger.post(
        "/en/portal/returns/new/", {"order": order.pk, "kind": "quality", "fault": "damaged"}
    )
    assert response.status_code in (404, 422)
    assert ReturnRequest.objects.count() == 1


def test_an_agent_decides_on_the_staff_page(
    subscriber: Subscriber, buy_sim: BuySim, make_staff: Callable[..., User]
) -> None:
    order = buy_sim(subscriber)
    client = signed_in_client(subscriber.user)
    client.post(
        "/en/portal/returns/new/",
        {"order": order.pk, "kind": "wrong_item", "resolution": "refund", "refund_to_wallet": "on"},
    )
    rma = ReturnRequest.objects.get()
    agent = signed_in_client(make_staff(Role.AGENT))

    queue = agent.get("/en/console/returns/").content.decode()
    assert rma.number in queue
    assert agent.post(f"/en/console/returns/{rma.pk}/", {"action": "approve"}).status_code == 302
    assert agent.post(f"/en/console/returns/{rma.pk}/", {"action": "received"}).status_code == 302
    assert (
        agent.post(
            f"/en/console/returns/{rma.pk}/", {"action": "refund", "to_wallet": "1"}
        ).status_code
        == 302
    )
    refused = agent.post(f"/en/console/returns/{rma.pk}/", {"action": "approve"})
    assert refused.status_code == 409
    assert "This step is not possible" in refused.content.decode()

    rma.refresh_from_db()
    assert rma.state == ReturnState.REFUNDED
    assert balance(subscriber) == 5000
    assert_ledger_clean()


def test_the_staff_page_swaps_a_card_by_iccid(
    subscriber: Subscriber, buy_sim: BuySim, make_staff: Callable[..., User]
) -> None:
    order = buy_sim(subscriber)
    signed_in_client(subscriber.user).post(
        "/en/portal/returns/new/", {"order": order.pk, "kind": "quality", "fault": "damaged"}
    )
    rma = ReturnRequest.objects.get()
    agent = signed_in_client(make_staff(Role.AGENT))
    new_sim = spare_sim()

    agent.post(f"/en/console/returns/{rma.pk}/", {"action": "approve"})
    unknown = agent.post(f"/en/console/returns/{rma.pk}/", {"action": "replace", "iccid": "123"})
    assert unknown.status_code == 409
    agent.post(f"/en/console/returns/{rma.pk}/", {"action": "replace", "iccid": new_sim.iccid})

    new_sim.refresh_from_db()
    assert new_sim.status == SimStatus.ASSIGNED
    detail = signed_in_client(subscriber.user).get(f"/en/portal/returns/{rma.pk}/").content.decode()
    assert new_sim.iccid in detail
    assert "Replacement sent" in detail


@pytest.mark.parametrize("role", [Role.CLERK, Role.RESELLER])
def test_the_staff_pages_are_for_agents_and_admins(
    subscriber: Subscriber, buy_sim: BuySim, make_staff: Callable[..., User], role: Role
) -> None:
    order = buy_sim(subscriber, kind=SimKind.ESIM)
    signed_in_client(subscriber.user).post(
        "/en/portal/returns/new/", {"order": order.pk, "kind": "no_reason"}
    )
    rma = ReturnRequest.objects.get()
    if role == Role.CLERK:
        client = signed_in_client(make_staff(role))
    else:
        from django.contrib.auth.models import Group

        user = User.objects.create_user(username="some.reseller", password="x" * 20)
        user.groups.add(Group.objects.get(name=Role.RESELLER))
        client = signed_in_client(user)

    assert client.get(f"/en/console/returns/{rma.pk}/").status_code == 404
    assert client.post(f"/en/console/returns/{rma.pk}/", {"action": "approve"}).status_code == 404
    assert (
        signed_in_client(subscriber.user).get(f"/en/console/returns/{rma.pk}/").status_code == 404
    )
    rma.refresh_from_db()
    assert rma.state == ReturnState.REQUESTED
