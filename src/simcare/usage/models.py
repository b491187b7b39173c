"""Usage: CDR imports, the rated records and their daily rollups (30-usage.md).

The records table is the high-volume one (millions of rows a day): it is
written by COPY / multi-row INSERT in the importer, carries one index (the
record_id dedupe key) and references to the line and the import that are
not database constraints, for the same reason as the outbox (a foreign key
checked per inserted row costs more than the insert). Reads for people go
to DailyUsage, a few rows per line and day.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from simcare.catalog.models import UsageKind, Zone


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    REFUSED = "refused", _("Refused")
    FAILED = "failed", _("Failed")


class CdrImport(models.Model):
    """One run of `simcare import-cdrs` over one file.

    Example: "cdr-2026-12-01.csv.gz", 1,000,000 rows read, 999,990 applied,
    0 duplicates (already imported), 10 rejected, 7.9 s.
    """

    file_name = models.CharField(_("file"), max_length=255)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    applied = models.PositiveBigIntegerField(_("applied"), default=0)
    duplicates = models.PositiveBigIntegerField(_("already imported"), default=0)
    rejected = models.PositiveBigIntegerField(_("rejected"), default=0)
    charged_cents = models.BigIntegerField(_("charged (cents)"), default=0)
    debt_cents = models.BigIntegerField(_("debt (cents)"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("CDR import")
        verbose_name_plural = _("CDR imports")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class Direction(models.TextChoices):
    OUT = "out", _("Outgoing")
    IN = "in", _("Incoming")


class Outcome(models.TextChoices):
    RATED = "rated", _("Rated (buckets and/or overage)")
    FREE = "free", _("Free (incoming domestic)")
    REJECTED_STATE = "rejected_state", _("No service (line not active)")
    REJECTED_BARRED = "rejected_barred", _("Barred (wallet short)")


class UsageRecord(models.Model):
    """One rated CDR, e.g. record "a1b2" data CA out, 1,500,000 bytes = 1,465 KB:
    1,000 KB from buckets and 465 KB overage charged 5¢ (3¢ paid, 2¢ owed).

    Quantities after `units` are in rated units (data KB, voice minutes, SMS
    messages) and always add up: bucket + overage + free + rejected = units.
    """

    record_id = models.CharField(_("record ID"), max_length=100)
    cdr_import = models.ForeignKey(
        CdrImport,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    kind = models.CharField(max_length=8, choices=UsageKind.choices)
    zone = models.CharField(max_length=4, choices=Zone.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    started_at = models.DateTimeField()
    quantity = models.BigIntegerField(help_text=_("As imported: bytes, seconds or messages."))
    units = models.BigIntegerField()
    bucket_units = models.BigIntegerField(default=0)
    overage_units = models.BigIntegerField(default=0)
    free_units = models.BigIntegerField(default=0)
    rejected_units = models.BigIntegerField(default=0)
    charged_cents = models.BigIntegerField(default=0)
    debt_cents = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [
            models.UniqueConstraint(fields=["record_id"], name="usage_record_record_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.record_id} {self.kind} {self.units}"


class DailyUsage(models.Model):
    """What one line used of one kind on one day (America/Toronto), for charts and the API.

    Example: line 42, 2026-12-01, data, 524,288 KB over 37 records, 0¢ charged.
    units counts what was served (buckets, overage and free), not what was refused.
    """

    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    day = models.DateField()
    kind = models.CharField(max_length=8, choices=UsageKind.choices)
    units = models.BigIntegerField(default=0)
    records = models.BigIntegerField(default=0)
    charged_cents = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["line", "day", "kind"]
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "day", "kind"], name="usage_daily_line_day_kind_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.day} {self.kind} {self.units}"
