"""Pages of returns (the customer's and the agents') and reviews (the customer's and the public's).

Thin: parse, call one service or query, render. Another subscriber's request
or photo is a 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from simcare.accounts.models import Subscriber, User
from simcare.aftersales import policy, queries, services
from simcare.aftersales.errors import PhotoRefused
from simcare.aftersales.forms import ReturnForm, ReviewForm
from simcare.aftersales.models import ReturnRequest, ReturnState
from simcare.kit.problems import DomainError
from simcare.lines import esim
from simcare.lines.errors import SimUnavailable
from simcare.lines.models import LineState, SimCard, SimKind
from simcare.orders.models import Order


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required ran)
    return user


def _subscriber(request: HttpRequest) -> Subscriber:
    try:
        return _user(request).subscriber
    except Subscriber.DoesNotExist:
        raise Http404 from None


def _stored_reasons(rma: ReturnRequest) -> list[policy.Reason]:
    return [policy.Reason.from_dict(item) for item in rma.evaluation]


def _days_left(rma: ReturnRequest) -> int | None:
    line = rma.line
    if line is None or line.state == LineState.RECYCLED:
        return None
    seconds = (line.period_end - timezone.now()).total_seconds()
    return max(0, int(-(-seconds // 86400)))


# --- the customer's returns ------------------------------------------------------------------


@login_required
def returns_list(request: HttpRequest) -> HttpResponse:
    subscriber = _subscriber(request)
    return render(
        request,
        "aftersales/returns_list.html",
        {
            "requests": queries.returns_for(_user(request)),
            "has_orders": queries.returnable_orders(subscriber).exists(),
        },
    )


def _read_photos(request: HttpRequest) -> list[bytes]:
    limits = policy.current_policy()
    uploads = request.FILES.getlist("photos")
    if len(uploads) > limits.max_photos:
        raise PhotoRefused(reason="too_many", limit=limits.max_photos)
    contents = []
    for upload in uploads:
        if upload.size is not None and upload.size > limits.max_photo_bytes:
            raise PhotoRefused(reason="too_large", limit_mb=limits.max_photo_bytes // (1024 * 1024))
        contents.append(upload.read(limits.max_photo_bytes + 1))
    return contents


@login_required
@require_http_methods(["GET", "POST"])
def return_new(request: HttpRequest) -> HttpResponse:
    subscriber = _subscriber(request)
    user = _user(request)
    orders = list(queries.returnable_orders(subscriber))
    evaluation: policy.Evaluation | None = None
    error = ""
    status = 200
    if request.method == "POST":
        form = ReturnForm(request.POST, orders=orders)
        if form.is_valid():
            data = form.cleaned_data
            try:
                order = queries.own_order(subscriber, data["order"])
                key = data["form_key"] or uuid.uuid4().hex
                rma = services.submit_return(
                    subscriber,
                    order,
                    kind=data["kind"],
                    resolution=data["resolution"],
                    fault=data["fault"],
                    refund_to_wallet=data["refund_to_wallet"],
                    description=data["description"],
                    photo_files=_read_photos(request),
                    idempotency_key=f"user:{user.pk}:web:{key}",
                    acting_user=user,
                )
            except Order.DoesNotExist:
                raise Http404 from None
            except DomainError as refusal:
                error, status = refusal.message, refusal.status
                evaluation = services.evaluate_order(order, data["kind"])
            else:
                messages.success(
                    request, _("Your request %(number)s was sent.") % {"number": rma.number}
                )
                return redirect("aftersales:return_detail", pk=rma.pk)
        else:
            status = 422
    else:
        initial: dict[str, Any] = {"form_key": uuid.uuid4().hex}
        form = ReturnForm(request.GET or None, orders=orders, initial=initial)
        if request.GET and form.is_valid():
            # "Check": the evaluation the customer sees before submitting.
            try:
                order = queries.own_order(subscriber, form.cleaned_data["order"])
            except Order.DoesNotExist:
                raise Http404 from None
            evaluation = services.evaluate_order(order, form.cleaned_data["kind"])
            form = ReturnForm(
                initial={**form.cleaned_data, "form_key": uuid.uuid4().hex}, orders=orders
            )
        elif request.GET:
            status = 422
    return render(
        request,
        "aftersales/return_new.html",
        {
            "form": form,
            "evaluation": evaluation,
            "error": error,
            "orders": orders,
            "limits": policy.current_policy(),
        },
        status=status,
    )


def _detail_context(rma: ReturnRequest) -> dict[str, Any]:
    line = rma.line
    qr = ""
    if (
        line is not None
        and line.kind == SimKind.ESIM
        and rma.state in (ReturnState.REPLACEMENT_SENT, ReturnState.CLOSED)
        and line.state != LineState.RECYCLED
    ):
        qr = esim.qr_svg(esim.activation_code(line.sim))
    return {
        "rma": rma,
        "reasons": _stored_reasons(rma),
        "events": rma.events.all(),
        "photos": rma.photos.all(),
        "line": line,
        "days_left": _days_left(rma),
        "esim_qr": qr,
    }


@login_required
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subscriber = _subscriber(request)
    try:
        rma = queries.returns_for(_user(request)).get(pk=pk, subscriber=subscriber)
    except ReturnRequest.DoesNotExist:
        raise Http404 from None
    return render(request, "aftersales/return_detail.html", _detail_context(rma))


@login_required
def return_photo(request: HttpRequest, pk: int, photo_id: int) -> FileResponse:
    try:
        photo = queries.photo_for(_user(request), pk, photo_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    response = FileResponse(photo.image.open("rb"), content_type=photo.content_type)
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    return response


# --- the agents' returns queue -----------------------------------------------------------------


def _staff_only(request: HttpRequest) -> User | HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    assert isinstance(user, User)  # noqa: S101
    if user.is_staff and not getattr(user, "is_verified", lambda: False)():
        return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
    if not queries.is_returns_staff(user):
        raise Http404
    return user


def staff_returns(request: HttpRequest) -> HttpResponse:
    user = _staff_only(request)
    if isinstance(user, HttpResponse):
        return user
    state = request.GET.get("state", "")
    requests = queries.returns_for(user)
    if state in ReturnState.values:
        requests = requests.filter(state=state)
    return render(
        request,
        "aftersales/staff_returns.html",
        {"requests": requests[:200], "state": state, "states": ReturnState.choices},
    )


def _new_sim(iccid: str) -> SimCard | None:
    iccid = iccid.strip()
    if not iccid:
        return None
    card = SimCard.objects.filter(iccid=iccid).first()
    if card is None:
        raise SimUnavailable(iccid=iccid)
    return card


def _staff_action(request: HttpRequest, rma: ReturnRequest, user: User) -> None:
    """One step from the agents' page: the button pressed names the action."""
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")[:2000]
    if action == "approve":
        services.approve_return(rma, acting_user=user, note=note)
    elif action == "reject":
        services.reject_return(rma, acting_user=user, note=note)
    elif action == "received":
        services.mark_received(rma, acting_user=user)
    elif action == "refund":
        services.refund_return(
            rma, acting_user=user, to_wallet=request.POST.get("to_wallet") == "1"
        )
    elif action == "replace":
        new_sim = _new_sim(request.POST.get("iccid", ""))
        services.send_replacement(rma, acting_user=user, new_sim=new_sim)
    elif action == "close":
        services.close_return(rma, acting_user=user, note=note)
    else:
        raise Http404


@require_http_methods(["GET", "POST"])
def staff_return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff_only(request)
    if isinstance(user, HttpResponse):
        return user
    try:
        rma = queries.return_for(user, pk)
    except ReturnRequest.DoesNotExist:
        raise Http404 from None
    status = 200
    if request.method == "POST":
        try:
            _staff_action(request, rma, user)
        except DomainError as refusal:
            messages.error(request, refusal.message)
            status = refusal.status
        else:
            messages.success(request, _("Done."))
            return redirect("aftersales:staff_return_detail", pk=rma.pk)
        rma = queries.return_for(user, pk)
    context = _detail_context(rma)
    context["current"] = services.evaluate_order(rma.order, rma.kind)
    return render(request, "aftersales/staff_return_detail.html", context, status=status)


# --- reviews -------------------------------------------------------------------------------------


def reviews_public(request: HttpRequest) -> HttpResponse:
    language = request.GET.get("language", "")
    if language not in {code for code, _name in _languages()}:
        language = ""
    plan_code = request.GET.get("plan", "")[:40]
    store_code = request.GET.get("store", "")[:40]
    reviews = queries.published_reviews(
        language=language, plan_code=plan_code, store_code=store_code
    )
    return render(
        request,
        "aftersales/reviews_public.html",
        {
            "reviews": reviews[:100],
            "summary": queries.summary(reviews),
            "selected_language": language,
            "review_languages": _languages(),
            "plan_code": plan_code,
            "store_code": store_code,
        },
    )


def _languages() -> list[tuple[str, str]]:
    from django.conf import settings

    return [(code, str(name)) for code, name in settings.LANGUAGES]


@login_required
def portal_reviews(request: HttpRequest) -> HttpResponse:
    subscriber = _subscriber(request)
    return render(
        request,
        "aftersales/portal_reviews.html",
        {
            "reviews": queries.own_reviews(subscriber),
            "orders": queries.reviewable_orders(subscriber),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_new(request: HttpRequest, order_id: int) -> HttpResponse:
    subscriber = _subscriber(request)
    try:
        order = queries.own_order(subscriber, order_id)
    except Order.DoesNotExist:
        raise Http404 from None
    error = (
        ""
        if services.is_reviewable(order)
        else _("Only customers with a completed order can write a review.")
    )
    status = 200 if not error else 422
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.submit_review(
                    subscriber,
                    order,
                    rating=data["rating"],
                    text=data["text"],
                    language=data["language"],
                    about=data["about"],
                    acting_user=_user(request),
                )
            except DomainError as refusal:
                error, status = refusal.message, refusal.status
            else:
                messages.success(
                    request, _("Thank you! Your review will appear once it has been checked.")
                )
                return redirect("aftersales:portal_reviews")
        else:
            status = 422
    else:
        form = ReviewForm(initial={"language": get_language(), "about": "plan"})
    return render(
        request,
        "aftersales/review_new.html",
        {"form": form, "order": order, "error": error},
        status=status,
    )
