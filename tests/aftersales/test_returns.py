"""Every step of a return request through the services, with the ledger after each refund."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
import time_machine
from PIL import Image

from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.aftersales import errors, services
from simcare.aftersales.models import ReturnEvent, ReturnRequest, ReturnState
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerTransaction
from simcare.lines import errors as line_errors
from simcare.lines import services as line_services
from simcare.lines.models import Bucket, LineEvent, LineState, NumberStatus, SimKind, SimStatus
from simcare.notify.models import Notification
from simcare.orders.models import Order, OrderState
from simcare.stores.models import Store
from tests.aftersales.conftest import (
    DELIVERED,
    assert_ledger_clean,
    balance,
    image_bytes,
    spare_sim,
)

BuySim = Callable[..., Order]
DAY = dt.timedelta(days=1)


def submit(
    order: Order, kind: str, *, key: str = "k1", at: dt.datetime | None = None, **options: object
) -> ReturnRequest:
    assert order.subscriber is not None
    with time_machine.travel(at or DELIVERED + 2 * DAY, tick=False):
        return services.submit_return(
            order.subscriber,
            order,
            kind=kind,
            idempotency_key=f"user:{order.subscriber.user_id}:{key}",
            acting_user=order.subscriber.user,
            **options,  # type: ignore[arg-type]
        )


def states(rma: ReturnRequest) -> list[str]:
    return list(
        ReturnEvent.objects.filter(request=rma).order_by("id").values_list("to_state", flat=True)
    )


def templates_sent(rma: ReturnRequest) -> list[str]:
    return list(
        Notification.objects.filter(
            template__startswith="return.", channel="email", context__return_id=rma.pk
        )
        .order_by("id")
        .values_list("template", flat=True)
    )


def test_a_physical_no_reason_return_is_refunded_to_the_wallet_after_the_card_arrives(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    # given a card bought from the wallet (5000 funded, 3955 paid)
    order = buy_sim(subscriber)
    line = order.line
    assert line is not None
    assert balance(subscriber) == 1045

    # when the customer asks and an agent approves
    rma = submit(order, "no_reason")
    assert (rma.state, rma.is_eligible, rma.resolution, rma.requires_return) == (
        "requested",
        True,
        "refund",
        True,
    )
    rma = services.approve_return(rma, acting_user=agent)
    assert rma.state == ReturnState.AWAITING_RETURN
    rma = services.mark_received(rma, acting_user=agent)
    assert rma.state == ReturnState.RECEIVED
    rma = services.refund_return(rma, acting_user=agent)

    # then the whole order comes back to the wallet, the line ends, the card is back on the shelf
    assert rma.state == ReturnState.REFUNDED
    assert rma.refund_cents == 3955
    assert balance(subscriber) == 5000
    order.refresh_from_db()
    assert (order.state, order.refunded_cents) == (OrderState.REFUNDED, 3955)
    refund = LedgerTransaction.objects.get(kind="refund")
    assert dict(refund.entries.values_list("account__code", "amount_cents")) == {
        f"wallet:{subscriber.pk}": 3955,
        "revenue:plans": -3500,
        "liability:sales_tax": -455,
    }
    assert_ledger_clean()
    line.refresh_from_db()
    assert line.state == LineState.RECYCLED
    assert line.number.status == NumberStatus.AVAILABLE
    assert line.sim.status == SimStatus.IN_STOCK

    rma = services.close_return(rma, acting_user=agent)
    assert states(rma) == [
        "requested",
        "approved",
        "awaiting_return",
        "received",
        "refunded",
        "closed",
    ]
    assert templates_sent(rma) == [
        "return.requested",
        "return.approved",
        "return.received",
        "return.refunded",
        "return.closed",
    ]


def test_a_refund_runs_once_however_often_it_is_asked(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber, kind=SimKind.ESIM)
    rma = services.approve_return(submit(order, "no_reason"), acting_user=agent)
    assert rma.state == ReturnState.APPROVED  # an eSIM is not sent back

    services.refund_return(rma, acting_user=agent)
    with pytest.raises(errors.ReturnStateError):
        services.refund_return(rma, acting_user=agent)

    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert balance(subscriber) == 5000
    assert_ledger_clean()
    assert order.line is not None
    order.line.refresh_from_db()
    assert order.line.sim.status == SimStatus.REVOKED


def test_a_cash_sale_is_refunded_through_refunds_payable(
    subscriber: Subscriber, buy_sim: BuySim, agent: User, store: Store
) -> None:
    order = buy_sim(subscriber, payment_method="cash", store=store)
    rma = submit(order, "wrong_item", resolution="refund")
    rma = services.approve_return(rma, acting_user=agent)
    rma = services.mark_received(rma, acting_user=agent)

    services.refund_return(rma, acting_user=agent)

    refunds = ledger.system_account("payable:refunds")
    assert ledger_queries.balance_cents(refunds) == order.total_cents
    assert ledger.store_drawer(store).cached_balance_cents == -order.total_cents
    assert balance(subscriber) == 0
    assert_ledger_clean()


def test_a_wallet_refund_of_a_cash_sale_when_the_customer_chooses_it(
    subscriber: Subscriber, buy_sim: BuySim, agent: User, store: Store
) -> None:
    order = buy_sim(subscriber, payment_method="cash", store=store)
    rma = submit(order, "wrong_item", resolution="refund", refund_to_wallet=True)
    rma = services.mark_received(services.approve_return(rma, acting_user=agent), acting_user=agent)

    services.refund_return(rma, acting_user=agent)

    assert balance(subscriber) == order.total_cents
    assert ledger_queries.balance_cents(ledger.system_account("payable:refunds")) == 0
    assert_ledger_clean()


def test_a_quality_replacement_swaps_the_card_and_keeps_number_period_and_buckets(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    # given a used line
    order = buy_sim(subscriber)
    line = order.line
    assert line is not None
    old_sim = line.sim
    Bucket.objects.filter(line=line, kind="data").update(used=1024)
    before = (line.msisdn, line.period_start, line.period_end, line.plan_id)
    buckets = sorted(
        Bucket.objects.filter(line=line).values_list("kind", "total", "used", "expires_at")
    )
    new_sim = spare_sim()

    # when
    rma = submit(order, "quality", fault="no_network", at=DELIVERED + 30 * DAY)
    assert rma.is_eligible
    rma = services.approve_return(rma, acting_user=agent)
    assert rma.state == ReturnState.APPROVED
    rma = services.send_replacement(rma, acting_user=agent, new_sim=new_sim)

    # then
    line.refresh_from_db()
    old_sim.refresh_from_db()
    new_sim.refresh_from_db()
    assert line.sim_id == new_sim.pk
    assert (line.msisdn, line.period_start, line.period_end, line.plan_id) == before
    assert (
        sorted(Bucket.objects.filter(line=line).values_list("kind", "total", "used", "expires_at"))
        == buckets
    )
    assert (old_sim.status, new_sim.status) == (SimStatus.FAULTY, SimStatus.ASSIGNED)
    assert (rma.state, rma.old_iccid, rma.new_iccid) == (
        ReturnState.REPLACEMENT_SENT,
        old_sim.iccid,
        new_sim.iccid,
    )
    assert LineEvent.objects.filter(line=line, cause="sim_swapped").count() == 1
    assert AuditEvent.objects.filter(action="line.sim_swapped").count() == 1
    assert not LedgerTransaction.objects.filter(kind="refund").exists()
    services.close_return(rma, acting_user=agent)
    assert states(rma) == ["requested", "approved", "replacement_sent", "closed"]
    assert templates_sent(rma) == [
        "return.requested",
        "return.approved",
        "return.replacement_sent",
        "return.closed",
    ]


def test_an_esim_is_reissued_from_stock_and_the_old_profile_revoked(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber, kind=SimKind.ESIM)
    line = order.line
    assert line is not None
    old_profile = line.sim
    fresh = spare_sim(SimKind.ESIM)
    rma = services.approve_return(submit(order, "quality", fault="esim_install"), acting_user=agent)

    services.send_replacement(rma, acting_user=agent)

    line.refresh_from_db()
    old_profile.refresh_from_db()
    assert line.sim_id == fresh.pk
    assert old_profile.status == SimStatus.REVOKED
    assert line.sim.activation_code == f"LPA:1$smdp.example.com${fresh.matching_id}"


def test_a_swap_needs_a_card_in_stock_of_the_same_kind(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber)
    assert order.line is not None
    rma = services.approve_return(submit(order, "quality", fault="damaged"), acting_user=agent)
    taken = order.line.sim

    with pytest.raises(line_errors.SimUnavailable):
        services.send_replacement(rma, acting_user=agent, new_sim=taken)
    with pytest.raises(line_errors.SimKindMismatch):
        line_services.swap_sim(order.line, spare_sim(SimKind.ESIM), acting_user=agent, reason="x")

    rma.refresh_from_db()
    assert rma.state == ReturnState.APPROVED
    order.line.refresh_from_db()
    assert order.line.sim_id == taken.pk


def test_outside_the_policy_needs_a_description_then_an_override_with_justification(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber)
    day_8 = DELIVERED + 8 * DAY

    with pytest.raises(errors.ReturnInvalid):
        submit(order, "no_reason", at=day_8)
    assert not ReturnRequest.objects.exists()

    rma = submit(order, "no_reason", at=day_8, description="I was in hospital")
    assert (rma.is_eligible, rma.state) == (False, "requested")
    assert [item["code"] for item in rma.evaluation if not item["passed"]] == ["outside_window"]

    with pytest.raises(errors.JustificationRequired):
        services.approve_return(rma, acting_user=agent, now=day_8)
    rma.refresh_from_db()
    assert rma.state == ReturnState.REQUESTED

    rma = services.approve_return(rma, acting_user=agent, note="Goodwill: hospital stay", now=day_8)
    assert (rma.is_override, rma.decision_note, rma.decided_by) == (
        True,
        "Goodwill: hospital stay",
        agent,
    )
    decision = AuditEvent.objects.get(action="return.decided")
    assert decision.data == {
        "decision": "approved",
        "override": True,
        "reasons": ["outside_window"],
        "justification": "Goodwill: hospital stay",
    }


def test_a_rejection_tells_the_customer_why(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber)
    rma = submit(order, "quality", fault="damaged")

    with pytest.raises(errors.JustificationRequired):
        services.reject_return(rma, acting_user=agent, note=" ")
    rma = services.reject_return(rma, acting_user=agent, note="The photo shows water damage")

    assert rma.state == ReturnState.REJECTED
    assert rma.is_override is True  # it was within the policy
    notice = Notification.objects.get(template="return.rejected", channel="email")
    assert notice.context["note"] == "The photo shows water damage"
    with pytest.raises(errors.ReturnStateError):
        services.approve_return(rma, acting_user=agent, note="changed my mind")
    # a rejected request leaves room for another one
    assert submit(order, "quality", key="k2", fault="damaged").state == "requested"


def test_a_used_card_is_refused_a_no_reason_return_at_approval_too(
    subscriber: Subscriber, buy_sim: BuySim, agent: User
) -> None:
    order = buy_sim(subscriber)
    rma = submit(order, "no_reason")
    assert order.line is not None
    line_services.record_network_activation(order.line.sim, at=DELIVERED + 3 * DAY)

    with pytest.raises(errors.JustificationRequired):
        services.approve_return(rma, acting_user=agent)


def test_one_open_request_per_order_and_the_same_key_gives_the_same_request(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    first = submit(order, "quality", fault="damaged")

    assert submit(order, "quality", fault="damaged").pk == first.pk
    with pytest.raises(errors.IdempotencyConflict):
        submit(order, "no_reason")
    with pytest.raises(errors.ReturnAlreadyOpen):
        submit(order, "no_reason", key="k2")
    assert ReturnRequest.objects.count() == 1
    assert Notification.objects.filter(template="return.requested").count() == 2  # email + sms


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "quality"}, "fault"),
        ({"kind": "wrong_item"}, "resolution"),
        ({"kind": "no_reason", "resolution": "replacement"}, "resolution"),
        ({"kind": "swap"}, "kind"),
    ],
)
def test_malformed_requests_are_refused_and_store_nothing(
    subscriber: Subscriber, buy_sim: BuySim, options: dict[str, str], field: str
) -> None:
    order = buy_sim(subscriber)
    kind = options.pop("kind")

    with pytest.raises(errors.ReturnInvalid) as refused:
        submit(order, kind, **options)

    assert refused.value.details["field"] == field
    assert not ReturnRequest.objects.exists()


def test_photos_are_verified_resized_to_nothing_and_stripped_of_metadata(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    with Image.open(io.BytesIO(image_bytes())) as original:
        assert original.getexif()[0x010F] == "PhoneMaker"

    rma = submit(
        order,
        "quality",
        fault="damaged",
        photo_files=[image_bytes(), image_bytes("PNG"), image_bytes("WEBP")],
    )

    stored = list(rma.photos.all())
    assert [photo.content_type for photo in stored] == ["image/jpeg", "image/png", "image/webp"]
    for photo in stored:
        with photo.image.open("rb") as handle, Image.open(handle) as image:
            assert (image.width, image.height) == (64, 48)
            assert dict(image.getexif()) == {}
            assert "exif" not in image.info


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"GIF89a" + b"\x00" * 40, "not_an_image"),
        (b"<script>alert(1)</script>", "not_an_image"),
        (image_bytes("GIF"), "format"),
        (image_bytes("JPEG")[:60], "not_an_image"),
    ],
)
def test_what_is_not_a_photo_is_refused_before_anything_is_stored(
    subscriber: Subscriber, buy_sim: BuySim, payload: bytes, reason: str
) -> None:
    order = buy_sim(subscriber)

    with pytest.raises(errors.PhotoRefused) as refused:
        submit(order, "quality", fault="damaged", photo_files=[payload])

    assert refused.value.details["reason"] == reason
    assert not ReturnRequest.objects.exists()


def test_photo_size_and_count_limits(
    subscriber: Subscriber, buy_sim: BuySim, settings: object
) -> None:
    order = buy_sim(subscriber)
    settings.SIMCARE_RETURNS = {**settings.SIMCARE_RETURNS, "max_photo_bytes": 1000}  # type: ignore[attr-defined]

    with pytest.raises(errors.PhotoRefused) as too_large:
        submit(
            order,
            "quality",
            fault="damaged",
            photo_files=[image_bytes(size=(400, 400)) + b"\x00" * 1000],
        )
    with pytest.raises(errors.PhotoRefused) as too_many:
        submit(order, "quality", fault="damaged", photo_files=[image_bytes()] * 6)

    assert too_large.value.details["reason"] == "too_large"
    assert too_many.value.details["reason"] == "too_many"
    assert not ReturnRequest.objects.exists()
