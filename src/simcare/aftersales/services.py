"""State changes of returns (RMA) and reviews.

A return request goes requested → approved | rejected; a card that comes back
goes awaiting_return → received; then refunded or replacement_sent → closed.
Each step is one transaction that locks the request row, checks the state it
comes from, writes the step (ReturnEvent), the audit event and the
customer's notification (outbox rows), so a step happens once even when two
agents click at the same moment.

Refunds go through simcare.orders.services.ordering.refund_order with the key
"rma:<id>", so a retried refund posts once; a replacement is a SIM swap
(lines.services.swap_sim) or an eSIM re-issue (lines.services.reissue_esim):
the number, period and buckets stay on the line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.aftersales import errors, photos, policy
from simcare.aftersales.models import (
    OPEN_STATES,
    Resolution,
    ReturnEvent,
    ReturnKind,
    ReturnPhoto,
    ReturnRequest,
    ReturnState,
    Review,
    ReviewInvitation,
    ReviewStatus,
    ReviewSubject,
)
from simcare.lines import services as line_services
from simcare.lines.models import Bucket, Line, LineState, SimCard, SimKind
from simcare.notify import services as notify
from simcare.orders.models import Order, OrderKind, OrderState

# --- the policy's facts about an order ----------------------------------------------------------


def delivered_at(order: Order) -> dt.datetime | None:
    """When the card reached the customer: the fulfilment (a counter sale hands it over, a
    shipment leaves with it); an eSIM counts from its purchase."""
    if order.fulfilled_at is None:
        return None
    if order.sim_kind == SimKind.ESIM:
        return order.paid_at or order.fulfilled_at
    return order.fulfilled_at


def facts_for(order: Order) -> policy.Facts:
    line = order.line
    sim = line.sim if line is not None else None
    return policy.Facts(
        is_sim_order=order.kind == OrderKind.NEW_LINE,
        is_fulfilled=order.fulfilled_at is not None
        and order.state in (OrderState.FULFILLED, OrderState.REFUNDED),
        is_refunded=order.refunded_cents > 0,
        has_live_line=line is not None and line.state != LineState.RECYCLED,
        sim_kind=line.kind if line is not None else order.sim_kind,
        delivered_at=delivered_at(order),
        network_activated=sim is not None and sim.network_activated_at is not None,
        has_usage=line is not None and Bucket.objects.filter(line=line, used__gt=0).exists(),
        esim_downloaded=sim is not None and sim.profile_downloaded_at is not None,
        has_open_request=ReturnRequest.objects.filter(order=order, state__in=OPEN_STATES).exists(),
    )


def evaluate_order(order: Order, kind: str, *, now: dt.datetime | None = None) -> policy.Evaluation:
    """The policy's verdict on a request of `kind` for `order`, now (or at `now`)."""
    return policy.evaluate(kind, facts_for(order), now=now or timezone.now())


def _stored_evaluation(evaluation: policy.Evaluation) -> list[dict[str, Any]]:
    return [
        {"code": reason.code, "passed": reason.passed, "params": dict(reason.params)}
        for reason in evaluation.reasons
    ]


# --- steps of a request -------------------------------------------------------------------


def _notify_step(rma: ReturnRequest, template: str, *, now: dt.datetime, **context: Any) -> None:
    notify.enqueue(
        template,
        recipient=rma.subscriber.user,
        line=rma.line,
        context={
            "return_id": rma.pk,
            "return_number": rma.number,
            "order_number": rma.order.number,
            "kind": rma.kind,
            "resolution": rma.resolution,
            "requires_return": rma.requires_return,
            **context,
        },
        dedupe_key=f"{template}:{rma.pk}",
        now=now,
    )


def _step(
    rma: ReturnRequest,
    to_state: ReturnState,
    *,
    acting_user: User | None,
    note: str = "",
    now: dt.datetime,
) -> None:
    from_state = rma.state
    rma.state = to_state
    rma.updated_at = now
    ReturnEvent.objects.create(
        request=rma,
        created_at=now,
        actor=acting_user,
        from_state=from_state,
        to_state=to_state,
        note=note[:300],
    )
    record_audit(
        f"return.{to_state}",
        actor=acting_user,
        target=rma,
        order=rma.order.number,
        from_state=str(from_state),
        note=note[:200],
    )


def _locked(rma: ReturnRequest, *allowed: ReturnState) -> ReturnRequest:
    locked = (
        ReturnRequest.objects.select_for_update(of=("self",))
        .select_related("order", "line__sim", "subscriber__user")
        .get(pk=rma.pk)
    )
    if locked.state not in allowed:
        raise errors.ReturnStateError(state=locked.state)
    return locked


def _resolution_for(kind: str, resolution: str) -> str:
    choices = policy.outcomes_of(kind)
    if len(choices) == 1:
        if resolution and resolution != choices[0]:
            raise errors.ReturnInvalid(field="resolution")
        return choices[0]
    if resolution not in choices:
        raise errors.ReturnInvalid(field="resolution")
    return resolution


@transaction.atomic
def submit_return(
    subscriber: Subscriber,
    order: Order,
    *,
    kind: str,
    idempotency_key: str,
    acting_user: User | None,
    resolution: str = "",
    fault: str = "",
    refund_to_wallet: bool = False,
    description: str = "",
    photo_files: Sequence[bytes] = (),
    now: dt.datetime | None = None,
) -> ReturnRequest:
    """File a return or exchange for the subscriber's own order, with its evaluation.

    Outside the policy the customer may still ask, with a description: an
    agent decides (a goodwill override). Idempotent on idempotency_key (scope
    it: "user:<id>:<Idempotency-Key>"): the same key again returns the first
    request; for another order or kind it is refused as a conflict.
    """
    now = now or timezone.now()
    existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_or_conflict(existing, order=order, kind=kind)
    if order.subscriber_id != subscriber.pk:
        raise Order.DoesNotExist(order.pk)
    if kind not in ReturnKind.values:
        raise errors.ReturnInvalid(field="kind")
    resolution = _resolution_for(kind, resolution)
    if kind == ReturnKind.QUALITY and fault not in policy.FAULTS:
        raise errors.ReturnInvalid(field="fault")
    if kind != ReturnKind.QUALITY and fault and fault not in policy.FAULTS:
        raise errors.ReturnInvalid(field="fault")
    limits = policy.current_policy()
    if len(photo_files) > limits.max_photos:
        raise errors.PhotoRefused(reason="too_many", limit=limits.max_photos)
    cleaned = [photos.clean_photo(data, max_bytes=limits.max_photo_bytes) for data in photo_files]
    order = Order.objects.select_related("line__sim").get(pk=order.pk)
    evaluation = policy.evaluate(kind, facts_for(order), now=now, policy=limits)
    if "request_open" in evaluation.codes:
        raise errors.ReturnAlreadyOpen(order=order.pk)
    if not evaluation.eligible and not description.strip():
        raise errors.ReturnInvalid(field="description")
    line = order.line
    rma = ReturnRequest(
        subscriber=subscriber,
        order=order,
        line=line,
        kind=kind,
        resolution=resolution,
        refund_to_wallet=bool(refund_to_wallet) and resolution == Resolution.REFUND,
        fault=fault,
        description=description.strip()[:2000],
        is_eligible=evaluation.eligible,
        evaluation=_stored_evaluation(evaluation),
        requires_return=bool(
            line is not None and line.kind == SimKind.PHYSICAL and resolution == Resolution.REFUND
        ),
        idempotency_key=idempotency_key,
        old_iccid=line.sim.iccid if line is not None else "",
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            rma.save()
    except IntegrityError:
        existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_or_conflict(existing, order=order, kind=kind)
        raise errors.ReturnAlreadyOpen(order=order.pk) from None
    for photo in cleaned:
        _store_photo(rma, photo, now=now)
    ReturnEvent.objects.create(
        request=rma, created_at=now, actor=acting_user, to_state=ReturnState.REQUESTED
    )
    record_audit(
        "return.requested",
        actor=acting_user,
        target=rma,
        order=order.number,
        kind=kind,
        eligible=evaluation.eligible,
        reasons=evaluation.codes,
    )
    _notify_step(rma, "return.requested", now=now, is_eligible=evaluation.eligible)
    return rma


def _same_or_conflict(existing: ReturnRequest, *, order: Order, kind: str) -> ReturnRequest:
    if existing.order_id != order.pk or existing.kind != kind:
        raise errors.IdempotencyConflict()
    return existing


def _store_photo(rma: ReturnRequest, photo: photos.CleanPhoto, *, now: dt.datetime) -> ReturnPhoto:
    row = ReturnPhoto(
        request=rma,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        size_bytes=len(photo.data),
        created_at=now,
    )
    row.image.save(f"{uuid.uuid4().hex}.{photo.extension}", ContentFile(photo.data), save=False)
    row.save()
    return row


@transaction.atomic
def add_photo(rma: ReturnRequest, data: bytes, *, acting_user: User | None) -> ReturnPhoto:
    """One more photo on an open request (at most the policy's maximum)."""
    limits = policy.current_policy()
    cleaned = photos.clean_photo(data, max_bytes=limits.max_photo_bytes)
    rma = _locked(rma, *OPEN_STATES)
    if rma.photos.count() >= limits.max_photos:
        raise errors.PhotoRefused(reason="too_many", limit=limits.max_photos)
    photo = _store_photo(rma, cleaned, now=timezone.now())
    record_audit("return.photo_added", actor=acting_user, target=rma, photo=photo.pk)
    return photo


@transaction.atomic
def approve_return(
    rma: ReturnRequest, *, acting_user: User, note: str = "", now: dt.datetime | None = None
) -> ReturnRequest:
    """An agent accepts the request; against the policy only with a written justification.

    The policy is evaluated again now (the card may have been used since).
    A card that comes back moves on to awaiting_return in the same step.
    """
    now = now or timezone.now()
    rma = _locked(rma, ReturnState.REQUESTED)
    evaluation = policy.evaluate(rma.kind, _facts_without_self(rma), now=now)
    is_override = not evaluation.eligible
    if is_override and not note.strip():
        raise errors.JustificationRequired()
    rma.decided_by, rma.decided_at = acting_user, now
    rma.decision_note, rma.is_override = note.strip()[:2000], is_override
    _step(rma, ReturnState.APPROVED, acting_user=acting_user, note=note, now=now)
    if rma.requires_return:
        _step(rma, ReturnState.AWAITING_RETURN, acting_user=acting_user, now=now)
    rma.save()
    record_audit(
        "return.decided",
        actor=acting_user,
        target=rma,
        decision="approved",
        override=is_override,
        reasons=evaluation.codes,
        justification=rma.decision_note[:500],
    )
    _notify_step(rma, "return.approved", now=now)
    return rma


def _facts_without_self(rma: ReturnRequest) -> policy.Facts:
    facts = facts_for(rma.order)
    others = (
        ReturnRequest.objects.filter(order=rma.order, state__in=OPEN_STATES)
        .exclude(pk=rma.pk)
        .exists()
    )
    return policy.Facts(**{**facts.__dict__, "has_open_request": others})


@transaction.atomic
def reject_return(
    rma: ReturnRequest, *, acting_user: User, note: str, now: dt.datetime | None = None
) -> ReturnRequest:
    """An agent refuses the request with the reason the customer will read."""
    now = now or timezone.now()
    rma = _locked(rma, ReturnState.REQUESTED)
    if not note.strip():
        raise errors.JustificationRequired()
    evaluation = policy.evaluate(rma.kind, _facts_without_self(rma), now=now)
    rma.decided_by, rma.decided_at = acting_user, now
    rma.decision_note, rma.is_override = note.strip()[:2000], evaluation.eligible
    _step(rma, ReturnState.REJECTED, acting_user=acting_user, note=note, now=now)
    rma.save()
    record_audit(
        "return.decided",
        actor=acting_user,
        target=rma,
        decision="rejected",
        override=evaluation.eligible,
        reasons=evaluation.codes,
        justification=rma.decision_note[:500],
    )
    _notify_step(rma, "return.rejected", now=now, note=rma.decision_note)
    return rma


@transaction.atomic
def mark_received(
    rma: ReturnRequest, *, acting_user: User, now: dt.datetime | None = None
) -> ReturnRequest:
    """The card sent back arrived (at the warehouse or a store)."""
    now = now or timezone.now()
    rma = _locked(rma, ReturnState.AWAITING_RETURN)
    _step(rma, ReturnState.RECEIVED, acting_user=acting_user, now=now)
    rma.save()
    _notify_step(rma, "return.received", now=now)
    return rma


@transaction.atomic
def refund_return(
    rma: ReturnRequest,
    *,
    acting_user: User,
    to_wallet: bool | None = None,
    amount_cents: int | None = None,
    now: dt.datetime | None = None,
) -> ReturnRequest:
    """Refund the order (by default all that is left of it) and close its line.

    To the wallet when the customer chose it (or `to_wallet`), else to the
    original method: card through Stripe, wallet to wallet, store cash through
    payable:refunds. The line ends: its card goes back in stock when it came
    back unused, an eSIM profile is revoked.
    """
    from simcare.orders.services import ordering

    now = now or timezone.now()
    waiting = ReturnState.RECEIVED if rma.requires_return else ReturnState.APPROVED
    rma = _locked(rma, waiting)
    if rma.resolution != Resolution.REFUND:
        raise errors.ReturnStateError(state=rma.state, resolution=rma.resolution)
    order = rma.order
    left = order.total_cents - order.refunded_cents
    amount = left if amount_cents is None else amount_cents
    wallet = rma.refund_to_wallet if to_wallet is None else to_wallet
    ordering.refund_order(
        order,
        amount_cents=amount,
        to_wallet=wallet,
        acting_user=acting_user,
        reason=f"{rma.number} {rma.kind}",
        idempotency_key=f"rma:{rma.pk}",
        now=now,
    )
    rma.refund_cents = amount
    rma.refund_to_wallet = wallet
    if rma.line is not None and rma.line.state != LineState.RECYCLED:
        line_services.close_returned_line(
            rma.line,
            acting_user=acting_user,
            reason=f"{rma.number}: refunded",
            restock_sim=rma.requires_return,
            now=now,
        )
    _step(rma, ReturnState.REFUNDED, acting_user=acting_user, note=str(amount), now=now)
    rma.save()
    _notify_step(rma, "return.refunded", now=now, amount_cents=amount, to_wallet=wallet)
    return rma


@transaction.atomic
def send_replacement(
    rma: ReturnRequest,
    *,
    acting_user: User,
    new_sim: SimCard | None = None,
    now: dt.datetime | None = None,
) -> ReturnRequest:
    """Move the line onto a new card: a physical SIM the agent picks, or an eSIM from stock.

    The old card is marked faulty (physical) or revoked (eSIM); number,
    period and buckets stay. Refuses LineNotLive, SimUnavailable, NoSimAvailable.
    """
    now = now or timezone.now()
    rma = _locked(rma, ReturnState.APPROVED, ReturnState.RECEIVED)
    if rma.resolution != Resolution.REPLACEMENT or rma.line is None:
        raise errors.ReturnStateError(state=rma.state, resolution=rma.resolution)
    reason = f"{rma.number} {rma.kind} {rma.fault}".strip()
    line: Line
    if rma.line.kind == SimKind.ESIM:
        line = line_services.reissue_esim(
            rma.line, acting_user=acting_user, reason=reason, new_profile=new_sim, now=now
        )
    else:
        if new_sim is None:
            raise errors.ReturnInvalid(field="new_sim")
        line = line_services.swap_sim(
            rma.line, new_sim, acting_user=acting_user, reason=reason, now=now
        )
    rma.old_iccid = rma.old_iccid or ""
    rma.new_iccid = line.sim.iccid
    rma.line = line
    _step(rma, ReturnState.REPLACEMENT_SENT, acting_user=acting_user, note=line.sim.iccid, now=now)
    rma.save()
    _notify_step(rma, "return.replacement_sent", now=now, is_esim=line.kind == SimKind.ESIM)
    return rma


@transaction.atomic
def close_return(
    rma: ReturnRequest, *, acting_user: User | None, note: str = "", now: dt.datetime | None = None
) -> ReturnRequest:
    """The last step after a refund or a replacement."""
    now = now or timezone.now()
    rma = _locked(rma, ReturnState.REFUNDED, ReturnState.REPLACEMENT_SENT)
    _step(rma, ReturnState.CLOSED, acting_user=acting_user, note=note, now=now)
    rma.save()
    _notify_step(rma, "return.closed", now=now)
    return rma


# --- reviews ---------------------------------------------------------------------------------

MAX_REVIEW_LENGTH = 10_000


def is_reviewable(order: Order) -> bool:
    """A verified purchase: the order was fulfilled (a later refund does not undo that)."""
    return order.fulfilled_at is not None and order.state in (
        OrderState.FULFILLED,
        OrderState.REFUNDED,
    )


@transaction.atomic
def submit_review(
    subscriber: Subscriber,
    order: Order,
    *,
    rating: int,
    text: str,
    language: str,
    about: str,
    acting_user: User | None,
    now: dt.datetime | None = None,
) -> Review:
    """A verified review of the subscriber's own fulfilled order; it waits for moderation.

    The text is stored exactly as sent (any script, HTML or emoji) and escaped when shown.
    """
    now = now or timezone.now()
    if order.subscriber_id != subscriber.pk or not is_reviewable(order):
        raise errors.ReviewRefused(reason="not_verified")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise errors.ReviewRefused(reason="rating")
    if not text.strip() or len(text) > MAX_REVIEW_LENGTH:
        raise errors.ReviewRefused(reason="text")
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise errors.ReviewRefused(reason="language")
    if about not in ReviewSubject.values:
        raise errors.ReviewRefused(reason="about")
    review = Review(
        subscriber=subscriber,
        order=order,
        about=about,
        plan=order.plan if about == ReviewSubject.PLAN else None,
        store=order.store if about == ReviewSubject.STORE else None,
        rating=rating,
        text=text,
        language=language,
        created_at=now,
    )
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError:
        raise errors.ReviewRefused(reason="already_reviewed") from None
    record_audit("review.submitted", actor=acting_user, target=review, order=order.number)
    return review


@transaction.atomic
def moderate_review(
    review: Review, *, approve: bool, acting_user: User, now: dt.datetime | None = None
) -> Review:
    """Publish or reject a review (either may be changed later by another decision)."""
    now = now or timezone.now()
    review = Review.objects.select_for_update().get(pk=review.pk)
    review.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    review.moderated_by, review.moderated_at = acting_user, now
    review.save(update_fields=["status", "moderated_by", "moderated_at"])
    record_audit(f"review.{review.status}", actor=acting_user, target=review)
    return review


@transaction.atomic
def reply_to_review(
    review: Review, *, text: str, acting_user: User, now: dt.datetime | None = None
) -> Review:
    """Attach (or replace, or with empty text remove) the staff reply shown under the review."""
    now = now or timezone.now()
    review = Review.objects.select_for_update().get(pk=review.pk)
    review.reply = text.strip()[:4000]
    review.replied_by = acting_user if review.reply else None
    review.replied_at = now if review.reply else None
    review.save(update_fields=["reply", "replied_by", "replied_at"])
    record_audit("review.replied", actor=acting_user, target=review, length=len(review.reply))
    return review


def _review_url(language: str) -> str:
    return f"{settings.SIMCARE_PUBLIC_BASE_URL.rstrip('/')}/{language}/portal/reviews/"


def _invite(
    subscriber: Subscriber,
    *,
    key: str,
    order: Order | None,
    line: Line | None,
    about: str,
    now: dt.datetime,
) -> bool:
    try:
        with transaction.atomic():
            _invitation, created = ReviewInvitation.objects.get_or_create(
                key=key, defaults={"subscriber": subscriber, "order": order, "created_at": now}
            )
    except IntegrityError:
        return False
    if not created:
        return False
    notify.enqueue(
        "review.requested",
        recipient=subscriber.user,
        line=line,
        context={
            "order_id": order.pk if order is not None else None,
            "order_number": order.number if order is not None else "",
            "about": about,
            "review_url": _review_url(subscriber.user.language),
        },
        dedupe_key=f"review.requested:{key}",
        now=now,
    )
    return True


@transaction.atomic
def request_review(order: Order, *, now: dt.datetime | None = None) -> bool:
    """Ask the customer of a fulfilled order for a review, once per order; True when asked now."""
    now = now or timezone.now()
    if order.subscriber is None or not is_reviewable(order) or hasattr(order, "review"):
        return False
    return _invite(
        order.subscriber,
        key=f"order:{order.pk}",
        order=order,
        line=order.line,
        about=ReviewSubject.PLAN,
        now=now,
    )


@transaction.atomic
def request_review_after_ticket(
    subscriber: Subscriber,
    *,
    ticket_id: int,
    line: Line | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """The hook for care: call it when a ticket closes; asks once per ticket about support.

    The review itself is still tied to one of the customer's fulfilled orders
    (only verified customers review); without one, nobody is asked.
    """
    now = now or timezone.now()
    has_order = Order.objects.filter(subscriber=subscriber, fulfilled_at__isnull=False).exists()
    if not has_order:
        return False
    return _invite(
        subscriber,
        key=f"ticket:{ticket_id}",
        order=None,
        line=line,
        about=ReviewSubject.SUPPORT,
        now=now,
    )


# How far back the job looks: an order fulfilled longer ago than the delay plus this
# was either asked already or predates the feature, and is left alone.
REVIEW_REQUEST_LOOKBACK = dt.timedelta(days=30)


def queue_review_requests(now: dt.datetime | None = None) -> dict[str, int]:
    """The `review_requests` job: ask every order fulfilled N days ago (and not yet asked)."""
    now = now or timezone.now()
    delay = dt.timedelta(days=int(settings.SIMCARE_REVIEWS["request_after_days"]))
    invited = ReviewInvitation.objects.filter(order=OuterRef("pk"))
    due = (
        Order.objects.filter(
            subscriber__isnull=False,
            state=OrderState.FULFILLED,
            fulfilled_at__lte=now - delay,
            fulfilled_at__gt=now - delay - REVIEW_REQUEST_LOOKBACK,
            review__isnull=True,
        )
        # A wallet top-up is not a purchase anyone reviews; asking after each would be noise.
        .exclude(kind=OrderKind.WALLET_TOPUP)
        .exclude(Exists(invited))
        .select_related("subscriber__user", "line")
        .order_by("fulfilled_at", "id")
    )
    asked = 0
    for order in due.iterator(chunk_size=500):
        if request_review(order, now=now):
            asked += 1
    return {"asked": asked}
