"""Reseller orders placed in batches: many requests, one database transaction.

One reseller order through the per-order path (services.place_reseller_order →
ordering.place_order) is about fifty SQL statements, each built by the ORM: ~25 ms
of CPU, so a 2-core machine places ~50 a second however the rows are locked. Here
N renewals and add-ons are placed and fulfilled in ONE transaction with a number of
statements that does not grow with N: each table gets one multi-row INSERT (or one
UPDATE) for the whole batch. Per order the same rows are written as by the
per-order path (the claim, the order and its items, the payment, the ledger
transaction and entries, the line's new period and buckets, its history, the audit
events, the notifications, the receipt, the webhook's outbox row), computed by the
same helpers (ordering's checks, items and pricing, lifecycle.renewal_period,
lines.plan_bucket_rows, notify.notification_rows, partners.order_event_row).

A batch (place_reseller_orders), in order:
1. each request's msisdn normalized (not a number: line_not_renewable, no claim,
   as the per-order path) and its fingerprint computed;
2. the claims (ResellerOrder) of the first request of each (reseller,
   external_order_no) inserted in one INSERT … ON CONFLICT DO NOTHING RETURNING,
   sorted by (reseller, number) so two batches never wait on each other's claims
   in opposite orders; a number claimed before answers with its order (same body,
   200) or idempotency_conflict, read in one query;
3. the plans with the resellers' prices, the add-ons, the promotions, the lines
   (locked: one SELECT … FOR UPDATE, in id order), the floats (read, not locked)
   and the system accounts: one query each;
4. the walk, in arrival order and in memory: each order checked as the
   per-order path checks it, priced, accepted while its float covers it (a
   refused order writes nothing: its claim is deleted), and its line renewed in
   memory so two renewals of one line in a batch extend it twice;
5. the writes: one statement per table for the accepted orders (kit.bulk:
   COPY on PostgreSQL), the money last (ledger.post_transactions): each float's
   debit is an UPDATE … RETURNING that locks its row to the commit and checks
   the balance again; a float spent meanwhile by another transaction fails the
   round, which runs again with the floats locked at step 3.

Later requests with a number already in the batch follow the first: its order
(same body) or idempotency_conflict; after a refusal, a later request with another
body is tried again in a next round (in the same call), as it would be had it come
after the refusal.

Failure isolation: an unexpected exception (a database error, a deadlock, a bug)
rolls the batch back and its requests are placed again one by one through the
per-order path, each getting its own answer. new_esim orders (a SIM and a
subscriber from stock each) always take the per-order path.

The Batcher serves the HTTP API: a daemon thread per process with its own
database connection takes whatever requests are queued (up to
SIMCARE_RESELLER_BATCH_SIZE) and places them as one batch while the next ones
queue; a request thread waits for its answer. An idle server places a lone
order at once; a busy one forms batches while the previous batch runs, and a
batch after one of several orders waits up to SIMCARE_RESELLER_BATCH_WAIT_MS
for as many (without it, batches alternated between one order, the first
answered client's next, and the rest).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone, translation

from simcare.accounts.services import audit_row
from simcare.catalog.models import AddOn, Plan
from simcare.kit.bulk import insert_rows
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.problems import DomainError
from simcare.ledger import services as ledger
from simcare.ledger.errors import InsufficientFunds
from simcare.ledger.models import LedgerAccount, TransactionKind
from simcare.lines import lifecycle
from simcare.lines.models import Bucket, Line, LineEvent, LineState
from simcare.lines.services import actor_label, plan_bucket_rows
from simcare.notify import services as notify
from simcare.notify.models import Notification
from simcare.orders import errors as order_errors
from simcare.orders import pricing
from simcare.orders.models import (
    Order,
    OrderItem,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Promotion,
    Receipt,
    SalesChannel,
)
from simcare.orders.services import ordering
from simcare.partners import errors, services
from simcare.partners.models import Reseller, ResellerOrder, WebhookEvent, WholesalePrice

logger = logging.getLogger(__name__)

BATCHED_KINDS = frozenset({"renewal", "addon"})
_SYSTEM_CODES = ("revenue:plans", "revenue:addons", "expense:promotions", "liability:sales_tax")
_CAUSE = f"renewal:{SalesChannel.RESELLER}"


@dataclass(frozen=True)
class OrderRequest:
    """One validated POST /api/v1/orders; `language` is the request's, for its refusal."""

    reseller: Reseller
    external_order_no: str
    kind: str
    plan_code: str
    msisdn: str | None = None
    customer: services.Customer = field(default_factory=services.Customer)
    language: str = "en"


@dataclass
class Result:
    """A request's answer: its order and whether this request created it, or the error
    (a DomainError to answer with, or the unexpected exception of its own retry)."""

    order: Order | None = None
    created: bool = False
    error: BaseException | None = None

    def unwrap(self) -> tuple[Order, bool]:
        if self.error is not None:
            raise self.error
        assert self.order is not None  # noqa: S101
        return self.order, self.created


def place_reseller_orders(
    requests: Sequence[OrderRequest], *, now: dt.datetime | None = None
) -> list[Result]:
    """Place and fulfil the orders, renewals and add-ons in one transaction a round; one
    Result per request, in order. A refusal answers its request only; an unexpected
    failure places that round's requests again one by one (module docstring)."""
    now = now or timezone.now()
    results: list[Result | None] = [None] * len(requests)
    batched = []
    for index, request in enumerate(requests):
        if request.kind in BATCHED_KINDS:
            batched.append(index)
        else:
            results[index] = _one_by_one(request, now)
    pending = batched
    while pending:
        try:
            try:
                with transaction.atomic():
                    answers, deferred = _Round(requests, pending, now, lock_floats=False).run()
            except InsufficientFunds:
                # Another transaction spent a float between this round's read of it and its
                # debit: the round again, with the floats locked from the start.
                with transaction.atomic():
                    answers, deferred = _Round(requests, pending, now, lock_floats=True).run()
        except Exception:
            logger.exception(
                "a batch of %d reseller orders failed; placing them one by one", len(pending)
            )
            answers = {index: _one_by_one(requests[index], now) for index in pending}
            deferred = []
        for index, answer in answers.items():
            results[index] = answer
        pending = deferred
    return [result if result is not None else Result(error=RuntimeError()) for result in results]


def _one_by_one(request: OrderRequest, now: dt.datetime) -> Result:
    """The per-order path (its own transaction), for new_esim and a failed batch."""
    try:
        with translation.override(request.language):
            order, created = services.place_reseller_order(
                request.reseller,
                external_order_no=request.external_order_no,
                kind=request.kind,
                plan_code=request.plan_code,
                msisdn=request.msisdn,
                customer=request.customer,
                now=now,
            )
        if not created:
            order = services.order_of(request.reseller, order.pk)
        return Result(order=order, created=created)
    except Exception as error:  # each request gets its own answer, an error included
        if not isinstance(error, DomainError):
            logger.exception("a reseller order failed")
        return Result(error=error)


@dataclass
class _Accepted:
    index: int
    request: OrderRequest
    claim: ResellerOrder
    order: Order
    items: list[OrderItem]
    payer: LedgerAccount
    renewal: lifecycle.RenewalPeriod | None = None
    from_state: str = ""
    previous_period_end: dt.datetime | None = None
    buckets: list[Bucket] = field(default_factory=list)


class _Round:
    """One transaction over `indexes` of `requests` (see the module docstring)."""

    def __init__(
        self,
        requests: Sequence[OrderRequest],
        indexes: list[int],
        now: dt.datetime,
        *,
        lock_floats: bool,
    ) -> None:
        self.requests = requests
        self.lock_floats = lock_floats
        self.indexes = indexes
        self.now = now
        self.answers: dict[int, Result] = {}
        self.deferred: list[int] = []
        # The row that claimed a leader's number before this round, if any.
        self.winners: dict[int, ResellerOrder | None] = {}
        self.accounts: dict[str, LedgerAccount] = {}

    def refuse(self, index: int, error: type[DomainError], **details: Any) -> None:
        with translation.override(self.requests[index].language):
            self.answers[index] = Result(error=error(**details))

    # --- 1. numbers and fingerprints ------------------------------------------------------

    def run(self) -> tuple[dict[int, Result], list[int]]:
        numbers: dict[int, str | None] = {}
        fingerprints: dict[int, str] = {}
        for index in self.indexes:
            request = self.requests[index]
            number: str | None = None
            if request.msisdn:
                try:
                    number = normalize_msisdn(request.msisdn)
                except InvalidPhoneNumber:
                    self.refuse(index, errors.ResellerLineNotRenewable)
                    continue
            numbers[index] = number
            fingerprints[index] = services._fingerprint(
                kind=request.kind, plan_code=request.plan_code, msisdn=number, customer=None
            )
        # The first request of each number leads; the others follow it.
        leaders: dict[tuple[int, str], int] = {}
        followers: list[int] = []
        for index in numbers:
            request = self.requests[index]
            key = (request.reseller.pk, request.external_order_no)
            if key in leaders:
                followers.append(index)
            else:
                leaders[key] = index
        claims = self._claim(leaders, fingerprints)
        claimed = [index for index in leaders.values() if index in claims]
        accepted = self._walk(claimed, claims, numbers, fingerprints) if claimed else []
        refused_claims = [
            claims[index].pk for index in claimed if index not in {a.index for a in accepted}
        ]
        if refused_claims:
            ResellerOrder.objects.filter(pk__in=refused_claims).delete()
        if accepted:
            self._write(accepted)
        self._follow(followers, leaders, fingerprints)
        return self.answers, self.deferred

    # --- 2. the claims ----------------------------------------------------------------------

    def _claim(
        self, leaders: dict[tuple[int, str], int], fingerprints: dict[int, str]
    ) -> dict[int, ResellerOrder]:
        """Insert the leaders' claims; answer those whose number was claimed before."""
        if not leaders:
            return {}
        table = connection.ops.quote_name(ResellerOrder._meta.db_table)
        at = connection.ops.adapt_datetimefield_value(self.now)
        ordered = sorted(leaders.items())
        params: list[Any] = []
        for (reseller_id, number), index in ordered:
            params += [reseller_id, number, fingerprints[index], self.requests[index].kind, at]
        values = ", ".join(["(%s, %s, %s, %s, NULL, %s)"] * len(ordered))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (reseller_id, external_order_no, request_fingerprint, "  # noqa: S608
                f"kind, order_id, created_at) VALUES {values} "
                "ON CONFLICT (reseller_id, external_order_no) DO NOTHING "
                "RETURNING id, reseller_id, external_order_no",
                params,
            )
            inserted = {(row[1], row[2]): row[0] for row in cursor.fetchall()}
        claims: dict[int, ResellerOrder] = {}
        taken: list[int] = []
        for key, index in ordered:
            if key in inserted:
                request = self.requests[index]
                claims[index] = ResellerOrder(
                    pk=inserted[key],
                    reseller=request.reseller,
                    external_order_no=request.external_order_no,
                    request_fingerprint=fingerprints[index],
                    kind=request.kind,
                    created_at=self.now,
                )
            else:
                taken.append(index)
        if taken:
            winners = self._winners(taken)
            for index in taken:
                request = self.requests[index]
                winner = winners.get((request.reseller.pk, request.external_order_no))
                self.winners[index] = winner
                self.answers[index] = _same_or_conflict(winner, fingerprints[index], request)
        return claims

    def _winners(self, indexes: list[int]) -> dict[tuple[int, str], ResellerOrder]:
        rows = ResellerOrder.objects.select_related(
            "order__plan", "order__addon", "order__line__sim"
        ).filter(
            reseller_id__in={self.requests[index].reseller.pk for index in indexes},
            external_order_no__in={self.requests[index].external_order_no for index in indexes},
        )
        found = {}
        for row in rows:
            if row.order is not None:
                row.order.reseller_order = row
            found[(row.reseller_id, row.external_order_no)] = row
        return found

    # --- 3 and 4. what the orders need, and the walk -----------------------------------------

    def _walk(
        self,
        claimed: list[int],
        claims: dict[int, ResellerOrder],
        numbers: dict[int, str | None],
        fingerprints: dict[int, str],
    ) -> list[_Accepted]:
        requests = [self.requests[index] for index in claimed]
        plan_codes = {r.plan_code for r in requests if r.kind == "renewal"}
        addon_codes = {r.plan_code for r in requests if r.kind == "addon"}
        plans = {plan.code: plan for plan in Plan.objects.filter(code__in=plan_codes)}
        prices: dict[tuple[int, int], int] = {}
        if plans:
            prices = {
                (reseller_id, plan_id): price
                for reseller_id, plan_id, price in WholesalePrice.objects.filter(
                    reseller_id__in={r.reseller.pk for r in requests},
                    plan_id__in=[plan.pk for plan in plans.values()],
                ).values_list("reseller_id", "plan_id", "price_cents")
            }
        addons = (
            {a.code: a for a in AddOn.objects.filter(code__in=addon_codes, is_active=True)}
            if addon_codes
            else {}
        )
        wanted = {numbers[index] for index in claimed if numbers[index] is not None}
        lines: dict[str, Line] = {}
        if wanted:
            for line in (
                Line.objects.select_for_update(of=("self",))
                .select_related("subscriber__user")
                .filter(msisdn__in=wanted)
                .exclude(state=LineState.RECYCLED)
                .order_by("id")
            ):
                best = lines.get(line.msisdn)
                if best is None or (line.activated_at, line.pk) > (best.activated_at, best.pk):
                    lines[line.msisdn] = line
        promotions = _Promotions(self.now) if plan_codes else None
        resellers = {
            reseller.pk: reseller
            for reseller in Reseller.objects.select_related("user").filter(
                pk__in={r.reseller.pk for r in requests}
            )
        }
        floats = _floats([reseller.slug for reseller in resellers.values()], lock=self.lock_floats)
        # The system accounts that exist (one missing is opened by ordering._legs when an
        # order needs it, as on the per-order path).
        accounts = {a.code: a for a in LedgerAccount.objects.filter(code__in=_SYSTEM_CODES)}

        accepted: list[_Accepted] = []
        for index in claimed:
            request = self.requests[index]
            reseller = resellers.get(request.reseller.pk, request.reseller)
            with translation.override(request.language):
                try:
                    order = self._order(
                        request,
                        reseller,
                        numbers[index],
                        plans=plans,
                        prices=prices,
                        addons=addons,
                        lines=lines,
                        promotions=promotions,
                    )
                except DomainError as refusal:
                    self.answers[index] = Result(error=refusal)
                    continue
            payer = floats[reseller.slug]
            balance = payer.cached_balance_cents
            if balance - order.total_cents < -payer.overdraft_limit_cents:
                self.refuse(
                    index,
                    errors.InsufficientFloat,
                    balance_cents=balance,
                    total_cents=order.total_cents,
                )
                continue
            payer.cached_balance_cents = balance - order.total_cents
            order.request_fingerprint = _order_fingerprint(order, reseller)
            claim = claims[index]
            claim.reseller = reseller
            accepted.append(
                self._fulfil(
                    index,
                    request=request,
                    claim=claim,
                    order=order,
                    payer=payer,
                    promotion=order.promotion,
                )
            )
        self.accounts = accounts
        return accepted

    def _order(
        self,
        request: OrderRequest,
        reseller: Reseller,
        number: str | None,
        *,
        plans: dict[str, Plan],
        prices: dict[tuple[int, int], int],
        addons: dict[str, AddOn],
        lines: dict[str, Line],
        promotions: _Promotions | None,
    ) -> Order:
        """The order as ordering.place_order would insert it, priced; refusals raise."""
        plan: Plan | None = None
        addon: AddOn | None = None
        unit_price: int | None = None
        if request.kind == "addon":
            addon = addons.get(request.plan_code)
            if addon is None:
                raise errors.UnknownPlan(plan=request.plan_code)
            kind = OrderKind.ADDON
        else:
            plan = plans.get(request.plan_code)
            if plan is None:
                raise errors.UnknownPlan(plan=request.plan_code)
            unit_price = prices.get((reseller.pk, plan.pk), plan.price_cents)
            kind = OrderKind.RENEWAL
        if number is None:
            raise errors.MsisdnRequired()
        line = lines.get(number)
        if line is None:
            raise errors.ResellerLineNotRenewable()
        subscriber = line.subscriber
        ordering._check_request(
            kind=kind,
            channel=SalesChannel.RESELLER,
            subscriber=subscriber,
            plan=plan,
            addon=addon,
            line=line,
            sim_kind="",
            periods=1,
            amount_cents=None,
        )
        language = ordering._language_of(subscriber)
        items = ordering._items(
            kind=kind,
            plan=plan,
            addon=addon,
            line=line,
            periods=1,
            amount_cents=None,
            language=language,
            unit_price_cents=unit_price,
        )
        promotion = (
            promotions.applicable(plan.code)
            if promotions is not None and plan is not None
            else None
        )
        province = ordering._province(subscriber, None)
        quote = pricing.price(
            items,
            province=province,
            tax_rates=ordering.tax_rates(),
            coupon=None,
            promotion_id=promotion.pk if promotion is not None else None,
            taxed=True,
        )
        order = Order(
            kind=kind,
            channel=SalesChannel.RESELLER,
            state=OrderState.FULFILLED,
            subscriber=subscriber,
            line=line,
            plan=plan,
            addon=addon,
            sim_kind="",
            periods=1,
            store=None,
            subtotal_cents=quote.subtotal_cents,
            discount_cents=quote.discount_cents,
            tax_cents=quote.tax_cents,
            total_cents=quote.total_cents,
            taxes=[tax_line.as_json() for tax_line in quote.taxes],
            province=province,
            coupon=None,
            promotion=promotion,
            payment_method=PaymentMethod.RESELLER_FLOAT,
            idempotency_key=f"reseller:{reseller.pk}:{request.external_order_no}",
            language=language,
            reseller_ref=reseller.owner_ref,
            external_reference=request.external_order_no,
            created_by=reseller.user,
            created_at=self.now,
            paid_at=self.now,
            fulfilled_at=self.now,
        )
        order._batch_items = quote.items  # type: ignore[attr-defined]
        return order

    def _fulfil(
        self,
        index: int,
        *,
        request: OrderRequest,
        claim: ResellerOrder,
        order: Order,
        payer: LedgerAccount,
        promotion: Promotion | None,
    ) -> _Accepted:
        """What ordering._fulfil does to the line, in memory (the line object is shared by
        every order of the batch on it, so a second renewal extends the first's period)."""
        items = [
            OrderItem(
                kind=item.kind,
                code=item.code,
                description=item.description,
                quantity=item.quantity,
                unit_price_cents=item.unit_price_cents,
                amount_cents=item.amount_cents,
            )
            for item in order._batch_items  # type: ignore[attr-defined]
        ]
        done = _Accepted(index, request, claim, order, items, payer)
        line = order.line
        assert line is not None  # noqa: S101
        if order.kind == OrderKind.RENEWAL:
            plan = order.plan
            assert plan is not None  # noqa: S101
            from_state = LineState(line.state)
            period = lifecycle.renewal_period(
                state=from_state,
                period_start=line.period_start,
                period_end=line.period_end,
                validity_days=plan.validity_days,
                now=self.now,
            )
            done.from_state = from_state
            done.previous_period_end = line.period_end
            done.renewal = period
            line.plan = plan
            line.period_start = period.period_start
            line.period_end = period.period_end
            if from_state != LineState.ACTIVE:
                line.state = LineState.ACTIVE
                line.state_changed_at = self.now
            done.buckets = plan_bucket_rows(
                line, plan, starts_at=period.allowances_start_at, expires_at=period.period_end
            )
            if promotion is not None and promotion.bonus_addon is not None:
                done.buckets.append(
                    ordering.addon_bucket_row(
                        line, promotion.bonus_addon, now=self.now, expires_at=line.period_end
                    )
                )
        else:
            assert order.addon is not None  # noqa: S101
            done.buckets = [ordering.addon_bucket_row(line, order.addon, now=self.now)]
        return done

    # --- 5. the writes ------------------------------------------------------------------------

    def _write(self, accepted: list[_Accepted]) -> None:
        orders = [done.order for done in accepted]
        insert_rows(orders, returning_pk=True)
        for done in accepted:
            for item in done.items:
                item.order = done.order
        insert_rows([item for done in accepted for item in done.items])
        for done in accepted:
            done.claim.order = done.order
            done.order.reseller_order = done.claim
        _set_column(ResellerOrder, "order_id", [(d.claim.pk, d.order.pk) for d in accepted])
        renewals = [done for done in accepted if done.renewal is not None]
        lines: dict[int, Line] = {}
        for done in renewals:
            assert done.order.line is not None  # noqa: S101
            lines[done.order.line.pk] = done.order.line
        if lines:
            _update_lines(list(lines.values()))
        insert_rows([bucket for done in accepted for bucket in done.buckets])
        self._write_records(accepted, renewed_lines=list(lines))
        # The money last: the floats' rows are locked from their debit to the commit only.
        self._write_money(accepted)

    def _write_records(self, accepted: list[_Accepted], *, renewed_lines: list[int]) -> None:
        """The line history, audit events, webhook events, receipts and notifications."""
        now = self.now
        audits = []
        events = []
        notifications: list[Notification] = []
        receipt_rows = []
        webhooks: list[WebhookEvent] = []
        for done in accepted:
            order = done.order
            actor = order.created_by
            audits.append(
                audit_row(
                    "order.placed",
                    actor=actor,
                    target=order,
                    kind=order.kind,
                    channel=order.channel,
                    payment_method=order.payment_method,
                    total_cents=order.total_cents,
                )
            )
            line = order.line
            assert line is not None  # noqa: S101
            if done.renewal is not None:
                assert order.plan is not None  # noqa: S101
                period = done.renewal
                assert done.previous_period_end is not None  # noqa: S101
                events.append(
                    LineEvent(
                        line=line,
                        created_at=now,
                        actor=actor,
                        actor_label=actor_label(actor),
                        from_state=done.from_state,
                        to_state=LineState.ACTIVE,
                        cause=_CAUSE[:40],
                        note=f"{order.plan.code} until {period.period_end.isoformat()}",
                    )
                )
                audits.append(
                    audit_row(
                        "line.renewed",
                        actor=actor,
                        target=line,
                        cause=_CAUSE,
                        plan=order.plan.code,
                        from_state=str(done.from_state),
                        previous_period_end=done.previous_period_end.isoformat(),
                        period_end=period.period_end.isoformat(),
                        restarted=period.is_restart,
                    )
                )
                notifications += notify.notification_rows(
                    "line.renewed",
                    recipient=line.subscriber.user,
                    line=line,
                    reference_at=period.period_end,
                    dedupe_key=f"line.renewed:{line.pk}:{int(period.period_end.timestamp())}",
                    now=now,
                )
            webhook = services.order_event_row(order, "order.fulfilled", done.claim.reseller)
            if webhook is not None:
                webhooks.append(webhook)
            subscriber = order.subscriber
            assert subscriber is not None  # noqa: S101
            receipt = Receipt(order=order, language=subscriber.user.language or order.language)
            receipt_rows.append(receipt)
            audits.append(
                audit_row(
                    "order.fulfilled",
                    actor=actor,
                    target=order,
                    kind=order.kind,
                    line=order.line_id,
                    total_cents=order.total_cents,
                )
            )
            notifications += notify.notification_rows(
                "order.fulfilled",
                recipient=subscriber.user,
                line=line,
                now=now,
                **ordering.fulfilled_notice(order, receipt),
            )
            self.answers[done.index] = Result(order=order, created=True)
        if events:
            insert_rows(events)
        if renewed_lines:
            notify.cancel_queued_of_lines(
                line_ids=renewed_lines, templates=lifecycle.STALE_AFTER_RENEWAL_TEMPLATES
            )
        if webhooks:
            insert_rows(webhooks)
        insert_rows(receipt_rows)
        insert_rows(audits)
        notify.enqueue_rows(notifications)

    def _write_money(self, accepted: list[_Accepted]) -> None:
        """The ledger transactions (the floats debited), the orders' link to them, the
        payments."""
        now = self.now
        orders = [done.order for done in accepted]
        transactions = ledger.post_transactions(
            [
                ledger.Posting(
                    kind=TransactionKind.ORDER_PAYMENT,
                    entries=ordering._legs(done.order, done.payer, done.items, self.accounts),
                    memo=f"{done.order.number} {done.order.kind}",
                    idempotency_key=f"order:{done.order.pk}:payment",
                    reference=done.order.number,
                )
                for done in accepted
            ]
        )
        for done, txn in zip(accepted, transactions, strict=True):
            done.order.ledger_transaction = txn
        _set_column(
            Order, "ledger_transaction_id", [(o.pk, o.ledger_transaction_id) for o in orders]
        )
        insert_rows(
            [
                Payment(
                    order=done.order,
                    method=done.order.payment_method,
                    provider="",
                    provider_reference="",
                    amount_cents=done.order.total_cents,
                    created_at=now,
                    status=PaymentStatus.SUCCEEDED,
                    ledger_transaction=done.order.ledger_transaction,
                    completed_at=now,
                )
                for done in accepted
            ]
        )

    # --- later requests with a number already in the batch ------------------------------------

    def _follow(
        self,
        followers: list[int],
        leaders: dict[tuple[int, str], int],
        fingerprints: dict[int, str],
    ) -> None:
        for index in followers:
            request = self.requests[index]
            leader = leaders[(request.reseller.pk, request.external_order_no)]
            answer = self.answers[leader]
            if leader in self.winners:  # claimed before this round: compared with that order
                self.answers[index] = _same_or_conflict(
                    self.winners[leader], fingerprints[index], request
                )
            elif answer.order is not None:  # the leader's new order
                self.answers[index] = _same_or_conflict(
                    answer.order.reseller_order, fingerprints[index], request
                )
            elif fingerprints[index] == fingerprints[leader]:
                # The same body as a refused leader: the same refusal, nothing written.
                with translation.override(request.language):
                    error = answer.error
                    assert isinstance(error, DomainError)  # noqa: S101
                    details: dict[str, Any] = dict(error.details)
                    self.answers[index] = Result(error=type(error)(None, **details))
            else:
                self.deferred.append(index)


def _same_or_conflict(
    winner: ResellerOrder | None, fingerprint: str, request: OrderRequest
) -> Result:
    if winner is None or winner.order is None or winner.request_fingerprint != fingerprint:
        with translation.override(request.language):
            return Result(
                error=order_errors.IdempotencyConflict(
                    order=winner.order_id if winner is not None else None
                )
            )
    return Result(order=winner.order, created=False)


def _order_fingerprint(order: Order, reseller: Reseller) -> str:
    """ordering.place_order's request fingerprint of this order."""
    return ordering._fingerprint(
        kind=order.kind,
        channel=order.channel,
        subscriber=order.subscriber_id,
        payment_method=order.payment_method,
        plan=order.plan.code if order.plan else None,
        addon=order.addon.code if order.addon else None,
        line=order.line_id,
        sim_kind="",
        sim=None,
        msisdn=None,
        periods=1,
        amount_cents=None,
        coupon="",
        store=None,
        reseller_ref=reseller.owner_ref,
    )


class _Promotions:
    """ordering._applicable_promotion for a batch: the active promotions read once."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.terms = [
            (promotion, ordering._promotion_terms(promotion))
            for promotion in Promotion.objects.filter(is_active=True)
            .select_related("bonus_addon")
            .prefetch_related("plans")
            .order_by("-minimum_periods", "pk")
        ]
        self.cache: dict[str, Promotion | None] = {}

    def applicable(self, plan_code: str) -> Promotion | None:
        if plan_code not in self.cache:
            self.cache[plan_code] = next(
                (
                    promotion
                    for promotion, terms in self.terms
                    if pricing.promotion_applies(
                        terms,
                        now=self.now,
                        order_kind=OrderKind.RENEWAL,
                        channel=SalesChannel.RESELLER,
                        plan_code=plan_code,
                        periods=1,
                    )
                ),
                None,
            )
        return self.cache[plan_code]


def _floats(slugs: list[str], *, lock: bool) -> dict[str, LedgerAccount]:
    """The resellers' floats, read (a first try) or locked in id order (after a lost race)."""
    accounts = LedgerAccount.objects.select_for_update() if lock else LedgerAccount.objects.all()
    found = {
        account.code.removeprefix("float:"): account
        for account in accounts.filter(code__in=[f"float:{slug}" for slug in slugs]).order_by("id")
    }
    for slug in slugs:
        if slug not in found:  # not opened yet (resellers open theirs when created)
            ledger.reseller_float(slug)
            found[slug] = accounts.get(code=f"float:{slug}")
    return found


def _set_column(model: Any, column: str, pairs: list[tuple[int, Any]]) -> None:
    """UPDATE <table> SET <column> = CASE id WHEN … END WHERE id IN (…): one statement."""
    if not pairs:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(pairs))
    ids = ", ".join(["%s"] * len(pairs))
    params: list[Any] = [value for pair in pairs for value in pair]
    params += [pk for pk, _value in pairs]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {connection.ops.quote_name(column)} = CASE id {cases} END "  # noqa: S608
            f"WHERE id IN ({ids})",
            params,
        )


def _update_lines(lines: list[Line]) -> None:
    """renew_line_period's save of each line (plan, period, state), one statement."""
    adapt = connection.ops.adapt_datetimefield_value
    columns: dict[str, Callable[[Line], Any]] = {
        "plan_id": lambda line: line.plan_id,
        "period_start": lambda line: adapt(line.period_start),
        "period_end": lambda line: adapt(line.period_end),
        "state": lambda line: line.state,
        "state_changed_at": lambda line: adapt(line.state_changed_at),
    }
    table = connection.ops.quote_name(Line._meta.db_table)
    timestamp = "timestamp with time zone" if connection.vendor == "postgresql" else None
    sets = []
    params: list[Any] = []
    for column, value in columns.items():
        when = "WHEN %s THEN %s"
        if timestamp and column in {"period_start", "period_end", "state_changed_at"}:
            when = f"WHEN %s THEN CAST(%s AS {timestamp})"
        sets.append(f"{column} = CASE id {' '.join([when] * len(lines))} END")
        for line in lines:
            params += [line.pk, value(line)]
    params += [line.pk for line in lines]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(lines))})",
            params,
        )


# --- the per-process batcher ------------------------------------------------------------------


class BatchTimeout(Exception):
    """The batcher did not answer in time (the order may still be placed)."""


@dataclass
class _Ticket:
    request: OrderRequest
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None


class Batcher:
    """A daemon thread placing the queued requests in batches of up to `size`."""

    def __init__(self, *, size: int, wait: float = 0.0) -> None:
        self.size = size
        self.wait = wait
        # The last batch's size: under load, the next batch waits up to `wait` seconds for
        # as many requests (its clients' next orders), instead of alternating between a
        # batch of one (the first answered client's next order) and one of the rest.
        self._last_size = 0
        self._queue: queue.SimpleQueue[_Ticket | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, request: OrderRequest, *, timeout: float) -> Result:
        ticket = _Ticket(request)
        self._start()
        self._queue.put(ticket)
        if not ticket.done.wait(timeout):
            raise BatchTimeout()
        assert ticket.result is not None  # noqa: S101
        return ticket.result

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="simcare-reseller-batcher", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Finish the queued requests, stop the thread and close its connection."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join()
        self._thread = None

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                expected = min(self.size, self._last_size)
                deadline = time.monotonic() + self.wait
                while len(batch) < self.size:
                    try:
                        if len(batch) < expected:
                            ticket = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                        else:
                            ticket = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if ticket is None:
                        stop = True
                        break
                    batch.append(ticket)
                self._last_size = len(batch)
                self._place(batch)
                if stop:
                    return
        finally:
            connection.close()

    def _place(self, batch: list[_Ticket]) -> None:
        close_old_connections()
        try:
            results = place_reseller_orders([ticket.request for ticket in batch])
        except Exception as error:  # e.g. the database unreachable: every request hears it
            logger.exception("a batch of reseller orders failed")
            results = [Result(error=error) for _ticket in batch]
        finally:
            close_old_connections()
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
            ticket.done.set()


_batcher: Batcher | None = None
_batcher_lock = threading.Lock()


def batcher() -> Batcher:
    """This process's batcher (started on first use, so after uvicorn forked its workers)."""
    global _batcher  # noqa: PLW0603
    with _batcher_lock:
        if _batcher is None:
            _batcher = Batcher(
                size=settings.SIMCARE_RESELLER_BATCH_SIZE,
                wait=settings.SIMCARE_RESELLER_BATCH_WAIT_MS / 1000,
            )
        return _batcher


def shutdown() -> None:
    """Stop this process's batcher (tests, a shutdown); the next order starts a new one."""
    global _batcher
    with _batcher_lock:
        current, _batcher = _batcher, None
    if current is not None:
        current.stop()


def _release_connection() -> None:
    """Give the request thread's pooled connection back before waiting for the batcher: a
    request that read the database (its API key's lookup) would otherwise hold it while
    waiting, and with more request threads than the pool has connections the batcher
    itself would wait for one (PostgreSQL's pool, settings.SIMCARE_DB_POOL_SIZE)."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def place(request: OrderRequest) -> tuple[Order, bool]:
    """The API's way in: the order placed in a batch by this process's batcher (or in this
    thread when SIMCARE_RESELLER_BATCH is "inline", the tests' default); (order, created),
    or the refusal raised. new_esim orders take the per-order path here."""
    if request.kind not in BATCHED_KINDS:
        return _one_by_one(request, timezone.now()).unwrap()
    if settings.SIMCARE_RESELLER_BATCH == "inline":
        return place_reseller_orders([request])[0].unwrap()
    _release_connection()
    try:
        result = batcher().submit(request, timeout=settings.SIMCARE_RESELLER_BATCH_TIMEOUT)
    except BatchTimeout:
        with translation.override(request.language):
            raise errors.OrderPending() from None
    return result.unwrap()
