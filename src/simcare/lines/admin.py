"""Back office for numbers, SIM/eSIM stock, lines and their history (unfold admin).

Stock comes in through the CSV import pages (the "Import CSV" buttons on the
number and SIM lists), which call lines.stock. Lines change state only through
the lifecycle services, so every line field is read-only here.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    BooleanRadioFilter,
    ChoicesDropdownFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminFileFieldWidget

from simcare.accounts.models import User
from simcare.admin_site import ReadOnlyModelAdmin
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.lines import esim, stock
from simcare.lines.errors import NotAnEsim, StockFileRefused
from simcare.lines.models import (
    Bucket,
    Line,
    LineEvent,
    Number,
    NumberStatus,
    SimCard,
    SimStatus,
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# The multipart envelope around the file (boundaries, CSRF token) is small.
_MULTIPART_OVERHEAD_BYTES = 64 * 1024
_SNIFF_BYTES = 64 * 1024
_CSV_SUFFIXES = frozenset({".csv", ".txt"})
REJECTED_ROWS_SHOWN = 500

Importer = Callable[..., stock.ImportReport]


# --- the CSV upload -----------------------------------------------------------------


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops an upload as soon as it is known to exceed the limit, before it is stored.

    Placed in front of Django's handlers: a body announced as too large is
    never handed on, and a file that grows past the limit is cut off there.
    """

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],  # Django's parameter name
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        self.exceeded = content_length > self.limit + _MULTIPART_OVERHEAD_BYTES

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.exceeded:
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _is_utf8_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    # Incremental: the sample may end in the middle of a multi-byte character.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


class StockImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        # Checked in clean_file, so that a file cut off for its size says so.
        required=False,
        widget=UnfoldAdminFileFieldWidget,
        help_text=_("UTF-8 CSV, at most 10 MB; the first line is the header."),
    )

    def __init__(self, *args: Any, upload_too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] | None = self.cleaned_data["file"]
        if self.upload_too_large or (upload is not None and (upload.size or 0) > MAX_UPLOAD_BYTES):
            raise forms.ValidationError(_("The file is larger than 10 MB."), code="too_large")
        if upload is None:
            raise forms.ValidationError(_("Choose a CSV file to import."), code="required")
        if Path(upload.name or "").suffix.lower() not in _CSV_SUFFIXES:
            raise forms.ValidationError(_("Upload a .csv (or .txt) file."), code="wrong_type")
        sample = upload.read(_SNIFF_BYTES)
        upload.seek(0)
        if not _is_utf8_text(sample):
            raise forms.ValidationError(
                _("This is not a CSV text file (UTF-8 expected)."), code="not_text"
            )
        return upload


class StockImportMixin:
    """The import page shared by the number and SIM admins."""

    def _stock_import_view(
        self,
        request: HttpRequest,
        *,
        importer: Importer,
        columns: tuple[str, ...],
        title: str,
        example: str,
    ) -> HttpResponse:
        limiter = SizeLimitUploadHandler(request, MAX_UPLOAD_BYTES)
        if request.method == "POST":
            # Must happen before anything reads the body, the CSRF check included.
            request.upload_handlers.insert(0, limiter)

        @csrf_protect
        def view(request: HttpRequest) -> HttpResponse:
            report: stock.ImportReport | None = None
            if request.method == "POST":
                data, files = request.POST, request.FILES  # parses the body, through the limiter
                form = StockImportForm(data, files, upload_too_large=limiter.exceeded)
                if form.is_valid():
                    upload: UploadedFile[bytes] = form.cleaned_data["file"]
                    report = self._run_import(request, form, upload, importer)
            else:
                form = StockImportForm()
            model_admin: Any = self
            context = {
                **model_admin.admin_site.each_context(request),
                "opts": model_admin.model._meta,
                "title": title,
                "form": form,
                "columns": ",".join(columns),
                "example": example,
                "report": report,
                "rejected_shown": report.rejected[:REJECTED_ROWS_SHOWN] if report else [],
                "rejected_hidden": max(len(report.rejected) - REJECTED_ROWS_SHOWN, 0)
                if report
                else 0,
            }
            return TemplateResponse(request, "admin/lines/stock_import.html", context)

        return view(request)

    def _run_import(
        self,
        request: HttpRequest,
        form: StockImportForm,
        upload: UploadedFile[bytes],
        importer: Importer,
    ) -> stock.ImportReport | None:
        text = io.TextIOWrapper(cast("IO[bytes]", upload.file), encoding="utf-8-sig", newline="")
        user = request.user if isinstance(request.user, User) else None
        try:
            report: stock.ImportReport = importer(
                text, acting_user=user, source_name=upload.name or ""
            )
        except StockFileRefused as refusal:
            form.add_error("file", refusal.message)
            return None
        finally:
            text.detach()
        summary = gettext(
            "%(applied)d added, %(duplicates)d already in stock, %(rejected)d rejected."
        ) % {
            "applied": report.applied,
            "duplicates": report.duplicates,
            "rejected": len(report.rejected),
        }
        if report.rejected:
            messages.warning(request, summary)
        else:
            messages.success(request, summary)
        return report


def _search_number_too(
    queryset: QuerySet[Any], results: QuerySet[Any], search_term: str, field: str
) -> QuerySet[Any]:
    """Also find "(416) 555-0142" or "416 555 0142" by the E.164 number it means."""
    try:
        msisdn = normalize_msisdn(search_term)
    except InvalidPhoneNumber:
        return results
    return results | queryset.filter(**{field: msisdn})


# --- numbers and SIMs --------------------------------------------------------------------


@admin.register(Number)
class NumberAdmin(StockImportMixin, ModelAdmin):
    list_display = ("msisdn", "status", "quarantine_until", "updated_at")
    list_filter = (("status", ChoicesDropdownFilter),)
    list_filter_submit = True
    search_fields = ("msisdn",)
    readonly_fields = ("msisdn", "status", "quarantine_until", "updated_at")
    actions_list = ("import_csv",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # numbers come in through the CSV import

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # status follows the lines' lifecycle services

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Only a number imported by mistake: available and never on a line.
        if isinstance(obj, Number) and (obj.status != NumberStatus.AVAILABLE or obj.lines.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def has_import_csv_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("lines.add_number"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _search_number_too(queryset, results, search_term, "msisdn"), may_have_duplicates

    @action(
        description=_("Import CSV"),
        url_path="import-csv",
        permissions=["import_csv"],
        icon="upload_file",
    )
    @csrf_exempt  # the view checks CSRF itself, after setting the upload size limit
    def import_csv(self, request: HttpRequest) -> HttpResponse:
        return self._stock_import_view(
            request,
            importer=stock.import_numbers,
            columns=stock.NUMBER_COLUMNS,
            title=gettext("Import phone numbers"),
            example="msisdn\n+14165550142\n(647) 555-0199",
        )


@admin.register(SimCard)
class SimCardAdmin(StockImportMixin, ModelAdmin):
    list_display = ("iccid", "kind", "status", "location", "store", "imported_at", "assigned_at")
    list_filter = (
        ("kind", ChoicesDropdownFilter),
        ("status", ChoicesDropdownFilter),
        ("store", RelatedDropdownFilter),
    )
    list_filter_submit = True
    list_select_related = ("store",)
    search_fields = ("iccid",)
    fields = (
        "iccid",
        "kind",
        "status",
        "location",
        "store",
        "smdp_address",
        "matching_id",
        "esim_activation_code",
        "imported_at",
        "assigned_at",
    )
    readonly_fields = fields
    actions_list = ("import_sims_csv", "import_esims_csv")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # SIMs and eSIM profiles come in through the CSV imports

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # status follows activation and after-sales services

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Only a SIM imported by mistake: in stock and never on a line.
        if isinstance(obj, SimCard) and (obj.status != SimStatus.IN_STOCK or obj.lines.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def has_import_csv_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("lines.add_simcard"))

    @display(description=_("activation code (eSIM)"))
    def esim_activation_code(self, sim: SimCard) -> str:
        try:
            return esim.activation_code(sim)
        except NotAnEsim:
            return "-"

    @action(
        description=_("Import SIMs (CSV)"),
        url_path="import-sims-csv",
        permissions=["import_csv"],
        icon="upload_file",
    )
    @csrf_exempt  # the view checks CSRF itself, after setting the upload size limit
    def import_sims_csv(self, request: HttpRequest) -> HttpResponse:
        return self._stock_import_view(
            request,
            importer=stock.import_sims,
            columns=stock.SIM_COLUMNS,
            title=gettext("Import physical SIMs"),
            example="iccid,location\n8912300000000000013,TOR-01\n8912300000000000021,WAREHOUSE",
        )

    @action(
        description=_("Import eSIM profiles (CSV)"),
        url_path="import-esims-csv",
        permissions=["import_csv"],
        icon="upload_file",
    )
    @csrf_exempt  # the view checks CSRF itself, after setting the upload size limit
    def import_esims_csv(self, request: HttpRequest) -> HttpResponse:
        return self._stock_import_view(
            request,
            importer=stock.import_esims,
            columns=stock.ESIM_COLUMNS,
            title=gettext("Import eSIM profiles"),
            example=(
                "iccid,smdp_address,matching_id\n8912300000000000039,smdp.example.com,AB12-CD34-EF56"
            ),
        )


# --- lines and their history ---------------------------------------------------------------


class _ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class LineEventInline(_ReadOnlyInline):
    model = LineEvent
    fields = ("created_at", "actor_label", "from_state", "to_state", "cause", "note")
    readonly_fields = fields
    verbose_name_plural = _("history")
    per_page = 20


class BucketInline(_ReadOnlyInline):
    model = Bucket
    fields = ("kind", "zone", "source", "addon", "total", "used", "starts_at", "expires_at")
    readonly_fields = fields
    verbose_name = _("allowance")
    verbose_name_plural = _("allowances")


@admin.register(Line)
class LineAdmin(ReadOnlyModelAdmin):
    """Read-only: lines change state through the lifecycle services (renewal, sweep)."""

    list_display = ("msisdn", "subscriber", "state", "plan", "period_end", "kind", "auto_renew")
    list_filter = (
        ("state", ChoicesDropdownFilter),
        ("kind", ChoicesDropdownFilter),
        ("plan", RelatedDropdownFilter),
        ("auto_renew", BooleanRadioFilter),
    )
    list_filter_submit = True
    list_select_related = ("subscriber__user", "plan")
    search_fields = (
        "msisdn",
        "sim__iccid",
        "subscriber__user__username",
        "subscriber__user__email",
        "subscriber__user__phone",
    )
    fields = (
        "msisdn",
        "subscriber",
        "sim",
        "kind",
        "state",
        "plan",
        "period_start",
        "period_end",
        "auto_renew",
        "state_changed_at",
        "activated_at",
        "recycled_at",
    )
    readonly_fields = fields
    inlines = (BucketInline, LineEventInline)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _search_number_too(queryset, results, search_term, "msisdn"), may_have_duplicates


@admin.register(LineEvent)
class LineEventAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "line", "actor_label", "from_state", "to_state", "cause")
    list_filter = ("to_state", "cause")
    list_select_related = ("line",)
    search_fields = ("line__msisdn", "actor_label", "cause")
    fields = ("line", "created_at", "actor_label", "from_state", "to_state", "cause", "note")
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return (
            _search_number_too(queryset, results, search_term, "line__msisdn"),
            may_have_duplicates,
        )


@admin.register(Bucket)
class BucketAdmin(ReadOnlyModelAdmin):
    list_display = ("line", "kind", "zone", "source", "total", "used", "expires_at")
    list_filter = (("kind", ChoicesDropdownFilter), ("source", ChoicesDropdownFilter), "zone")
    list_select_related = ("line",)
    search_fields = ("line__msisdn",)
    fields = (
        "line",
        "kind",
        "zone",
        "source",
        "addon",
        "total",
        "used",
        "starts_at",
        "expires_at",
    )
    readonly_fields = fields
