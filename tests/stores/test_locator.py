"""The public store locator through the test client: filters, open-now at a travelled time,
the htmx partial, map and phone links, translations, and bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from simcare.stores.hours import DAYS
from simcare.stores.models import Store

TORONTO = ZoneInfo("America/Toronto")
# Monday 2026-11-30 at 12:00 in Toronto: the weekday hours are 10:00-19:00.
MONDAY_NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=TORONTO)


@pytest.fixture
def stores(make_store: Callable[..., Store]) -> dict[str, Store]:
    return {
        "tor": make_store("TOR-01", name="Toronto Chinatown"),
        "van": make_store(
            "VAN-01",
            name="Vancouver Cambie",
            address="3311 Cambie St",
            city="Vancouver",
            province="BC",
            postal_code="V5Z 2W6",
            latitude=None,
            longitude=None,
            services=["sim_sales", "renewals"],
        ),
        "mtl": make_store(
            "MTL-01",
            name="Montreal Chinatown",
            city="Montréal",
            province="QC",
            hours={"sat": [["10:00", "17:00"]]},
            services=["vouchers"],
        ),
        "closed": make_store("OLD-01", name="Closed for good", is_active=False),
    }


def names(response: object) -> list[str]:
    cards = response.context["cards"]  # type: ignore[attr-defined]
    return [card["store"].name for card in cards]


@pytest.mark.django_db
def test_every_active_store_is_listed_without_filters(stores: dict[str, Store]) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        response = Client().get("/en/stores/")

    assert response.status_code == 200
    assert names(response) == ["Vancouver Cambie", "Toronto Chinatown", "Montreal Chinatown"]
    assert "Closed for good" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("city=Toronto", ["Toronto Chinatown"]),
        ("city=Montr%C3%A9al", ["Montreal Chinatown"]),
        ("province=BC", ["Vancouver Cambie"]),
        ("service=vouchers", ["Toronto Chinatown", "Montreal Chinatown"]),
        ("service=esim", ["Toronto Chinatown"]),
        ("province=ON&service=renewals", ["Toronto Chinatown"]),
        ("province=QC&service=renewals", []),
        ("open_now=on", ["Vancouver Cambie", "Toronto Chinatown"]),
        ("province=QC&open_now=on", []),
    ],
)
def test_filters(stores: dict[str, Store], query: str, expected: list[str]) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        response = Client().get(f"/en/stores/?{query}")

    assert response.status_code == 200
    assert names(response) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "is_open", "text"),
    [
        (MONDAY_NOON, True, "Open now · closes at 19:00"),
        (MONDAY_NOON.replace(hour=9, minute=59), False, "Closed · opens at 10:00"),
        (MONDAY_NOON.replace(hour=19), False, "Closed · opens tomorrow at 10:00"),
        # Saturday's lunch break, then Sunday (closed) until Monday.
        (dt.datetime(2026, 12, 5, 14, 30, tzinfo=TORONTO), False, "Closed · opens at 15:00"),
        (dt.datetime(2026, 12, 5, 18, 0, tzinfo=TORONTO), False, "Closed · opens Monday at 10:00"),
    ],
)
def test_open_now_follows_the_hours_in_toronto(
    make_store: Callable[..., Store], moment: dt.datetime, is_open: bool, text: str
) -> None:
    make_store("TOR-01")

    with time_machine.travel(moment, tick=False):
        response = Client().get("/en/stores/")

    card = response.context["cards"][0]
    assert (card["is_open"], card["opening_text"]) == (is_open, text)
    assert text in response.content.decode()


@pytest.mark.django_db
def test_htmx_gets_only_the_results(stores: dict[str, Store]) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        full = Client().get("/en/stores/?province=BC")
        partial = Client().get("/en/stores/?province=BC", headers={"HX-Request": "true"})
        restore = Client().get(
            "/en/stores/?province=BC",
            headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
        )

    assert "<html" in full.content.decode()
    body = partial.content.decode()
    assert "<html" not in body
    assert "<form" not in body
    assert "Vancouver Cambie" in body
    assert "Toronto Chinatown" not in body
    assert "HX-Request" in partial["Vary"]
    assert "<html" in restore.content.decode()


@pytest.mark.django_db
def test_each_store_has_its_address_phone_map_and_services(stores: dict[str, Store]) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        body = Client().get("/en/stores/").content.decode()

    assert 'href="tel:+14169770100"' in body
    assert "(416) 977-0100" in body
    # With coordinates: the pin; without: an address search.
    assert "https://www.openstreetmap.org/?mlat=43.654120&amp;mlon=-79.398530" in body
    assert (
        "https://www.openstreetmap.org/search?query=3311%20Cambie%20St%2C%20Vancouver%2C%20BC"
        "%2C%20V5Z%202W6"
    ) in body
    assert "British Columbia" in body
    assert "SIM sales" in body
    assert "Vouchers" in body
    assert "11:00\u201314:00, 15:00\u201318:00" in body  # Saturday's two periods
    assert "<script src=" in body
    assert "htmx" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Trouver un magasin", "Ouvert", "Colombie-Britannique", "Renouvellements"]),
        ("zh-hans", ["查找门店", "营业中", "不列颠哥伦比亚省", "续费"]),
    ],
)
def test_the_locator_is_translated(
    stores: dict[str, Store], language: str, words: list[str]
) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        body = Client().get(f"/{language}/stores/").content.decode()

    for word in words:
        assert word in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "city=Atlantis",
        "province=ZZ",
        "service=%3Cscript%3E",
        "open_now=maybe",
        "city=" + "x" * 5000,
        "province=%00",
    ],
)
def test_bad_filters_show_every_store_and_never_fail(stores: dict[str, Store], query: str) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        response = Client().get(f"/en/stores/?{query}")

    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


@pytest.mark.django_db
def test_the_locator_takes_get_only(stores: dict[str, Store]) -> None:
    assert Client().post("/en/stores/").status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hours", "moment", "text"),
    [
        ({"mon": [["18:00", "24:00"]]}, MONDAY_NOON.replace(hour=20), "Open now · closes at 24:00"),
        (
            {"mon": [["18:00", "24:00"]], "tue": [["00:00", "02:00"]]},
            MONDAY_NOON.replace(hour=23),
            "Open now · closes tomorrow at 02:00",
        ),
        ({day: [["00:00", "24:00"]] for day in DAYS}, MONDAY_NOON, "Open 24 hours"),
        ({}, MONDAY_NOON, "Closed"),
    ],
)
def test_closing_at_midnight_overnight_and_around_the_clock(
    make_store: Callable[..., Store],
    hours: dict[str, list[list[str]]],
    moment: dt.datetime,
    text: str,
) -> None:
    make_store("TOR-01", hours=hours)

    with time_machine.travel(moment, tick=False):
        response = Client().get("/en/stores/")

    assert response.context["cards"][0]["opening_text"] == text
