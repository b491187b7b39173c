"""Stores in the back office: opening hours checked for shape, services from a fixed set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from simcare.accounts.models import Role, User
from simcare.stores.admin import validate_hours
from simcare.stores.models import Store

CLOSED_WEEK = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def test_hours_get_all_seven_days_in_order_and_missing_days_are_closed() -> None:
    hours = validate_hours(
        {"sat": [["11:00", "14:00"], ["15:00", "18:00"]], "mon": [["10:00", "24:00"]]}
    )

    assert list(hours) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert hours == {
        **CLOSED_WEEK,
        "mon": [["10:00", "24:00"]],
        "sat": [["11:00", "14:00"], ["15:00", "18:00"]],
    }


@pytest.mark.parametrize(
    ("hours", "code"),
    [
        ([["10:00", "19:00"]], "hours_not_object"),
        ({"monday": [["10:00", "19:00"]]}, "hours_unknown_day"),
        ({"mon": ["10:00", "19:00"]}, "hours_bad_period"),
        ({"mon": "10:00-19:00"}, "hours_day_not_list"),
        ({"mon": [["10:00"]]}, "hours_bad_period"),
        ({"mon": [["10:00", "19:00", "20:00"]]}, "hours_bad_period"),
        ({"mon": [["9:00", "19:00"]]}, "hours_bad_period"),
        ({"mon": [["10:00", "25:00"]]}, "hours_bad_period"),
        ({"mon": [["10:60", "19:00"]]}, "hours_bad_period"),
        ({"mon": [[10, 19]]}, "hours_bad_period"),
        ({"mon": [["19:00", "10:00"]]}, "hours_inverted"),
        ({"mon": [["10:00", "10:00"]]}, "hours_inverted"),
        ({"mon": [["24:00", "24:00"]]}, "hours_inverted"),
        ({"mon": [["10:00", "14:00"], ["13:00", "18:00"]]}, "hours_overlap"),
        ({"mon": [["15:00", "18:00"], ["10:00", "14:00"]]}, "hours_overlap"),
    ],
)
def test_hours_of_the_wrong_shape_are_refused_with_a_reason(hours: Any, code: str) -> None:
    with pytest.raises(ValidationError) as refusal:
        validate_hours(hours)

    assert refusal.value.code == code


STORE_FORM: dict[str, Any] = {
    "code": "VAN-01",
    "name": "Vancouver Robson",
    "is_active": "on",
    "phone": "+16045550100",
    "address": "800 Robson St",
    "city": "Vancouver",
    "province": "BC",
    "postal_code": "V6Z 3B7",
    "latitude": "",
    "longitude": "",
    "hours": '{"sun": [], "mon": [["10:00", "19:00"]]}',
    "services": ["vouchers", "sim_sales"],
}


@pytest.mark.django_db
def test_adding_a_store_stores_normalized_hours_and_services(
    admin_client_verified: Client, make_staff: Callable[..., User]
) -> None:
    # given
    clerk = make_staff(Role.CLERK)

    # when
    response = admin_client_verified.post(
        "/en/admin/stores/store/add/", {**STORE_FORM, "clerks": [str(clerk.pk)]}
    )

    # then
    assert response.status_code == 302
    store = Store.objects.get(code="VAN-01")
    assert store.hours == {**CLOSED_WEEK, "mon": [["10:00", "19:00"]]}
    assert store.services == ["sim_sales", "vouchers"]
    assert list(store.clerks.all()) == [clerk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hours", '{"mon": [["19:00", "10:00"]]}'),
        ("hours", "not json"),
        ("services", ["sim_sales", "car_wash"]),
    ],
)
def test_a_store_with_bad_hours_or_services_is_refused_and_nothing_is_stored(
    admin_client_verified: Client, field: str, value: Any
) -> None:
    response = admin_client_verified.post(
        "/en/admin/stores/store/add/", {**STORE_FORM, field: value}
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert 'value="Vancouver Robson"' in response.content.decode()
    assert Store.objects.count() == 0


@pytest.mark.django_db
def test_only_clerks_can_be_assigned_to_a_store(
    admin_client_verified: Client, make_staff: Callable[..., User]
) -> None:
    agent = make_staff(Role.AGENT)

    response = admin_client_verified.post(
        "/en/admin/stores/store/add/", {**STORE_FORM, "clerks": [str(agent.pk)]}
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["clerks"]
    assert Store.objects.count() == 0
