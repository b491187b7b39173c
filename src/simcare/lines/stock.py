"""Stock imports: phone numbers, physical SIMs and eSIM profiles from CSV (90-interfaces.md).

Every import reads the whole file and checks each row in Python first; a file that
is not CSV or has the wrong header is refused whole (StockFileRefused) before
anything is written. The good rows are then written set-based in batches with
`bulk_create(ignore_conflicts=True)`, so a row already in stock, or inserted by
an import running at the same time, is never an error and never changes (in that
race both imports may count the row as applied; the stock itself stays right).
Bad rows come back in the report by their line number in the file (the header
is line 1), with a reason in the active language; the good rows are kept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO, TypeVar

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from simcare.accounts.models import User
from simcare.accounts.services import record_audit
from simcare.kit.iccid import InvalidIccid, normalize_iccid
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.lines.errors import StockFileRefused
from simcare.lines.models import Number, NumberStatus, SimCard, SimKind, SimStatus
from simcare.stores.models import Store

NUMBER_COLUMNS = ("msisdn",)
SIM_COLUMNS = ("iccid", "location")
ESIM_COLUMNS = ("iccid", "smdp_address", "matching_id")

# Rows per query: well under SQLite's and PostgreSQL's bound-parameter limits.
BATCH_SIZE = 1000

_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# SGP.22: the matching ID is made of letters, digits and "-"; "$" would break the
# activation code, which uses it as the separator.
_MATCHING_ID = re.compile(r"[A-Za-z0-9-]{1,255}")
_LOCATION_MAX_LENGTH = SimCard._meta.get_field("location").max_length or 40
_RAW_PREVIEW_LENGTH = 80


@dataclass(frozen=True)
class RejectedRow:
    """One bad row: its line number in the file (header = 1), why, and its fields as read."""

    row_number: int
    reason: str
    raw: tuple[str, ...]


@dataclass
class ImportReport:
    """What one import did. Duplicates are rows already in stock: counted, left unchanged."""

    columns: tuple[str, ...]
    rows_read: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def is_complete(self) -> bool:
        """True when no row was rejected."""
        return not self.rejected


class _RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_T = TypeVar("_T")


class _StockImport:
    """The stock of one model as a whole: what an import's audit event is about."""

    def __init__(self, model: type[models.Model]) -> None:
        self._meta = model._meta
        self.pk = "import"


# --- reading ----------------------------------------------------------------------


def _preview(fields: Sequence[str]) -> str:
    text = ",".join(fields)
    return text if len(text) <= _RAW_PREVIEW_LENGTH else text[: _RAW_PREVIEW_LENGTH - 1] + "…"


def _column_positions(header: list[str] | None, columns: tuple[str, ...]) -> dict[str, int]:
    if header is None:
        raise StockFileRefused(gettext("The file is empty: its first line must be a header."))
    names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
    if sorted(names) != sorted(columns):
        raise StockFileRefused(
            gettext("The first line must be the header %(expected)s; found %(found)s.")
            % {"expected": ",".join(columns), "found": _preview(header) or '""'}
        )
    return {name: names.index(name) for name in columns}


def _read_rows(
    source: TextIO, columns: tuple[str, ...]
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """Yield (line number, fields, column positions) for each non-blank data row."""
    reader = csv.reader(source, strict=True)
    try:
        positions = _column_positions(next(reader, None), columns)
        last_line = reader.line_num
        for fields in reader:
            # A quoted field may span lines: a row is numbered by the line it starts on.
            row_number = last_line + 1
            last_line = reader.line_num
            if not any(value.strip() for value in fields):
                continue
            if any("\x00" in value for value in fields):
                # Python's csv module reads NUL characters; a text file has none.
                raise StockFileRefused(
                    gettext("Line %(line)d contains a NUL character: this is not a text file.")
                    % {"line": row_number}
                )
            yield row_number, fields, positions
    except csv.Error as error:
        raise StockFileRefused(
            gettext("Line %(line)d is not valid CSV (%(detail)s).")
            % {"line": reader.line_num, "detail": error}
        ) from error
    except UnicodeDecodeError as error:
        raise StockFileRefused(gettext("The file is not UTF-8 text.")) from error


# --- checking one row ---------------------------------------------------------------


@dataclass
class _Context:
    started_at: datetime
    stores: dict[str, Store] = field(default_factory=dict)


def _iccid(text: str) -> str:
    try:
        return normalize_iccid(text)
    except InvalidIccid as error:
        raise _RowRejected(str(error)) from error


def _is_host_name(text: str) -> bool:
    if len(text) > 253:
        return False
    labels = text.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def _number_row(values: dict[str, str], context: _Context) -> tuple[str, Number]:
    try:
        msisdn = normalize_msisdn(values["msisdn"])
    except InvalidPhoneNumber as error:
        raise _RowRejected(str(error)) from error
    return msisdn, Number(
        msisdn=msisdn, status=NumberStatus.AVAILABLE, updated_at=context.started_at
    )


def _sim_row(values: dict[str, str], context: _Context) -> tuple[str, SimCard]:
    iccid = _iccid(values["iccid"])
    location = values["location"]
    if not location:
        raise _RowRejected(gettext("A location is required: a store code or a warehouse name."))
    store = context.stores.get(location.lower())
    if store is not None:
        location = store.code
    elif len(location) > _LOCATION_MAX_LENGTH:
        raise _RowRejected(
            gettext("A location is at most %(count)d characters.") % {"count": _LOCATION_MAX_LENGTH}
        )
    return iccid, SimCard(
        iccid=iccid,
        kind=SimKind.PHYSICAL,
        status=SimStatus.IN_STOCK,
        location=location,
        store=store,
        imported_at=context.started_at,
    )


def _esim_row(values: dict[str, str], context: _Context) -> tuple[str, SimCard]:
    iccid = _iccid(values["iccid"])
    smdp_address = values["smdp_address"].lower()
    if not smdp_address:
        raise _RowRejected(gettext("The SM-DP+ address is required."))
    if not _is_host_name(smdp_address):
        raise _RowRejected(
            gettext(
                "The SM-DP+ address must be a host name such as smdp.example.com "
                "(no https://, port or path)."
            )
        )
    matching_id = values["matching_id"]
    if not matching_id:
        raise _RowRejected(gettext("The matching ID is required."))
    if not _MATCHING_ID.fullmatch(matching_id):
        raise _RowRejected(gettext("A matching ID is at most 255 letters, digits and hyphens (-)."))
    return iccid, SimCard(
        iccid=iccid,
        kind=SimKind.ESIM,
        status=SimStatus.IN_STOCK,
        smdp_address=smdp_address,
        matching_id=matching_id,
        imported_at=context.started_at,
    )


# --- the import ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    name: str
    columns: tuple[str, ...]
    model: type[models.Model]
    key_field: str
    build: Callable[[dict[str, str], _Context], tuple[str, Any]]
    sim_kind: str | None = None


_NUMBERS = _Kind("numbers", NUMBER_COLUMNS, Number, "msisdn", _number_row)
_SIMS = _Kind("sims", SIM_COLUMNS, SimCard, "iccid", _sim_row, SimKind.PHYSICAL)
_ESIMS = _Kind("esims", ESIM_COLUMNS, SimCard, "iccid", _esim_row, SimKind.ESIM)


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_rows(
    source: TextIO, kind: _Kind, context: _Context, report: ImportReport
) -> dict[str, tuple[int, tuple[str, ...], Any]]:
    accepted: dict[str, tuple[int, tuple[str, ...], Any]] = {}
    for row_number, fields, positions in _read_rows(source, kind.columns):
        report.rows_read += 1
        raw = tuple(fields)
        try:
            if len(fields) != len(kind.columns):
                raise _RowRejected(
                    gettext("Expected %(expected)d columns (%(names)s), found %(found)d.")
                    % {
                        "expected": len(kind.columns),
                        "names": ",".join(kind.columns),
                        "found": len(fields),
                    }
                )
            values = {name: fields[index].strip() for name, index in positions.items()}
            key, instance = kind.build(values, context)
            if key in accepted:
                raise _RowRejected(
                    gettext("Duplicate of row %(row)d in this file.") % {"row": accepted[key][0]}
                )
        except _RowRejected as rejection:
            report.rejected.append(RejectedRow(row_number, rejection.reason, raw))
            continue
        accepted[key] = (row_number, raw, instance)
    return accepted


def _write(
    kind: _Kind, accepted: dict[str, tuple[int, tuple[str, ...], Any]], report: ImportReport
) -> None:
    keys = list(accepted)
    existing: dict[str, str] = {}
    for key_chunk in _batches(keys, BATCH_SIZE):
        if kind.sim_kind is None:
            rows = kind.model._default_manager.filter(**{f"{kind.key_field}__in": key_chunk})
            existing.update((key, "") for key in rows.values_list(kind.key_field, flat=True))
        else:
            sims = SimCard.objects.filter(iccid__in=key_chunk).values_list("iccid", "kind")
            existing.update(sims)
    new_instances: list[models.Model] = []
    other_kind_rows: list[RejectedRow] = []
    for key, (row_number, raw, instance) in accepted.items():
        if key not in existing:
            new_instances.append(instance)
        elif kind.sim_kind is not None and existing[key] != kind.sim_kind:
            reason = (
                gettext("This ICCID is already in stock as an eSIM.")
                if existing[key] == SimKind.ESIM
                else gettext("This ICCID is already in stock as a physical SIM.")
            )
            other_kind_rows.append(RejectedRow(row_number, reason, raw))
        else:
            report.duplicates += 1
    for chunk in _batches(new_instances, BATCH_SIZE):
        kind.model._default_manager.bulk_create(chunk, ignore_conflicts=True)
    report.applied = len(new_instances)
    if other_kind_rows:
        report.rejected = sorted(
            [*report.rejected, *other_kind_rows], key=lambda row: row.row_number
        )


def _import(
    source: TextIO, kind: _Kind, *, acting_user: User | None, source_name: str | None
) -> ImportReport:
    report = ImportReport(columns=kind.columns)
    context = _Context(started_at=timezone.now())
    if kind is _SIMS:
        context.stores = {store.code.lower(): store for store in Store.objects.all()}
    accepted = _check_rows(source, kind, context, report)
    with transaction.atomic():
        _write(kind, accepted, report)
        record_audit(
            f"stock.{kind.name}_imported",
            actor=acting_user,
            target=_StockImport(kind.model),
            source=source_name or "",
            rows_read=report.rows_read,
            applied=report.applied,
            duplicates=report.duplicates,
            rejected=len(report.rejected),
        )
    return report


def import_numbers(
    source: TextIO, *, acting_user: User | None, source_name: str | None = None
) -> ImportReport:
    """Add phone numbers to the pool as available; CSV header `msisdn`.

    National forms ("(416) 555-0142") are accepted and stored in E.164 ("+14165550142").
    Raises StockFileRefused when the file is not CSV or has the wrong header.
    """
    return _import(source, _NUMBERS, acting_user=acting_user, source_name=source_name)


def import_sims(
    source: TextIO, *, acting_user: User | None, source_name: str | None = None
) -> ImportReport:
    """Add physical SIMs in stock; CSV header `iccid,location`.

    A location equal to a store code (any case) links the SIM to that store;
    any other location is a warehouse name, kept as written.
    """
    return _import(source, _SIMS, acting_user=acting_user, source_name=source_name)


def import_esims(
    source: TextIO, *, acting_user: User | None, source_name: str | None = None
) -> ImportReport:
    """Add eSIM profiles from the upstream provider; CSV header `iccid,smdp_address,matching_id`."""
    return _import(source, _ESIMS, acting_user=acting_user, source_name=source_name)
