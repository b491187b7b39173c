"""Back office for operations: worker heartbeats, job runs and sign-in attempts, read-only.

django-axes registers its own admin for sign-in attempts and lockouts; it is
registered again here in the unfold theme. Deleting an AccessAttempt row is
how staff lift a lockout early, so that one stays deletable.
"""

from __future__ import annotations

import datetime as dt

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as AxesAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as AxesAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import BooleanRadioFilter
from unfold.decorators import display

from simcare.admin_site import DistinctValuesFilter, ReadOnlyModelAdmin
from simcare.ops.models import JobRun, WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyModelAdmin):
    list_display = ("worker", "seen_at", "is_alive")
    search_fields = ("worker",)
    fields = ("worker", "seen_at")
    readonly_fields = fields
    ordering = ("-seen_at",)

    @display(description=_("alive"), boolean=True)
    def is_alive(self, heartbeat: WorkerHeartbeat) -> bool:
        max_age = dt.timedelta(seconds=settings.SIMCARE_WORKER_HEARTBEAT_MAX_AGE_SECONDS)
        return timezone.now() - heartbeat.seen_at <= max_age


class JobFilter(DistinctValuesFilter):
    title = _("job")
    parameter_name = "job"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyModelAdmin):
    list_display = ("job", "started_at", "finished_at", "duration", "succeeded", "error")
    list_filter = (JobFilter, ("succeeded", BooleanRadioFilter))
    list_filter_submit = True
    search_fields = ("job", "error")
    date_hierarchy = "started_at"
    fields = ("job", "started_at", "finished_at", "succeeded", "error", "summary")
    readonly_fields = fields

    @display(description=_("duration"))
    def duration(self, run: JobRun) -> str:
        if run.finished_at is None:
            return "-"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"


# --- django-axes in the unfold theme ------------------------------------------------------

for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin, ModelAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(AxesAccessLogAdmin, ModelAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(AxesAccessFailureLogAdmin, ModelAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
