"""Back office of resellers: the reseller page (wholesale prices, API keys, webhook), keys
created (shown once) and revoked, the float topped up through the ledger, the delivery log.

Keys and the webhook secret are only ever shown once, on the page that made them; the
float moves only through services.top_up_float (audited); deliveries are read-only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from simcare.accounts.models import User
from simcare.accounts.services import record_audit
from simcare.admin_site import ReadOnlyModelAdmin
from simcare.kit.crypto import mask
from simcare.kit.money import format_cents
from simcare.kit.problems import DomainError
from simcare.ledger import services as ledger
from simcare.partners import services
from simcare.partners.models import (
    Reseller,
    ResellerApiKey,
    WebhookAttempt,
    WebhookEvent,
    WholesalePrice,
)
from simcare.stores.models import Store

PAGE_TEMPLATE = "admin/partners/reseller_page.html"


def _acting_user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class WholesalePriceInline(TabularInline):
    model = WholesalePrice
    extra = 0
    fields = ("plan", "price_cents")


class ApiKeyInline(TabularInline):
    model = ResellerApiKey
    extra = 0
    fields = ("prefix", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("API keys (revoke them from the API key list)")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TopUpForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount (CAD)"),
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000"),
        decimal_places=2,
        widget=UnfoldAdminDecimalFieldWidget,
    )
    source = forms.ChoiceField(label=_("Paid by"), widget=UnfoldAdminSelectWidget)
    reference = forms.CharField(
        label=_("Reference (bank transfer, receipt)"),
        max_length=100,
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [("clearing:bank", gettext("Bank transfer"))]
        choices += [
            (f"cash:{store.code}", gettext("Cash at %(store)s") % {"store": store.name})
            for store in Store.objects.order_by("code")
        ]
        source = self.fields["source"]
        assert isinstance(source, forms.ChoiceField)  # noqa: S101
        source.choices = choices

    def amount_cents(self) -> int:
        return int(self.cleaned_data["amount"] * 100)


class KeyForm(forms.Form):
    label = forms.CharField(
        label=_("Label"), max_length=80, required=False, widget=UnfoldAdminTextInputWidget
    )


@admin.register(Reseller)
class ResellerAdmin(ModelAdmin):
    list_display = ("name", "slug", "is_active", "float_balance", "webhook_url")
    search_fields = ("name", "slug")
    list_filter = ("is_active",)
    fields = (
        "name",
        "slug",
        "user",
        "is_active",
        "rate_limit_per_second",
        "webhook_url",
        "webhook_secret_hint",
        "float_balance",
    )
    readonly_fields = ("webhook_secret_hint", "float_balance")
    raw_id_fields = ("user",)
    inlines = (WholesalePriceInline, ApiKeyInline)
    actions_detail = ("create_key", "top_up", "rotate_secret")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        # The slug names the float account: fixed once the reseller exists.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "slug") if obj is not None else fields

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "webhook_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # its orders and float are money history: deactivate instead

    def has_create_key_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return bool(request.user.has_perm("partners.change_reseller"))

    def has_rotate_secret_permission(
        self, request: HttpRequest, object_id: str | None = None
    ) -> bool:
        return bool(request.user.has_perm("partners.change_reseller"))

    def has_top_up_permission(self, request: HttpRequest, object_id: str | None = None) -> bool:
        return bool(request.user.has_perm("ledger.add_ledgertransaction")) or bool(
            request.user.is_superuser
        )

    def save_model(self, request: HttpRequest, obj: Reseller, form: Any, change: bool) -> None:
        if not change:
            obj.webhook_secret = services.new_webhook_secret()
        super().save_model(request, obj, form, change)
        if not change:
            ledger.reseller_float(obj.owner_ref)
        else:  # a deactivation or a new rate limit counts from the next request
            services.forget_keys(obj)
        record_audit(
            "reseller.changed" if change else "reseller.created",
            actor=_acting_user(request),
            target=obj,
            fields=sorted(form.changed_data),
        )

    @display(description=_("webhook secret"))
    def webhook_secret_hint(self, reseller: Reseller) -> str:
        return mask(reseller.webhook_secret, visible=4) if reseller.webhook_secret else "—"

    @display(description=_("float balance"))
    def float_balance(self, reseller: Reseller) -> str:
        if reseller.pk is None:
            return "—"
        return format_cents(services.float_balance_cents(reseller))

    def _reseller(self, request: HttpRequest, object_id: str) -> Reseller:
        reseller = self.get_object(request, unquote(object_id))
        if reseller is None:
            raise Http404
        return reseller

    def _page(self, request: HttpRequest, reseller: Reseller, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            PAGE_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": reseller,
                "back_url": reverse("admin:partners_reseller_change", args=(reseller.pk,)),
                **context,
            },
        )

    @action(
        description=_("Create API key"),
        url_path="create-key",
        permissions=["create_key"],
        icon="key",
    )
    def create_key(self, request: HttpRequest, object_id: str) -> HttpResponse:
        reseller = self._reseller(request, object_id)
        form = KeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            _row, key = services.issue_api_key(
                reseller, label=form.cleaned_data["label"], acting_user=_acting_user(request)
            )
            response = self._page(
                request,
                reseller,
                title=gettext("New API key"),
                secret=key,
                secret_label=gettext("The key, shown this once:"),
                paragraphs=[
                    gettext(
                        "Copy it now and give it to the reseller over a safe channel: only a "
                        "hash is kept, so it cannot be shown again."
                    )
                ],
            )
            response["Cache-Control"] = "no-store"
            return response
        return self._page(
            request,
            reseller,
            title=gettext("Create an API key"),
            form=form,
            paragraphs=[gettext("A reseller may hold several keys; each can be revoked.")],
            submit_label=gettext("Create"),
        )

    @action(
        description=_("Rotate webhook secret"),
        url_path="rotate-secret",
        permissions=["rotate_secret"],
        icon="sync_lock",
    )
    def rotate_secret(self, request: HttpRequest, object_id: str) -> HttpResponse:
        reseller = self._reseller(request, object_id)
        if request.method == "POST":
            secret = services.rotate_webhook_secret(reseller, acting_user=_acting_user(request))
            response = self._page(
                request,
                reseller,
                title=gettext("New webhook secret"),
                secret=secret,
                secret_label=gettext("The secret, shown this once:"),
                paragraphs=[gettext("Deliveries from now on are signed with this secret.")],
            )
            response["Cache-Control"] = "no-store"
            return response
        return self._page(
            request,
            reseller,
            title=gettext("Rotate the webhook secret"),
            paragraphs=[
                gettext(
                    "A new secret signs every delivery from now on; the old one stops working "
                    "at once. The new secret is shown once."
                )
            ],
            submit_label=gettext("Rotate"),
        )

    @action(
        description=_("Top up float"),
        url_path="top-up",
        permissions=["top_up"],
        icon="savings",
    )
    def top_up(self, request: HttpRequest, object_id: str) -> HttpResponse:
        reseller = self._reseller(request, object_id)
        form = TopUpForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.top_up_float(
                    reseller,
                    amount_cents=form.amount_cents(),
                    source=form.cleaned_data["source"],
                    reference=form.cleaned_data["reference"],
                    idempotency_key=request.POST.get("token", "")[:64] or uuid.uuid4().hex,
                    acting_user=_acting_user(request),
                )
            except DomainError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(
                    request,
                    gettext("%(amount)s added to the float of %(reseller)s.")
                    % {"amount": format_cents(form.amount_cents()), "reseller": reseller.name},
                )
                return HttpResponseRedirect(
                    reverse("admin:partners_reseller_change", args=(reseller.pk,))
                )
        return self._page(
            request,
            reseller,
            title=gettext("Top up the float"),
            form=form,
            token=request.POST.get("token") or uuid.uuid4().hex,
            paragraphs=[
                gettext("Money the reseller paid us, moved into its float through the ledger.")
            ],
            submit_label=gettext("Top up"),
        )


@admin.register(ResellerApiKey)
class ResellerApiKeyAdmin(ReadOnlyModelAdmin):
    list_display = ("prefix", "reseller", "label", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "reseller__name", "label")
    fields = ("prefix", "reseller", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    list_select_related = ("reseller",)
    actions = ("revoke",)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ResellerApiKey]) -> None:
        revoked = sum(
            services.revoke_api_key(key, acting_user=_acting_user(request))
            for key in queryset.select_related("reseller").order_by("pk")
        )
        self.message_user(
            request, gettext("%(count)d key(s) revoked.") % {"count": revoked}, messages.SUCCESS
        )


class AttemptInline(TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ("attempted_at", "status_code", "duration_ms", "error")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyModelAdmin):
    list_display = (
        "event",
        "reseller",
        "order",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event", "reseller")
    search_fields = ("id", "order__id")
    fields = (
        "id",
        "reseller",
        "event",
        "order",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "body",
    )
    readonly_fields = fields
    list_select_related = ("reseller", "order")
    inlines = (AttemptInline,)
