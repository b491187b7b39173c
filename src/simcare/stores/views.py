"""The public store locator and the clerk console.

Locator (/<lang>/stores/): a GET form filters by city, province, service and
open-now; with htmx only the results are swapped in (the HX-Request header
asks for the partial), without JavaScript the form reloads the page.

Console (/<lang>/store-console/): clerks and admins who passed their second
factor (TOTP), as in the back office; a clerk works only the stores they are
a clerk of: another store's pages, sales and reports are not found (404).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from simcare.kit.money import format_cents
from simcare.kit.problems import DomainError
from simcare.kit.time import business_zone, local
from simcare.lines import esim
from simcare.lines.errors import NotAnEsim
from simcare.lines.models import SimKind
from simcare.orders.models import Order, OrderKind, PaymentMethod, Voucher
from simcare.stores import hours as store_hours
from simcare.stores import queries, services
from simcare.stores.forms import DayForm, LocatorForm, RenewForm, SaleForm, VoucherSaleForm
from simcare.stores.models import Store

View = Callable[..., HttpResponse]


# --- the public locator ----------------------------------------------------------------------


def map_url(store: Store) -> str:
    """An OpenStreetMap link: the pin when the store has coordinates, else an address search."""
    if store.latitude is not None and store.longitude is not None:
        lat, lon = f"{store.latitude:.6f}", f"{store.longitude:.6f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
    address = ", ".join(
        part for part in (store.address, store.city, store.province, store.postal_code) if part
    )
    return "https://www.openstreetmap.org/search?" + urlencode({"query": address}, quote_via=quote)


def _time_text(moment: dt.datetime) -> str:
    return f"{moment:%H:%M}"


def _day_text(change: dt.datetime, today: dt.date) -> str:
    """The day part of "opens tomorrow at 10:00": "" for today, "tomorrow" or a weekday."""
    days = (change.date() - today).days
    if days == 0:
        return ""
    if days == 1:
        return _("tomorrow")
    return str(WEEKDAYS[change.weekday()])


def opening_text(opening: store_hours.Opening, now: dt.datetime) -> str:
    """ "Open now · closes at 20:00", "Closed · opens tomorrow at 10:00", …"""
    today = local(now).date()
    change = opening.next_change
    if change is None:
        return _("Open 24 hours") if opening.is_open else _("Closed")
    time = _time_text(change)
    if opening.is_open:
        # Closing at midnight ("24:00") is still today's closing.
        day = _day_text(change - dt.timedelta(minutes=1), today)
        if change.hour == 0 and change.minute == 0:
            time = "24:00"
        if not day:
            return _("Open now · closes at %(time)s") % {"time": time}
        return _("Open now · closes %(day)s at %(time)s") % {"day": day, "time": time}
    day = _day_text(change, today)
    if not day:
        return _("Closed · opens at %(time)s") % {"time": time}
    return _("Closed · opens %(day)s at %(time)s") % {"day": day, "time": time}


def week_hours(store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    """Monday to Sunday: the day's name, its periods as text, whether it is today."""
    today = local(now).weekday()
    week = []
    for index, day in enumerate(store_hours.DAYS):
        periods = store_hours.day_periods(store.hours, day)
        text = ", ".join(
            f"{store_hours.format_minutes(opens)}\u2013{store_hours.format_minutes(closes)}"
            for opens, closes in periods
        )
        week.append(
            {"name": WEEKDAYS[index], "hours": text or _("Closed"), "is_today": index == today}
        )
    return week


def _store_card(store: Store, now: dt.datetime) -> dict[str, Any]:
    opening = store_hours.opening(store.hours, now, zone=business_zone())
    return {
        "store": store,
        "is_open": opening.is_open,
        "opening_text": opening_text(opening, now),
        "week": week_hours(store, now),
        "map_url": map_url(store),
        "services": store.service_labels,
    }


@require_safe
def locator(request: HttpRequest) -> HttpResponse:
    form = LocatorForm(request.GET)
    filters = form.filters()
    now = timezone.now()
    cards = [
        _store_card(store, now)
        for store in queries.locator_stores(
            city=filters["city"], province=filters["province"], service=filters["service"]
        )
    ]
    if filters["open_now"]:
        cards = [card for card in cards if card["is_open"]]
    context = {"form": form, "cards": cards}
    # htmx asks for the results only, except when it restores a page from history.
    partial = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    template = "stores/_store_results.html" if partial else "stores/locator.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response


# --- the clerk console -----------------------------------------------------------------------


def console_view(view: View) -> View:
    """Signed in, staff who passed TOTP (else the staff sign-in), clerk or admin (else 403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: Any = request.user
        if not user.is_authenticated or (user.is_staff and not user.is_verified()):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not queries.may_use_console(user):
            raise PermissionDenied
        response = view(request, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapped


def _store_or_404(request: HttpRequest, code: str) -> Store:
    user: Any = request.user
    try:
        return queries.console_store_for(user, code)
    except Store.DoesNotExist as missing:
        raise Http404 from missing


def _console_context(store: Store, **extra: Any) -> dict[str, Any]:
    return {"store": store, "drawer_cents": queries.drawer_cash_cents(store), **extra}


@require_safe
@console_view
def console_home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    stores = list(queries.console_stores_for(user))
    if len(stores) == 1:
        return redirect("store_console:store", code=stores[0].code)
    return render(request, "stores/console/home.html", {"stores": stores})


@require_safe
@console_view
def console_store(request: HttpRequest, code: str) -> HttpResponse:
    store = _store_or_404(request, code)
    starts_at, ends_at = queries.business_day_bounds(local(timezone.now()).date())
    sales = queries.store_sales(store).filter(created_at__gte=starts_at, created_at__lt=ends_at)
    context = _console_context(
        store,
        sales=sales[:50],
        sims_in_stock=queries.sims_in_stock(store).count(),
        esims_available=queries.esims_available(),
    )
    return render(request, "stores/console/store.html", context)


def _refused(form: Any, refusal: DomainError) -> None:
    form.add_error(None, refusal.message)


@require_http_methods(["GET", "POST"])
@console_view
def console_sell(request: HttpRequest, code: str) -> HttpResponse:
    store = _store_or_404(request, code)
    user: Any = request.user
    earlier = queries.sale_by_token(user, store, request.POST.get("form_token"))
    if earlier is not None:
        # The same form again (a double click, a reload): the sale it already made.
        return redirect("store_console:sale", code=store.code, order_id=earlier.pk)
    form = SaleForm(request.POST or None, store=store)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        new_customer = None
        if data["customer_kind"] == SaleForm.NEW:
            new_customer = services.NewCustomer(
                first_name=data["first_name"].strip(),
                last_name=data["last_name"].strip(),
                email=data["email"],
                phone=data["phone"],
                language=data["language"],
                province=store.province,
            )
        try:
            order = services.sell_new_line(
                store=store,
                clerk=user,
                plan=data["plan"],
                sim_kind=form.sim_kind,
                form_token=data["form_token"],
                subscriber=form.subscriber,
                new_customer=new_customer,
                sim=form.chosen_sim,
            )
        except DomainError as refusal:
            _refused(form, refusal)
        else:
            return redirect("store_console:sale", code=store.code, order_id=order.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "stores/console/sell.html", _console_context(store, form=form), status=status
    )


@require_safe
@console_view
def console_sale(request: HttpRequest, code: str, order_id: int) -> HttpResponse:
    user: Any = request.user
    try:
        order = queries.sale_for(user, code, order_id)
    except (Store.DoesNotExist, Order.DoesNotExist) as missing:
        raise Http404 from missing
    store = order.store
    assert store is not None  # noqa: S101  (sale_for finds the store's orders only)
    qr_svg = activation_code = ""
    line = order.line
    if line is not None and order.kind == OrderKind.NEW_LINE and line.kind == SimKind.ESIM:
        try:
            activation_code = esim.activation_code(line.sim)
            qr_svg = esim.qr_svg(activation_code)
        except NotAnEsim:
            pass
    context = _console_context(
        store,
        order=order,
        items=list(order.items.all()),
        qr_svg=qr_svg,
        activation_code=activation_code,
        kind_label=OrderKind(order.kind).label,
        method_label=PaymentMethod(order.payment_method).label,
        receipt_url=reverse("orders:receipt", kwargs={"order_id": order.pk}),
        receipt_pdf_url=reverse("orders:receipt_pdf", kwargs={"order_id": order.pk}),
    )
    return render(request, "stores/console/sale.html", context)


@require_http_methods(["GET", "POST"])
@console_view
def console_renew(request: HttpRequest, code: str) -> HttpResponse:
    store = _store_or_404(request, code)
    user: Any = request.user
    initial = {"msisdn": request.GET.get("msisdn", "")[:32]}
    earlier = queries.sale_by_token(user, store, request.POST.get("form_token"))
    if earlier is not None:
        return redirect("store_console:sale", code=store.code, order_id=earlier.pk)
    form = RenewForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        assert form.line is not None  # noqa: S101  (clean_msisdn found it)
        try:
            order = services.renew_at_store(
                store=store,
                clerk=user,
                line=form.line,
                payment_method=form.cleaned_data["payment_method"],
                form_token=form.cleaned_data["form_token"],
                plan=form.cleaned_data["plan"],
            )
        except DomainError as refusal:
            _refused(form, refusal)
        else:
            return redirect("store_console:sale", code=store.code, order_id=order.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "stores/console/renew.html", _console_context(store, form=form), status=status
    )


@require_http_methods(["GET", "POST"])
@console_view
def console_vouchers(request: HttpRequest, code: str) -> HttpResponse:
    store = _store_or_404(request, code)
    user: Any = request.user
    form = VoucherSaleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            voucher = services.sell_voucher_card(
                store=store,
                clerk=user,
                serial=form.cleaned_data["serial"],
                form_token=form.cleaned_data["form_token"],
            )
        except DomainError as refusal:
            _refused(form, refusal)
        else:
            messages.success(
                request,
                _("Voucher card %(serial)s sold: take %(amount)s in cash.")
                % {"serial": voucher.serial, "amount": format_cents(voucher.value_cents)},
            )
            return redirect("store_console:vouchers", code=store.code)
    starts_at, ends_at = queries.business_day_bounds(local(timezone.now()).date())
    sold_today = Voucher.objects.filter(
        sold_store=store, sold_at__gte=starts_at, sold_at__lt=ends_at
    ).order_by("-sold_at")
    status = 422 if request.method == "POST" else 200
    context = _console_context(store, form=form, sold_today=sold_today[:100])
    return render(request, "stores/console/vouchers.html", context, status=status)


def _report_day(request: HttpRequest) -> tuple[DayForm, dt.date]:
    form = DayForm(request.GET or None)
    today = local(timezone.now()).date()
    if form.is_bound and form.is_valid() and form.cleaned_data.get("date"):
        return form, form.cleaned_data["date"]
    if not form.is_bound:
        form = DayForm(initial={"date": today})
    return form, today


def _report_or_404(request: HttpRequest, code: str, day: dt.date) -> queries.EndOfDay:
    user: Any = request.user
    try:
        return queries.end_of_day(user, code, day)
    except Store.DoesNotExist as missing:
        raise Http404 from missing


def _row_labels(report: queries.EndOfDay) -> list[dict[str, Any]]:
    return [
        {
            "row": row,
            "kind": OrderKind(row.kind).label if row.kind in OrderKind.values else row.kind,
            "method": (
                PaymentMethod(row.payment_method).label
                if row.payment_method in PaymentMethod.values
                else row.payment_method
            ),
        }
        for row in report.rows
    ]


@require_safe
@console_view
def console_day(request: HttpRequest, code: str) -> HttpResponse:
    form, day = _report_day(request)
    report = _report_or_404(request, code, day)
    context = _console_context(
        report.store,
        form=form,
        report=report,
        rows=_row_labels(report),
        csv_url=reverse("store_console:day_csv", kwargs={"code": code})
        + "?"
        + urlencode({"date": day.isoformat()}),
    )
    return render(request, "stores/console/day.html", context)


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


CSV_HEADER = (
    "store",
    "business_day",
    "line",
    "kind",
    "payment_method",
    "count",
    "subtotal",
    "discount",
    "tax",
    "total",
)


def end_of_day_csv(report: queries.EndOfDay) -> str:
    """The report as CSV: one row per kind and payment method, vouchers, total, the drawer.

    Amounts in dollars with two decimals, exact (from integer cents).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    head = (report.store.code, report.day.isoformat())
    for row in report.rows:
        writer.writerow(
            (
                *head,
                "sales",
                row.kind,
                row.payment_method,
                row.count,
                _dollars(row.subtotal_cents),
                _dollars(row.discount_cents),
                _dollars(row.tax_cents),
                _dollars(row.total_cents),
            )
        )
    vouchers = _dollars(report.vouchers_cents)
    writer.writerow(
        (
            *head,
            "vouchers",
            "voucher",
            "cash",
            report.vouchers_sold,
            vouchers,
            "0.00",
            "0.00",
            vouchers,
        )
    )
    writer.writerow(
        (
            *head,
            "total",
            "",
            "",
            report.order_count + report.vouchers_sold,
            _dollars(report.subtotal_cents + report.vouchers_cents),
            _dollars(report.discount_cents),
            _dollars(report.tax_cents),
            _dollars(report.total_cents + report.vouchers_cents),
        )
    )
    for line, cents in (
        ("drawer_opening", report.drawer_opening_cents),
        ("drawer_in", report.drawer_in_cents),
        ("drawer_closing", report.drawer_closing_cents),
    ):
        writer.writerow((*head, line, "", "cash", "", "", "", "", _dollars(cents)))
    return buffer.getvalue()


@require_safe
@console_view
def console_day_csv(request: HttpRequest, code: str) -> HttpResponse:
    _form, day = _report_day(request)
    report = _report_or_404(request, code, day)
    response = HttpResponse(end_of_day_csv(report), content_type="text/csv; charset=utf-8")
    filename = f"end-of-day-{report.store.code}-{day.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
