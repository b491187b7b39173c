"""Back office for people: users and roles, subscriber profiles, the audit log, TOTP devices.

An identity document number is never shown in clear here: the form shows it
masked, a new one is typed into a write-only field, and revealing it is a
separate page that records an AuditEvent (accounts.identity_admin).
Subscribers are created by registration and the consoles, and closed by the
privacy service (personal data erased, financial records kept), so the admin
neither adds nor deletes them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as OTPTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold import forms as unfold_forms
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    BooleanRadioFilter,
    ChoicesDropdownFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldBooleanSwitchWidget

from simcare.accounts import identity_admin, token_admin  # noqa: F401  # registers ApiToken
from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.admin_site import DistinctValuesFilter
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn


def _with_phone_match(
    queryset: QuerySet[Any], results: QuerySet[Any], search_term: str, field: str
) -> QuerySet[Any]:
    """Also find "(416) 555-0142" or "416 555 0142" by the E.164 number it means."""
    try:
        msisdn = normalize_msisdn(search_term)
    except InvalidPhoneNumber:
        return results
    return results | queryset.filter(**{field: msisdn})


def _role_labels(user: User) -> str:
    labels = {role.value: str(role.label) for role in Role}
    names = sorted(group.name for group in user.groups.all())
    return ", ".join(labels.get(name, name) for name in names)


# --- users and roles ---------------------------------------------------------------------


class _PhoneMixin:
    """Staff type numbers as people write them; they are stored in E.164."""

    cleaned_data: dict[str, Any]

    def clean_phone(self) -> str | None:
        raw = self.cleaned_data.get("phone")
        if not raw:
            return None
        try:
            return normalize_msisdn(raw)
        except InvalidPhoneNumber as error:
            raise forms.ValidationError(str(error), code="invalid_msisdn") from error


class UserCreationForm(_PhoneMixin, unfold_forms.UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "phone", "language")


class UserChangeForm(_PhoneMixin, unfold_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):  # type: ignore[type-arg]
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = unfold_forms.AdminPasswordChangeForm
    list_display = (
        "username",
        "email",
        "phone",
        "language",
        "roles",
        "is_staff",
        "is_active",
        "last_login",
    )
    list_filter = (
        ("groups", RelatedDropdownFilter),
        ("is_staff", BooleanRadioFilter),
        ("is_active", BooleanRadioFilter),
        ("language", ChoicesDropdownFilter),
    )
    list_filter_submit = True
    search_fields = ("username", "email", "phone", "first_name", "last_name")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "phone", "language")}),
        (
            _("Roles and permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "phone",
                    "language",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ("groups", "user_permissions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _with_phone_match(queryset, results, search_term, "phone"), may_have_duplicates

    @display(description=_("roles"))
    def roles(self, user: User) -> str:
        return _role_labels(user)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    """Roles are groups (accounts.Role); their permissions decide what staff see here."""


# --- subscribers ----------------------------------------------------------------------------


class ProvinceFilter(DistinctValuesFilter):
    title = _("province")
    parameter_name = "province"


class SubscriberAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    new_id_document_number = forms.CharField(
        label=_("New identity document number"),
        required=False,
        max_length=60,
        # A password widget never echoes the value back, not even on a form error.
        widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "off"}),
        help_text=_(
            "Write-only: type a new number to replace the one on file; "
            "leave empty to keep it. It is stored encrypted and shown masked."
        ),
    )
    remove_id_document_number = forms.BooleanField(
        label=_("Remove the identity document number"),
        required=False,
        widget=UnfoldBooleanSwitchWidget,
    )

    class Meta:
        model = Subscriber
        fields = (
            "province",
            "is_vip",
            "vip_reason",
            "email_notifications_enabled",
            "sms_notifications_enabled",
            "id_document_type",
            "date_of_birth",
        )

    def clean_new_id_document_number(self) -> str:
        raw: str = self.cleaned_data.get("new_id_document_number") or ""
        if not raw.strip():
            return ""
        return identity_admin.normalize_id_document_number(raw)

    def clean_province(self) -> str:
        province: str = self.cleaned_data["province"].strip().upper()
        if len(province) != 2 or not province.isalpha():
            raise forms.ValidationError(
                _("Use the two-letter province code, e.g. ON or QC."), code="invalid_province"
            )
        return province

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        new_number = cleaned.get("new_id_document_number")
        if new_number and cleaned.get("remove_id_document_number"):
            raise forms.ValidationError(
                _("Either type a new number or remove the current one, not both."),
                code="replace_and_remove",
            )
        if new_number and not cleaned.get("id_document_type"):
            self.add_error(
                "id_document_type",
                forms.ValidationError(
                    _("Choose the type of the document."), code="document_type_required"
                ),
            )
        return cleaned


@admin.register(Subscriber)
class SubscriberAdmin(ModelAdmin):
    form = SubscriberAdminForm
    list_display = (
        "__str__",
        "username",
        "email",
        "phone",
        "province",
        "language",
        "is_vip",
        "id_document",
        "created_at",
    )
    list_filter = (
        ("is_vip", BooleanRadioFilter),
        ProvinceFilter,
        ("user__language", ChoicesDropdownFilter),
    )
    list_filter_submit = True
    list_select_related = ("user",)
    search_fields = (
        "user__username",
        "user__email",
        "user__phone",
        "user__first_name",
        "user__last_name",
    )
    ordering = ("-created_at",)
    readonly_fields = (
        "user",
        "created_at",
        "id_document",
        "marketing_consent_at",
        "marketing_consent_channel",
        "marketing_consent_wording_version",
    )
    fieldsets = (
        (None, {"fields": ("user", "created_at", "province")}),
        (_("VIP"), {"fields": ("is_vip", "vip_reason")}),
        (
            _("Notifications"),
            {"fields": ("email_notifications_enabled", "sms_notifications_enabled")},
        ),
        (
            _("Identity"),
            {
                "fields": (
                    "id_document_type",
                    "id_document",
                    "new_id_document_number",
                    "remove_id_document_number",
                    "date_of_birth",
                )
            },
        ),
        (
            _("Marketing consent (CASL)"),
            {
                "fields": (
                    "marketing_consent_at",
                    "marketing_consent_channel",
                    "marketing_consent_wording_version",
                )
            },
        ),
    )
    actions_detail = ("reveal_id_document",)

    # Error reports never carry a new document number typed into the form.
    @method_decorator(sensitive_post_parameters("new_id_document_number"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_reveal_id_document_permission(
        self, request: HttpRequest, object_id: str | None = None
    ) -> bool:
        return bool(request.user.has_perm("accounts.change_subscriber"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _with_phone_match(queryset, results, search_term, "user__phone"), may_have_duplicates

    @display(description=_("username"), ordering="user__username")
    def username(self, subscriber: Subscriber) -> str:
        return subscriber.user.username

    @display(description=_("email address"), ordering="user__email")
    def email(self, subscriber: Subscriber) -> str:
        return subscriber.user.email or "-"

    @display(description=_("mobile number"), ordering="user__phone")
    def phone(self, subscriber: Subscriber) -> str:
        return subscriber.user.phone or "-"

    @display(description=_("language"), ordering="user__language")
    def language(self, subscriber: Subscriber) -> str:
        return subscriber.user.get_language_display()

    @display(description=_("identity document number"))
    def id_document(self, subscriber: Subscriber) -> str:
        return subscriber.id_document_number_masked or "-"

    def save_model(
        self,
        request: HttpRequest,
        obj: Subscriber,
        form: SubscriberAdminForm,
        change: bool,
    ) -> None:
        super().save_model(request, obj, form, change)
        acting_user: Any = request.user
        new_number = form.cleaned_data.get("new_id_document_number")
        if new_number:
            identity_admin.replace_id_document(
                obj,
                document_type=obj.id_document_type,
                number=new_number,
                acting_user=acting_user,
            )
        elif form.cleaned_data.get("remove_id_document_number") and obj.id_document_number:
            identity_admin.replace_id_document(
                obj, document_type="", number="", acting_user=acting_user
            )

    @action(
        description=_("Reveal identity document number"),
        url_path="reveal-id-document",
        permissions=["reveal_id_document"],
        icon="visibility",
    )
    def reveal_id_document(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks for confirmation; POST records the audit event and shows the number once."""
        subscriber = self.get_object(request, unquote(object_id))
        if subscriber is None:
            raise Http404
        number: str | None = None
        if request.method == "POST":
            acting_user: Any = request.user
            number = identity_admin.reveal_id_document(subscriber, acting_user=acting_user)
            if not number:
                messages.warning(request, gettext("No identity document number is on file."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": subscriber,
            "title": gettext("Reveal identity document number"),
            "masked": subscriber.id_document_number_masked,
            "document_type": subscriber.get_id_document_type_display(),
            "number": number,
        }
        # admin_view already marks the response never_cache (no-store): the page is not kept.
        return TemplateResponse(
            request, "admin/accounts/subscriber/reveal_id_document.html", context
        )


# --- the audit log --------------------------------------------------------------------------


class AuditActionFilter(DistinctValuesFilter):
    title = _("action")
    parameter_name = "action"


class AuditObjectTypeFilter(DistinctValuesFilter):
    title = _("object type")
    parameter_name = "object_type"


@admin.register(AuditEvent)
class AuditEventAdmin(ModelAdmin):
    """Append-only: nobody adds, edits or deletes an audit event, not even an administrator."""

    list_display = ("created_at", "actor_label", "action", "object_type", "object_id")
    list_filter = (AuditActionFilter, AuditObjectTypeFilter)
    list_filter_submit = True
    search_fields = ("actor_label", "action", "object_type", "object_id")
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "actor_label", "action", "object_type", "object_id", "data")
    readonly_fields = fields
    list_select_related = ("actor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- TOTP devices -----------------------------------------------------------------------------


admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(OTPTOTPDeviceAdmin, ModelAdmin):
    """django-otp's device admin in the unfold theme; `simcare totp-setup` is the CLI way."""

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)  # an unknown device is a 404, not a 500
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(TOTPDevice, pk=pk)
        return super().qrcode_view(request, pk)
