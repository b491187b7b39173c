"""The back office for numbers, SIM/eSIM stock and lines (unfold admin under /en/admin/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines.models import Bucket, Line, LineEvent, LineState, Number, SimCard, SimKind
from simcare.stores.models import Store
from tests.conftest import signed_in_client
from tests.lines.stock_support import iccid

pytestmark = pytest.mark.django_db

NUMBER_IMPORT = "/en/admin/lines/number/import-csv/"
SIM_IMPORT = "/en/admin/lines/simcard/import-sims-csv/"
ESIM_IMPORT = "/en/admin/lines/simcard/import-esims-csv/"


@pytest.fixture
def lines(
    make_line: Callable[..., Line], make_subscriber: Callable[..., Subscriber], plan: Plan
) -> tuple[Line, Line]:
    """A physical line and an eSIM line of two different subscribers."""
    physical = make_line(
        make_subscriber(username="lin.wei", email="lin.wei@example.com", phone="+14169790177"),
        plan,
    )
    esim = make_line(make_subscriber(username="amelie.roy"), plan, kind=SimKind.ESIM)
    return physical, esim


def results(response: Any) -> list[Any]:
    return list(response.context["cl"].result_list)


def upload(name: str, content: str | bytes, content_type: str = "text/csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- every page loads ---------------------------------------------------------------------


def test_every_lines_page_loads_for_a_verified_admin(
    admin_client_verified: Client, lines: tuple[Line, Line], store: Store
) -> None:
    # given
    physical, esim = lines
    event = LineEvent.objects.filter(line=physical).first()
    bucket = Bucket.objects.filter(line=physical).first()
    assert event is not None
    assert bucket is not None
    pages = [
        "/en/admin/lines/number/",
        "/en/admin/lines/simcard/",
        "/en/admin/lines/line/",
        "/en/admin/lines/lineevent/",
        "/en/admin/lines/bucket/",
        f"/en/admin/lines/number/{physical.number_id}/change/",
        f"/en/admin/lines/simcard/{physical.sim_id}/change/",
        f"/en/admin/lines/simcard/{esim.sim_id}/change/",
        f"/en/admin/lines/line/{physical.pk}/change/",
        f"/en/admin/lines/line/{esim.pk}/change/",
        f"/en/admin/lines/lineevent/{event.pk}/change/",
        f"/en/admin/lines/bucket/{bucket.pk}/change/",
        NUMBER_IMPORT,
        SIM_IMPORT,
        ESIM_IMPORT,
        "/en/admin/lines/line/?state__exact=active&kind__exact=esim&auto_renew__exact=0",
        f"/en/admin/lines/simcard/?kind__exact=physical&status__exact=assigned&store__id__exact={store.pk}",
    ]

    # when
    statuses = {page: admin_client_verified.get(page).status_code for page in pages}

    # then
    assert statuses == dict.fromkeys(pages, 200)


def test_the_line_page_shows_its_history_and_allowances_read_only(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    physical, _ = lines

    response = admin_client_verified.get(f"/en/admin/lines/line/{physical.pk}/change/")

    page = response.content.decode()
    assert response.context["has_change_permission"] is False
    assert "activated" in page  # the activation event of the history
    assert physical.sim.iccid in page
    formsets = {
        formset.opts.model: formset for formset in response.context["inline_admin_formsets"]
    }
    assert len(formsets[LineEvent].formset.forms) == 1
    assert len(formsets[Bucket].formset.forms) == 3


def test_the_esim_page_shows_its_activation_code(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    _, esim = lines

    response = admin_client_verified.get(f"/en/admin/lines/simcard/{esim.sim_id}/change/")

    assert f"LPA:1$smdp.example.com${esim.sim.matching_id}" in response.content.decode()


def test_a_line_cannot_be_changed_from_the_admin(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    # given
    physical, _ = lines
    before = Line.objects.values().get(pk=physical.pk)

    # when
    response = admin_client_verified.post(
        f"/en/admin/lines/line/{physical.pk}/change/",
        {"state": LineState.RECYCLED, "auto_renew": "on"},
    )

    # then
    assert response.status_code == 403
    assert Line.objects.values().get(pk=physical.pk) == before


def test_only_stock_never_used_can_be_deleted(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    # given
    physical, _ = lines
    spare_number = Number.objects.create(msisdn="+16135550123")
    spare_sim = SimCard.objects.create(iccid=iccid(99), kind=SimKind.PHYSICAL, location="WAREHOUSE")

    # when
    refused = [
        admin_client_verified.post(
            f"/en/admin/lines/number/{physical.number_id}/delete/", {"post": "yes"}
        ),
        admin_client_verified.post(
            f"/en/admin/lines/simcard/{physical.sim_id}/delete/", {"post": "yes"}
        ),
    ]
    deleted = [
        admin_client_verified.post(
            f"/en/admin/lines/number/{spare_number.pk}/delete/", {"post": "yes"}
        ),
        admin_client_verified.post(
            f"/en/admin/lines/simcard/{spare_sim.pk}/delete/", {"post": "yes"}
        ),
    ]

    # then
    assert [response.status_code for response in refused] == [403, 403]
    assert [response.status_code for response in deleted] == [302, 302]
    assert list(Number.objects.values_list("msisdn", flat=True)) == [
        line.msisdn for line in sorted(lines, key=lambda line: line.msisdn)
    ]
    assert not SimCard.objects.filter(pk=spare_sim.pk).exists()
    assert SimCard.objects.filter(pk=physical.sim_id).exists()


# --- search and filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["msisdn", "national", "iccid", "username", "email", "phone"],
)
def test_search_finds_the_line(
    admin_client_verified: Client, lines: tuple[Line, Line], query: str
) -> None:
    # given
    physical, _ = lines
    national = f"({physical.msisdn[2:5]}) {physical.msisdn[5:8]}-{physical.msisdn[8:]}"
    terms = {
        "msisdn": physical.msisdn,
        "national": national,
        "iccid": physical.sim.iccid,
        "username": "lin.wei",
        "email": "lin.wei@example.com",
        "phone": "+14169790177",
    }

    # when
    response = admin_client_verified.get("/en/admin/lines/line/", {"q": terms[query]})

    # then
    assert results(response) == [physical]


def test_search_for_an_unknown_number_finds_nothing(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    response = admin_client_verified.get("/en/admin/lines/line/", {"q": "+16135550000"})

    assert results(response) == []


def test_numbers_and_sims_are_found_by_number_and_iccid(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    physical, esim = lines

    numbers = admin_client_verified.get("/en/admin/lines/number/", {"q": physical.msisdn[2:]})
    sims = admin_client_verified.get("/en/admin/lines/simcard/", {"q": esim.sim.iccid})

    assert results(numbers) == [physical.number]
    assert results(sims) == [esim.sim]


def test_lines_filter_by_state_and_kind(
    admin_client_verified: Client, lines: tuple[Line, Line]
) -> None:
    _, esim = lines

    response = admin_client_verified.get(
        "/en/admin/lines/line/", {"state__exact": "active", "kind__exact": "esim"}
    )

    assert results(response) == [esim]


# --- the CSV imports ------------------------------------------------------------------------


def test_the_changelists_link_to_their_import_pages(admin_client_verified: Client) -> None:
    numbers = admin_client_verified.get("/en/admin/lines/number/").content.decode()
    sims = admin_client_verified.get("/en/admin/lines/simcard/").content.decode()

    assert f'href="{NUMBER_IMPORT}"' in numbers
    assert f'href="{SIM_IMPORT}"' in sims
    assert f'href="{ESIM_IMPORT}"' in sims


def test_the_number_import_reports_bad_rows_by_line_number_and_keeps_the_good_ones(
    admin_client_verified: Client,
) -> None:
    # given
    admin = User.objects.get(is_superuser=True)
    Number.objects.create(msisdn="+14165550100")
    content = "msisdn\n(416) 555-0142\n+44 20 7946 0958\n4165550100\nabc\n647-555-0199\n"

    # when
    response = admin_client_verified.post(NUMBER_IMPORT, {"file": upload("numbers.csv", content)})

    # then
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.rows_read, report.applied, report.duplicates) == (5, 2, 1)
    assert [(row.row_number, row.reason) for row in report.rejected] == [
        (3, "Enter a valid North American (+1) phone number."),
        (5, "This is not a phone number."),
    ]
    page = response.content.decode()
    assert '<td class="px-3 py-2 font-semibold">3</td>' in page
    assert '<td class="px-3 py-2 font-semibold">5</td>' in page
    assert "2 added, 1 already in stock, 2 rejected." in page
    assert sorted(Number.objects.values_list("msisdn", flat=True)) == [
        "+14165550100",
        "+14165550142",
        "+16475550199",
    ]
    event = AuditEvent.objects.get(action="stock.numbers_imported")
    assert (event.actor, event.data["source"], event.data["applied"]) == (admin, "numbers.csv", 2)


def test_the_sim_and_esim_imports_apply_their_rows(
    admin_client_verified: Client, store: Store
) -> None:
    sims = admin_client_verified.post(
        SIM_IMPORT, {"file": upload("sims.csv", f"iccid,location\n{iccid(1)},TOR-01\n")}
    )
    esims = admin_client_verified.post(
        ESIM_IMPORT,
        {
            "file": upload(
                "esims.csv",
                f"iccid,smdp_address,matching_id\n{iccid(2)},smdp.example.com,AB-12\n",
            )
        },
    )

    assert (sims.status_code, esims.status_code) == (200, 200)
    assert sims.context["report"].applied == 1
    assert esims.context["report"].applied == 1
    assert list(SimCard.objects.values_list("iccid", "kind", "store")) == [
        (iccid(1), SimKind.PHYSICAL, store.pk),
        (iccid(2), SimKind.ESIM, None),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "numbers.csv",
            b"phone\n4165550142\n",
            "The first line must be the header msisdn; found phone.",
        ),
        (
            "numbers.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "This is not a CSV text file (UTF-8 expected).",
        ),
        ("numbers.xlsx", b"msisdn\n4165550142\n", "Upload a .csv (or .txt) file."),
        ("numbers.csv", b"", "The submitted file is empty."),
    ],
    ids=["wrong-header", "binary", "wrong-extension", "empty"],
)
def test_a_refused_upload_changes_nothing_and_says_why(
    admin_client_verified: Client, name: str, content: bytes, message: str
) -> None:
    # when
    response = admin_client_verified.post(NUMBER_IMPORT, {"file": upload(name, content)})

    # then
    assert response.status_code == 200
    assert response.context["report"] is None
    assert response.context["form"].errors == {"file": [message]}
    assert Number.objects.count() == 0
    assert not AuditEvent.objects.filter(action="stock.numbers_imported").exists()


def test_an_upload_large_enough_to_be_kept_on_disk_imports_too(
    admin_client_verified: Client,
) -> None:
    # given: over Django's 2.5 MB in-memory limit, mostly blank lines (skipped, still counted)
    padding = " " * 10 + "\n"
    blank_lines = 3 * 1024 * 1024 // len(padding)
    content = "msisdn\n" + padding * blank_lines + "4165550142\nabc\n"

    # when
    response = admin_client_verified.post(NUMBER_IMPORT, {"file": upload("numbers.csv", content)})

    # then
    report = response.context["report"]
    assert (report.rows_read, report.applied) == (2, 1)
    assert [row.row_number for row in report.rejected] == [blank_lines + 3]
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550142"]


def test_an_upload_over_10_mb_is_refused_before_it_is_read(admin_client_verified: Client) -> None:
    # given: a valid CSV, just too large
    rows = "4165550142\n" * (10 * 1024 * 1024 // 11 + 10)

    # when
    response = admin_client_verified.post(
        NUMBER_IMPORT, {"file": upload("numbers.csv", "msisdn\n" + rows)}
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["The file is larger than 10 MB."]}
    assert Number.objects.count() == 0


def browser_like_client(admin: User) -> Client:
    """A verified admin whose client enforces CSRF like a browser."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin, backend="simcare.accounts.backends.EmailOrPhoneBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=admin).persistent_id
    session.save()
    return client


def test_the_import_refuses_a_post_without_the_csrf_token(make_staff: Callable[..., User]) -> None:
    client = browser_like_client(make_staff(Role.ADMIN))

    response = client.post(NUMBER_IMPORT, {"file": upload("numbers.csv", "msisdn\n4165550142\n")})

    assert response.status_code == 403
    assert Number.objects.count() == 0


@pytest.mark.parametrize(
    ("rows", "error", "count"),
    [(1, None, 1), (10 * 1024 * 1024 // 11 + 10, "The file is larger than 10 MB.", 0)],
    ids=["small", "over-10-mb"],
)
def test_with_the_csrf_token_the_size_limit_still_applies_before_reading(
    make_staff: Callable[..., User], rows: int, error: str | None, count: int
) -> None:
    # given: the token from the form, as a browser sends it
    client = browser_like_client(make_staff(Role.ADMIN))
    form_page = client.get(NUMBER_IMPORT)
    token = form_page.context["csrf_token"]

    # when
    response = client.post(
        NUMBER_IMPORT,
        {
            "csrfmiddlewaretoken": token,
            "file": upload("numbers.csv", "msisdn\n" + "4165550142\n" * rows),
        },
    )

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == ({"file": [error]} if error else {})
    assert Number.objects.count() == count


def test_posting_without_a_file_asks_for_one(admin_client_verified: Client) -> None:
    response = admin_client_verified.post(NUMBER_IMPORT, {})

    assert response.context["form"].errors == {"file": ["Choose a CSV file to import."]}
    assert Number.objects.count() == 0


# --- who gets in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["/en/admin/lines/line/", "/en/admin/lines/number/", NUMBER_IMPORT, ESIM_IMPORT]
)
def test_staff_without_a_verified_totp_code_are_sent_to_the_login(
    make_staff: Callable[..., User], page: str
) -> None:
    client = signed_in_client(make_staff(Role.ADMIN), verified=False)

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"] == f"/en/admin/login/?next={page}"


def test_an_unverified_upload_is_not_imported(make_staff: Callable[..., User]) -> None:
    client = signed_in_client(make_staff(Role.ADMIN), verified=False)

    response = client.post(NUMBER_IMPORT, {"file": upload("numbers.csv", "msisdn\n4165550142\n")})

    assert response.status_code == 302
    assert Number.objects.count() == 0


def test_a_subscriber_is_sent_to_the_login(subscriber: Subscriber) -> None:
    response = signed_in_client(subscriber.user).get("/en/admin/lines/line/")

    assert response.status_code == 302
    assert response["Location"] == "/en/admin/login/?next=/en/admin/lines/line/"


def test_an_agent_without_stock_permissions_cannot_import(make_staff: Callable[..., User]) -> None:
    client = signed_in_client(make_staff(Role.AGENT))

    page = client.get(NUMBER_IMPORT)
    upload_attempt = client.post(
        NUMBER_IMPORT, {"file": upload("numbers.csv", "msisdn\n4165550142\n")}
    )

    assert (page.status_code, upload_attempt.status_code) == (403, 403)
    assert Number.objects.count() == 0
