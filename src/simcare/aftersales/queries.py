"""Reads on returns and reviews, with the access check built in.

A subscriber sees only their own return requests (and their photos); agents
and admins see every request. Anyone else sees none. A request someone may
not see is reported as not found (ReturnRequest.DoesNotExist, a 404 at the
edge), never as forbidden. Published reviews are public.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, QuerySet

from simcare.accounts.models import Role, Subscriber, User
from simcare.aftersales.models import ReturnPhoto, ReturnRequest, Review, ReviewStatus
from simcare.orders.models import Order, OrderKind, OrderState


def is_returns_staff(user: User) -> bool:
    """Agents and admins who signed in with their second factor decide returns."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.roles & {str(Role.ADMIN), str(Role.AGENT)}
        and _is_verified(user)
    )


def _is_verified(user: User) -> bool:
    """django_otp's middleware sets is_verified on the request's user (True after the TOTP step)."""
    check = getattr(user, "is_verified", None)
    return bool(check is not None and check())


def _subscriber_of(user: User) -> Subscriber | None:
    try:
        return user.subscriber
    except Subscriber.DoesNotExist:
        return None


def returns_for(user: User) -> QuerySet[ReturnRequest]:
    requests = ReturnRequest.objects.select_related(
        "order", "line__sim", "line__plan", "subscriber__user"
    ).order_by("-created_at", "-id")
    if not user.is_authenticated or not user.is_active:
        return requests.none()
    if is_returns_staff(user):
        return requests
    subscriber = _subscriber_of(user)
    if subscriber is None or user.is_staff:
        return requests.none()
    return requests.filter(subscriber=subscriber)


def return_for(user: User, pk: int) -> ReturnRequest:
    """Raises ReturnRequest.DoesNotExist when absent or not the user's to see."""
    return returns_for(user).get(pk=pk)


def photo_for(user: User, request_pk: int, photo_pk: int) -> ReturnPhoto:
    rma = return_for(user, request_pk)
    return rma.photos.get(pk=photo_pk)


def returnable_orders(subscriber: Subscriber) -> QuerySet[Order]:
    """The subscriber's SIM and eSIM purchases, newest first (the policy decides the rest)."""
    return (
        Order.objects.filter(
            subscriber=subscriber,
            kind=OrderKind.NEW_LINE,
            fulfilled_at__isnull=False,
        )
        .select_related("line__sim", "plan")
        .order_by("-fulfilled_at", "-id")
    )


def own_order(subscriber: Subscriber, order_id: int) -> Order:
    return Order.objects.select_related("line__sim", "plan", "store").get(
        pk=order_id, subscriber=subscriber
    )


def reviewable_orders(subscriber: Subscriber) -> QuerySet[Order]:
    """Fulfilled orders of the subscriber that have no review yet."""
    return (
        Order.objects.filter(
            subscriber=subscriber,
            fulfilled_at__isnull=False,
            state__in=(OrderState.FULFILLED, OrderState.REFUNDED),
            review__isnull=True,
        )
        .select_related("plan", "store", "line")
        .order_by("-fulfilled_at", "-id")
    )


def own_reviews(subscriber: Subscriber) -> QuerySet[Review]:
    return Review.objects.filter(subscriber=subscriber).select_related("order", "plan", "store")


def published_reviews(
    *, language: str = "", plan_code: str = "", store_code: str = ""
) -> QuerySet[Review]:
    reviews = Review.objects.filter(status=ReviewStatus.APPROVED).select_related(
        "plan", "store", "subscriber__user"
    )
    if language:
        reviews = reviews.filter(language=language)
    if plan_code:
        reviews = reviews.filter(plan__code=plan_code)
    if store_code:
        reviews = reviews.filter(store__code=store_code)
    return reviews.order_by("-created_at", "-id")


@dataclass(frozen=True)
class RatingBar:
    stars: int
    count: int
    percent: int


@dataclass(frozen=True)
class RatingSummary:
    count: int
    average: float | None
    distribution: tuple[RatingBar, ...]


def summary(reviews: QuerySet[Review]) -> RatingSummary:
    """Average (one decimal) and the count per star, five stars first."""
    totals = reviews.aggregate(count=Count("id"), average=Avg("rating"))
    counts = dict(
        reviews.order_by().values_list("rating").annotate(n=Count("id")).values_list("rating", "n")
    )
    count = int(totals["count"] or 0)
    bars = tuple(
        RatingBar(
            stars, counts.get(stars, 0), round(100 * counts.get(stars, 0) / count) if count else 0
        )
        for stars in range(5, 0, -1)
    )
    average = round(float(totals["average"]), 1) if totals["average"] is not None else None
    return RatingSummary(count=count, average=average, distribution=bars)
