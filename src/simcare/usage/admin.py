"""Back office for usage: the CDR imports (file, rows, applied, rejected, duration), read-only.

Imports are written by `simcare import-cdrs` only; staff look, never edit.
The records themselves are far too many for an admin list: the daily
rollups and a line's history serve people.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from simcare.admin_site import ReadOnlyModelAdmin
from simcare.usage.models import CdrImport


@admin.register(CdrImport)
class CdrImportAdmin(ReadOnlyModelAdmin):
    list_display = (
        "file_name",
        "status",
        "started_at",
        "rows_read",
        "applied",
        "duplicates",
        "rejected",
        "duration_display",
    )
    list_filter = ("status",)
    search_fields = ("file_name",)
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    fields = (
        "file_name",
        "status",
        "started_at",
        "finished_at",
        "duration_display",
        "rows_read",
        "applied",
        "duplicates",
        "rejected",
        "charged_cents",
        "debt_cents",
        "message",
    )
    readonly_fields = fields

    @display(description=_("duration"))
    def duration_display(self, cdr_import: CdrImport) -> str:
        duration = cdr_import.duration
        if duration is None:
            return "-"
        return f"{duration.total_seconds():.1f} s"
