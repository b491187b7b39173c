"""Verified reviews: who may post, moderation, the public page, and the review requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from django.core.management import call_command

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.aftersales import errors, services
from simcare.aftersales.models import Review, ReviewInvitation, ReviewStatus
from simcare.notify.models import Notification
from simcare.orders.models import Order, OrderKind
from tests.aftersales.conftest import DELIVERED
from tests.conftest import signed_in_client

BuySim = Callable[..., Order]
DAY = dt.timedelta(days=1)
SCRIPT = '<script>alert("x")</script> Great & cheap 👍'


def review(
    order: Order, *, rating: int = 5, text: str = "Works well", language: str = "en"
) -> Review:
    assert order.subscriber is not None
    return services.submit_review(
        order.subscriber,
        order,
        rating=rating,
        text=text,
        language=language,
        about="plan",
        acting_user=order.subscriber.user,
    )


def test_a_review_with_a_script_is_stored_as_sent_and_shown_as_text(
    subscriber: Subscriber, buy_sim: BuySim, make_staff: Callable[..., User], client: object
) -> None:
    order = buy_sim(subscriber)
    posted = signed_in_client(subscriber.user).post(
        f"/en/portal/reviews/new/{order.pk}/",
        {"rating": "4", "about": "plan", "language": "en", "text": SCRIPT},
    )
    assert posted.status_code == 302
    stored = Review.objects.get()
    assert (stored.text, stored.status, stored.plan_id) == (
        SCRIPT,
        ReviewStatus.PENDING,
        order.plan_id,
    )

    # not public before moderation
    assert (
        "Great &amp; cheap"
        not in signed_in_client(subscriber.user).get("/en/reviews/").content.decode()
    )
    services.moderate_review(stored, approve=True, acting_user=make_staff(Role.ADMIN))

    html = signed_in_client(subscriber.user).get("/en/reviews/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Great &amp; cheap 👍" in html
    assert "<script>alert" not in html


def test_an_unverified_customer_cannot_post_a_review(subscriber: Subscriber, plan: object) -> None:
    # a pending card order: never fulfilled
    from simcare.orders.models import OrderState

    pending = Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel="web",
        subscriber=subscriber,
        payment_method="card",
        idempotency_key="pending-1",
        state=OrderState.PENDING,
        total_cents=3955,
    )
    client = signed_in_client(subscriber.user)

    page = client.get("/en/portal/reviews/")
    response = client.post(
        f"/en/portal/reviews/new/{pending.pk}/",
        {"rating": "5", "about": "plan", "language": "en", "text": "fake"},
    )

    assert "Only customers with a completed order can write a review." in page.content.decode()
    assert response.status_code == 422
    assert "Only customers with a completed order can write a review." in response.content.decode()
    assert not Review.objects.exists()
    with pytest.raises(errors.ReviewRefused) as refused:
        services.submit_review(
            subscriber, pending, rating=5, text="x", language="en", about="plan", acting_user=None
        )
    assert refused.value.details["reason"] == "not_verified"


def test_one_review_per_order_and_only_ones_own(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)
    review(order)

    with pytest.raises(errors.ReviewRefused) as again:
        review(order, rating=1)
    stranger = make_subscriber()
    with pytest.raises(errors.ReviewRefused) as foreign:
        services.submit_review(
            stranger, order, rating=1, text="x", language="en", about="plan", acting_user=None
        )
    assert (
        signed_in_client(stranger.user).get(f"/en/portal/reviews/new/{order.pk}/").status_code
        == 404
    )

    assert (again.value.details["reason"], foreign.value.details["reason"]) == (
        "already_reviewed",
        "not_verified",
    )
    assert Review.objects.count() == 1


@pytest.mark.parametrize(
    ("rating", "text", "language", "reason"),
    [
        (0, "ok", "en", "rating"),
        (6, "ok", "en", "rating"),
        (5, "  ", "en", "text"),
        (5, "x" * 10_001, "en", "text"),
        (5, "ok", "de", "language"),
    ],
)
def test_bad_reviews_are_refused(
    subscriber: Subscriber,
    buy_sim: BuySim,
    *,
    rating: int,
    text: str,
    language: str,
    reason: str,
) -> None:
    order = buy_sim(subscriber)

    with pytest.raises(errors.ReviewRefused) as refused:
        review(order, rating=rating, text=text, language=language)

    assert refused.value.details["reason"] == reason
    assert not Review.objects.exists()


def test_a_ten_thousand_character_review_is_kept_whole(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    text = "é" * 10_000
    assert review(buy_sim(subscriber), text=text).text == text


def test_the_public_page_has_average_distribution_and_language_filter(
    make_subscriber: Callable[..., Subscriber], buy_sim: BuySim, make_staff: Callable[..., User]
) -> None:
    admin = make_staff(Role.ADMIN)
    for rating, language in [(5, "en"), (4, "fr"), (4, "fr"), (1, "zh-hans")]:
        services.moderate_review(
            review(
                buy_sim(make_subscriber()), rating=rating, text=f"avis {rating}", language=language
            ),
            approve=True,
            acting_user=admin,
        )
    hidden = review(buy_sim(make_subscriber()), rating=1, text="rejected one")
    services.moderate_review(hidden, approve=False, acting_user=admin)
    client = signed_in_client(make_subscriber().user)

    everything = client.get("/en/reviews/").content.decode()
    french = client.get("/fr/reviews/", {"language": "fr"}).content.decode()

    assert "<strong>3.5</strong> / 5 · 4 reviews" in everything
    assert '<meter min="0" max="100" value="50">' in everything  # 2 of 4 gave four stars
    assert "rejected one" not in everything
    assert "<strong>4,0</strong> / 5" in french or "<strong>4.0</strong> / 5" in french
    assert "avis 5" not in french
    assert AuditEvent.objects.filter(action="review.approved").count() == 4


def test_a_staff_reply_is_shown_under_the_review(
    subscriber: Subscriber, buy_sim: BuySim, make_staff: Callable[..., User]
) -> None:
    admin = make_staff(Role.ADMIN)
    posted = review(buy_sim(subscriber))
    services.moderate_review(posted, approve=True, acting_user=admin)

    services.reply_to_review(posted, text="Thank you <b>so</b> much", acting_user=admin)

    html = signed_in_client(subscriber.user).get("/en/reviews/").content.decode()
    assert "Thank you &lt;b&gt;so&lt;/b&gt; much" in html


def test_the_admin_moderation_queue_approves(
    subscriber: Subscriber, buy_sim: BuySim, admin_client_verified: object
) -> None:
    posted = review(buy_sim(subscriber), text=SCRIPT)

    listing = admin_client_verified.get("/en/admin/aftersales/review/")  # type: ignore[attr-defined]
    response = admin_client_verified.post(  # type: ignore[attr-defined]
        "/en/admin/aftersales/review/",
        {"action": "approve", "_selected_action": [posted.pk]},
    )

    assert listing.status_code == 200
    assert "<script>alert" not in listing.content.decode()
    assert response.status_code == 302
    posted.refresh_from_db()
    assert posted.status == ReviewStatus.APPROVED


def test_review_requests_go_out_once_some_days_after_fulfilment(
    subscriber: Subscriber, buy_sim: BuySim
) -> None:
    order = buy_sim(subscriber)

    with time_machine.travel(DELIVERED + 2 * DAY, tick=False):
        assert services.queue_review_requests() == {"asked": 0}
    with time_machine.travel(DELIVERED + 3 * DAY, tick=False):
        call_command("jobs", "run", "review_requests")
        assert services.queue_review_requests() == {"asked": 0}

    notices = Notification.objects.filter(template="review.requested")
    assert sorted(notices.values_list("channel", flat=True)) == ["email", "sms"]
    first = notices.first()
    assert first is not None
    assert first.line_id == order.line_id
    assert ReviewInvitation.objects.get().key == f"order:{order.pk}"
    assert services.request_review(order) is False


def test_the_ticket_hook_asks_once_per_ticket(subscriber: Subscriber, buy_sim: BuySim) -> None:
    buy_sim(subscriber)

    assert services.request_review_after_ticket(subscriber, ticket_id=42) is True
    assert services.request_review_after_ticket(subscriber, ticket_id=42) is False

    assert Notification.objects.filter(template="review.requested").count() == 2
