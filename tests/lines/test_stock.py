"""Stock CSV imports (lines.stock): numbers, physical SIMs, eSIM profiles."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcare.accounts.models import AuditEvent, Role, User
from simcare.kit.iccid import make_iccid
from simcare.lines import stock
from simcare.lines.errors import StockFileRefused
from simcare.lines.models import Number, NumberStatus, SimCard, SimKind, SimStatus
from simcare.stores.models import Store
from tests.lines.stock_support import csv_text, iccid, wrong_check_digit

pytestmark = pytest.mark.django_db

BAD_LENGTH = "An ICCID is 19 or 20 digits."
BAD_PREFIX = "An ICCID starts with 89 (telecommunications)."
BAD_CHECK_DIGIT = "The ICCID check digit is wrong."
NOT_NANP = "Enter a valid North American (+1) phone number."


def rejected(report: stock.ImportReport) -> list[tuple[int, str, tuple[str, ...]]]:
    return [(row.row_number, row.reason, row.raw) for row in report.rejected]


# --- numbers ---------------------------------------------------------------------------


def test_numbers_in_national_forms_are_stored_in_e164_as_available(
    make_staff: Callable[..., User],
) -> None:
    # given
    admin = make_staff(Role.ADMIN)
    source = csv_text("msisdn", "(416) 555-0142", "+1 647 555 0199", "905-555-0100", "16135550123")

    # when
    report = stock.import_numbers(source, acting_user=admin, source_name="numbers.csv")

    # then
    assert (report.rows_read, report.applied, report.duplicates, report.rejected) == (4, 4, 0, [])
    assert report.is_complete
    assert list(Number.objects.values_list("msisdn", "status")) == [
        ("+14165550142", NumberStatus.AVAILABLE),
        ("+16135550123", NumberStatus.AVAILABLE),
        ("+16475550199", NumberStatus.AVAILABLE),
        ("+19055550100", NumberStatus.AVAILABLE),
    ]
    event = AuditEvent.objects.get(action="stock.numbers_imported")
    assert (event.actor, event.actor_label, event.object_type, event.object_id) == (
        admin,
        admin.username,
        "number",
        "import",
    )
    assert event.data == {
        "source": "numbers.csv",
        "rows_read": 4,
        "applied": 4,
        "duplicates": 0,
        "rejected": 0,
    }


def test_bad_numbers_are_reported_by_line_number_and_good_ones_kept() -> None:
    # given: line 1 is the header; the blank line 5 is skipped but still counts
    source = csv_text(
        "msisdn",
        "4165550142",
        "+44 20 7946 0958",
        "abc",
        "",
        "416555014",
        "+1 416 555 0142",
        "6475550199",
    )

    # when
    report = stock.import_numbers(source, acting_user=None)

    # then
    assert (report.rows_read, report.applied, report.duplicates) == (6, 2, 0)
    assert rejected(report) == [
        (3, NOT_NANP, ("+44 20 7946 0958",)),
        (4, "This is not a phone number.", ("abc",)),
        (6, NOT_NANP, ("416555014",)),
        (7, "Duplicate of row 2 in this file.", ("+1 416 555 0142",)),
    ]
    assert sorted(Number.objects.values_list("msisdn", flat=True)) == [
        "+14165550142",
        "+16475550199",
    ]
    assert AuditEvent.objects.get(action="stock.numbers_imported").data["rejected"] == 4


def test_numbers_already_in_stock_are_counted_and_left_unchanged() -> None:
    # given: one number is already assigned to a line, one is in quarantine
    Number.objects.create(msisdn="+14165550142", status=NumberStatus.ASSIGNED)
    Number.objects.create(msisdn="+14165550143", status=NumberStatus.QUARANTINE)
    before = list(Number.objects.values_list("msisdn", "status", "updated_at"))

    # when
    report = stock.import_numbers(
        csv_text("msisdn", "4165550142", "4165550143", "4165550144"), acting_user=None
    )

    # then
    assert (report.rows_read, report.applied, report.duplicates, report.rejected) == (3, 1, 2, [])
    after = list(Number.objects.values_list("msisdn", "status", "updated_at"))
    assert after[:2] == before
    assert after[2][:2] == ("+14165550144", NumberStatus.AVAILABLE)


def test_a_row_with_too_many_columns_is_rejected() -> None:
    report = stock.import_numbers(
        csv_text("msisdn", "4165550142,extra", "4165550143"), acting_user=None
    )

    assert rejected(report) == [
        (2, "Expected 1 columns (msisdn), found 2.", ("4165550142", "extra")),
    ]
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550143"]


def test_a_quoted_field_spanning_lines_keeps_the_numbering_of_the_file() -> None:
    # given: row 2 spans lines 2-3, so the next row is line 4
    source = io.StringIO('msisdn\n"416555\n0142"\nnot a number\n')

    report = stock.import_numbers(source, acting_user=None)

    assert [row.row_number for row in report.rejected] == [2, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file is empty: its first line must be a header."),
        ("phone\n4165550142\n", "The first line must be the header msisdn; found phone."),
        (
            "iccid,location\n8912300000000000017,TOR-01\n",
            "The first line must be the header msisdn; found iccid,location.",
        ),
        ('msisdn\n"4165550142\n', "Line 2 is not valid CSV (unexpected end of data)."),
        ("msisdn\n41655\x0050142\n", "Line 2 contains a NUL character: this is not a text file."),
    ],
    ids=["empty", "wrong-header", "other-kind-of-file", "unclosed-quote", "binary"],
)
def test_a_file_that_is_not_the_expected_csv_is_refused_whole(content: str, message: str) -> None:
    # given
    Number.objects.create(msisdn="+14165550100")

    # when
    with pytest.raises(StockFileRefused) as refusal:
        stock.import_numbers(io.StringIO(content), acting_user=None)

    # then
    assert (refusal.value.code, refusal.value.message) == ("stock_file_refused", message)
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550100"]
    assert not AuditEvent.objects.filter(action="stock.numbers_imported").exists()


def test_a_file_that_is_not_utf8_is_refused_whole() -> None:
    source = io.TextIOWrapper(io.BytesIO(b"msisdn\n\xff\xfe\x89PNG\r\n"), encoding="utf-8")

    with pytest.raises(StockFileRefused) as refusal:
        stock.import_numbers(source, acting_user=None)

    assert refusal.value.message == "The file is not UTF-8 text."
    assert Number.objects.count() == 0


def test_the_header_may_have_a_byte_order_mark_capitals_and_spaces() -> None:
    report = stock.import_numbers(io.StringIO("\ufeff MSISDN \n4165550142\n"), acting_user=None)

    assert (report.applied, report.rejected) == (1, [])


def test_thousands_of_rows_are_written_in_batches_and_counted_exactly() -> None:
    # given: more rows than one batch, then the same file again
    rows = [f"+1416{2000000 + serial:07d}" for serial in range(2 * stock.BATCH_SIZE + 500)]
    content = "\n".join(["msisdn", *rows]) + "\n"

    # when
    first = stock.import_numbers(io.StringIO(content), acting_user=None)
    second = stock.import_numbers(io.StringIO(content), acting_user=None)

    # then
    assert (first.rows_read, first.applied, first.duplicates) == (2500, 2500, 0)
    assert (second.rows_read, second.applied, second.duplicates) == (2500, 0, 2500)
    assert Number.objects.count() == 2500
    assert AuditEvent.objects.filter(action="stock.numbers_imported").count() == 2


_number_cells = st.one_of(
    st.integers(min_value=0, max_value=60).map(lambda serial: f"416555{serial:04d}"),
    st.sampled_from(["abc", "+44 20 7946 0958", "911", "4165550100,extra"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(_number_cells, max_size=30))
def test_every_row_read_is_applied_a_duplicate_or_rejected(cells: list[str], db: Any) -> None:
    before = Number.objects.count()

    report = stock.import_numbers(csv_text("msisdn", *cells), acting_user=None)

    assert report.rows_read == len(cells)
    assert report.applied + report.duplicates + len(report.rejected) == report.rows_read
    assert Number.objects.count() == before + report.applied


# --- physical SIMs -----------------------------------------------------------------------


def test_sims_at_a_store_are_linked_to_it_and_others_are_in_a_warehouse(store: Store) -> None:
    # when
    report = stock.import_sims(
        csv_text("iccid,location", f"{iccid(1)},tor-01", f"{iccid(2)},Mississauga warehouse"),
        acting_user=None,
    )

    # then
    assert (report.rows_read, report.applied, report.duplicates, report.rejected) == (2, 2, 0, [])
    assert list(SimCard.objects.values_list("iccid", "kind", "status", "location", "store")) == [
        (iccid(1), SimKind.PHYSICAL, SimStatus.IN_STOCK, "TOR-01", store.pk),
        (iccid(2), SimKind.PHYSICAL, SimStatus.IN_STOCK, "Mississauga warehouse", None),
    ]
    assert AuditEvent.objects.get(action="stock.sims_imported").data["applied"] == 2


def test_bad_sim_rows_are_reported_by_line_number_and_good_ones_kept(store: Store) -> None:
    # given
    valid = iccid(7)
    source = csv_text(
        "iccid,location",
        f"{valid},TOR-01",
        f"{wrong_check_digit(iccid(8))},TOR-01",
        "8912300000000000A17,TOR-01",
        "891230000000000001,TOR-01",
        f"44{iccid(9)[2:]},TOR-01",
        f"{iccid(10)},",
        f"{iccid(11)}",
        f"{valid},WAREHOUSE",
        f"{iccid(12)},{'W' * 41}",
    )

    # when
    report = stock.import_sims(source, acting_user=None)

    # then
    assert (report.rows_read, report.applied, report.duplicates) == (9, 1, 0)
    assert [(row.row_number, row.reason) for row in report.rejected] == [
        (3, BAD_CHECK_DIGIT),
        (4, BAD_LENGTH),
        (5, BAD_LENGTH),
        (6, BAD_PREFIX),
        (7, "A location is required: a store code or a warehouse name."),
        (8, "Expected 2 columns (iccid,location), found 1."),
        (9, "Duplicate of row 2 in this file."),
        (10, "A location is at most 40 characters."),
    ]
    assert list(SimCard.objects.values_list("iccid", flat=True)) == [valid]


def test_the_columns_may_come_in_any_order(store: Store) -> None:
    report = stock.import_sims(csv_text("location,iccid", f"TOR-01,{iccid(3)}"), acting_user=None)

    assert (report.applied, report.rejected) == (1, [])
    assert SimCard.objects.get().store == store


def test_a_sim_already_in_stock_is_a_duplicate_and_an_esim_with_its_iccid_is_rejected() -> None:
    # given
    stock.import_sims(csv_text("iccid,location", f"{iccid(4)},WAREHOUSE"), acting_user=None)
    before = list(SimCard.objects.values_list("iccid", "kind", "location", "smdp_address"))

    # when
    again = stock.import_sims(csv_text("iccid,location", f"{iccid(4)},TOR-02"), acting_user=None)
    as_esim = stock.import_esims(
        csv_text("iccid,smdp_address,matching_id", f"{iccid(4)},smdp.example.com,AB-1"),
        acting_user=None,
    )

    # then
    assert (again.applied, again.duplicates, again.rejected) == (0, 1, [])
    assert (as_esim.applied, as_esim.duplicates) == (0, 0)
    assert rejected(as_esim) == [
        (
            2,
            "This ICCID is already in stock as a physical SIM.",
            (iccid(4), "smdp.example.com", "AB-1"),
        )
    ]
    assert list(SimCard.objects.values_list("iccid", "kind", "location", "smdp_address")) == before


# --- eSIM profiles -----------------------------------------------------------------------


def test_esim_profiles_are_stored_with_their_smdp_address_and_matching_id() -> None:
    # given: a 20-digit ICCID too
    long_iccid = make_iccid("8912300000000000012")
    source = csv_text(
        "iccid,smdp_address,matching_id",
        f"{iccid(20)},SMDP.Example.com,JQ-209U6H-6I82J9",
        f"{long_iccid}, rsp.carrier.ca ,ab12-cd34",
    )

    # when
    report = stock.import_esims(source, acting_user=None)

    # then
    assert (report.rows_read, report.applied, report.rejected) == (2, 2, [])
    assert list(
        SimCard.objects.order_by("iccid").values_list(
            "iccid", "kind", "status", "smdp_address", "matching_id", "location"
        )
    ) == sorted(
        [
            (
                iccid(20),
                SimKind.ESIM,
                SimStatus.IN_STOCK,
                "smdp.example.com",
                "JQ-209U6H-6I82J9",
                "",
            ),
            (long_iccid, SimKind.ESIM, SimStatus.IN_STOCK, "rsp.carrier.ca", "ab12-cd34", ""),
        ]
    )
    assert AuditEvent.objects.get(action="stock.esims_imported").data["applied"] == 2


def test_bad_esim_rows_are_reported_by_line_number_and_good_ones_kept() -> None:
    # given
    not_a_host = (
        "The SM-DP+ address must be a host name such as smdp.example.com "
        "(no https://, port or path)."
    )
    source = csv_text(
        "iccid,smdp_address,matching_id",
        f"{iccid(30)},smdp.example.com,GOOD-1",
        f"{iccid(31)},,NO-ADDRESS",
        f"{iccid(32)},smdp.example.com,",
        f"{iccid(33)},https://smdp.example.com,A-1",
        f"{iccid(34)},smdp.example.com:443,A-2",
        f"{iccid(35)},smdp,A-3",
        f"{iccid(36)},192.168.0.10,A-4",
        f"{iccid(37)},-smdp.example.com,A-5",
        f"{iccid(38)},smdp.example.com,A$1",
        f"{iccid(39)},smdp.example.com",
        f"{wrong_check_digit(iccid(40))},smdp.example.com,A-6",
    )

    # when
    report = stock.import_esims(source, acting_user=None)

    # then
    assert (report.rows_read, report.applied) == (11, 1)
    assert [(row.row_number, row.reason) for row in report.rejected] == [
        (3, "The SM-DP+ address is required."),
        (4, "The matching ID is required."),
        (5, not_a_host),
        (6, not_a_host),
        (7, not_a_host),
        (8, not_a_host),
        (9, not_a_host),
        (10, "A matching ID is at most 255 letters, digits and hyphens (-)."),
        (11, "Expected 3 columns (iccid,smdp_address,matching_id), found 2."),
        (12, BAD_CHECK_DIGIT),
    ]
    assert list(SimCard.objects.values_list("iccid", "matching_id")) == [(iccid(30), "GOOD-1")]
