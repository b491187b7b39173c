"""Reads on stores, with the access check built in.

Public: the locator lists active stores to anyone. The clerk console: a clerk
sees only the stores they are a clerk of (Store.clerks), an admin sees every
store, anyone else none. A store, sale or report someone may not see is
reported as not found (Store.DoesNotExist / Order.DoesNotExist, a 404 at the
edge), never as forbidden.

The end-of-day report covers one business day in America/Toronto (local
midnight to midnight) of one store: its orders by kind and payment method,
the vouchers it sold, and the movement of its cash drawer (cash:<store>),
all as exact integer cents.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum

from simcare.accounts.models import Role, Subscriber, User
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.time import business_zone
from simcare.ledger.models import LedgerAccount, LedgerEntry
from simcare.lines.models import SimCard, SimKind, SimStatus
from simcare.orders.models import Order, OrderState, Voucher
from simcare.stores.models import Store

SOLD_STATES = (OrderState.PAID, OrderState.FULFILLED, OrderState.REFUNDED)
CONSOLE_ROLES = frozenset({str(Role.CLERK), str(Role.ADMIN)})


# --- the public locator ----------------------------------------------------------------------


def active_stores() -> QuerySet[Store]:
    return Store.objects.filter(is_active=True).order_by("province", "city", "name", "code")


def locator_stores(*, city: str = "", province: str = "", service: str = "") -> list[Store]:
    """Active stores in `city` / `province` offering `service`; an empty filter matches all."""
    stores = active_stores()
    if city:
        stores = stores.filter(city__iexact=city)
    if province:
        stores = stores.filter(province__iexact=province)
    found = list(stores)
    if service:
        # services is a JSON list: filtered here, the same on SQLite and PostgreSQL.
        found = [store for store in found if service in (store.services or [])]
    return found


def locator_cities() -> list[str]:
    return sorted(set(active_stores().values_list("city", flat=True)), key=str.casefold)


def locator_provinces() -> list[str]:
    return sorted(set(active_stores().values_list("province", flat=True)))


# --- the clerk console -----------------------------------------------------------------------


def may_use_console(user: User) -> bool:
    """Clerks and admins who are staff; the second factor is the view's check."""
    return bool(
        user.is_authenticated and user.is_active and user.is_staff and user.roles & CONSOLE_ROLES
    )


def console_stores_for(user: User) -> QuerySet[Store]:
    """The stores `user` works the console of: their own as a clerk, every one as an admin."""
    stores = Store.objects.order_by("code")
    if not may_use_console(user):
        return stores.none()
    if str(Role.ADMIN) in user.roles:
        return stores
    return stores.filter(clerks=user)


def console_store_for(user: User, code: str) -> Store:
    """The store with this code if `user` may work it; raises Store.DoesNotExist otherwise."""
    return console_stores_for(user).get(code=code)


def customer_by_contact(text: str) -> Subscriber | None:
    """The subscriber with this email or mobile number, or None (the console serves anyone
    who walks in, as agents serve anyone who calls)."""
    text = (text or "").strip()
    if not text:
        return None
    users = User.objects.filter(subscriber__isnull=False)
    if "@" in text:
        user = users.filter(email__iexact=text).first()
    else:
        try:
            user = users.filter(phone=normalize_msisdn(text)).first()
        except InvalidPhoneNumber:
            return None
    return user.subscriber if user is not None else None


def sale_key(clerk: User, form_token: str) -> str:
    """The idempotency key of a console form's sale: "store:<clerk id>:<form token>"."""
    return f"store:{clerk.pk}:{form_token}"


def sale_by_token(user: User, store: Store, form_token: object) -> Order | None:
    """The sale this clerk already made with this form (a double submit), if any."""
    if not isinstance(form_token, str) or not form_token or len(form_token) > 64:
        return None
    return store_sales(store).filter(idempotency_key=sale_key(user, form_token)).first()


def store_sales(store: Store) -> QuerySet[Order]:
    return (
        Order.objects.filter(store=store)
        .select_related("plan", "line", "line__sim", "subscriber__user", "created_by")
        .order_by("-created_at", "-id")
    )


def sale_for(user: User, code: str, order_id: int) -> Order:
    """An order of a store `user` may work; raises Store/Order.DoesNotExist otherwise."""
    store = console_store_for(user, code)
    return store_sales(store).get(pk=order_id)


def sims_in_stock(store: Store) -> QuerySet[SimCard]:
    """Physical SIMs on this store's shelf."""
    return SimCard.objects.filter(
        store=store, kind=SimKind.PHYSICAL, status=SimStatus.IN_STOCK
    ).order_by("iccid")


def esims_available() -> int:
    return SimCard.objects.filter(kind=SimKind.ESIM, status=SimStatus.IN_STOCK).count()


def drawer_account(store: Store) -> LedgerAccount | None:
    return LedgerAccount.objects.filter(store=store).first()


def drawer_cash_cents(store: Store) -> int:
    """Cash the drawer has taken in so far: minus the drawer account's balance (sign
    convention in simcare.ledger.models: cash:<store> runs negative as cash comes in)."""
    account = drawer_account(store)
    return -account.cached_balance_cents if account is not None else 0


# --- end of day ------------------------------------------------------------------------------


def business_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight to the next local midnight (23, 24 or 25 hours), as aware datetimes."""
    zone = business_zone()
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)
    return start, end


@dataclass
class SalesRow:
    """Orders of one kind and payment method in the day."""

    kind: str
    payment_method: str
    count: int = 0
    subtotal_cents: int = 0
    discount_cents: int = 0
    tax_cents: int = 0
    total_cents: int = 0


@dataclass
class EndOfDay:
    store: Store
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    rows: list[SalesRow] = field(default_factory=list)
    vouchers_sold: int = 0
    vouchers_cents: int = 0
    drawer_opening_cents: int = 0
    drawer_in_cents: int = 0
    drawer_closing_cents: int = 0

    @property
    def order_count(self) -> int:
        return sum(row.count for row in self.rows)

    @property
    def subtotal_cents(self) -> int:
        return sum(row.subtotal_cents for row in self.rows)

    @property
    def discount_cents(self) -> int:
        return sum(row.discount_cents for row in self.rows)

    @property
    def tax_cents(self) -> int:
        return sum(row.tax_cents for row in self.rows)

    @property
    def total_cents(self) -> int:
        return sum(row.total_cents for row in self.rows)

    @property
    def cash_sales_cents(self) -> int:
        """What the day's cash orders and voucher cards should have put in the drawer."""
        orders = sum(row.total_cents for row in self.rows if row.payment_method == "cash")
        return orders + self.vouchers_cents


def end_of_day(user: User, code: str, day: dt.date) -> EndOfDay:
    """The day's report of a store `user` may work; raises Store.DoesNotExist otherwise."""
    store = console_store_for(user, code)
    starts_at, ends_at = business_day_bounds(day)
    report = EndOfDay(store=store, day=day, starts_at=starts_at, ends_at=ends_at)

    orders = Order.objects.filter(
        store=store, state__in=SOLD_STATES, paid_at__gte=starts_at, paid_at__lt=ends_at
    ).values_list(
        "kind", "payment_method", "subtotal_cents", "discount_cents", "tax_cents", "total_cents"
    )
    rows: dict[tuple[str, str], SalesRow] = defaultdict(lambda: SalesRow("", ""))
    for kind, method, subtotal, discount, tax, total in orders:
        row = rows[(kind, method)]
        row.kind, row.payment_method = kind, method
        row.count += 1
        row.subtotal_cents += subtotal
        row.discount_cents += discount
        row.tax_cents += tax
        row.total_cents += total
    report.rows = [rows[key] for key in sorted(rows)]

    vouchers = Voucher.objects.filter(
        sold_store=store, sold_at__gte=starts_at, sold_at__lt=ends_at
    ).aggregate(cents=Sum("value_cents"), count=Count("id"))
    report.vouchers_cents = vouchers["cents"] or 0
    report.vouchers_sold = vouchers["count"] or 0

    account = drawer_account(store)
    if account is not None:
        entries = LedgerEntry.objects.filter(account=account)
        before = entries.filter(created_at__lt=starts_at).aggregate(total=Sum("amount_cents"))
        during = entries.filter(Q(created_at__gte=starts_at) & Q(created_at__lt=ends_at)).aggregate(
            total=Sum("amount_cents")
        )
        report.drawer_opening_cents = -(before["total"] or 0)
        report.drawer_in_cents = -(during["total"] or 0)
        report.drawer_closing_cents = report.drawer_opening_cents + report.drawer_in_cents
    return report
