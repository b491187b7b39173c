"""The catalog in the back office: plans and add-ons in three languages, prices formatted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind, Zone
from simcare.kit.iccid import make_iccid
from simcare.lines import services
from simcare.lines.models import Number, SimCard, SimKind

pytestmark = pytest.mark.django_db

PLAN_FORM: dict[str, Any] = {
    "code": "travel15",
    "price_cents": "1999",
    "validity_days": "15",
    "is_active": "on",
    "sort_order": "20",
    "reactivation_fee_cents": "500",
    "name_en": "Travel 15 days",
    "description_en": "For short stays.",
    "name_fr": "Voyage 15 jours",
    "description_fr": "Pour les courts séjours.",
    "name_zh_hans": "旅行15天",
    "description_zh_hans": "短期停留。",
    "data_mb": "5120",
    "voice_minutes": "",
    "sms_messages": "",
    "overage_data_cents_per_mb": "1",
    "overage_voice_cents_per_minute": "0",
    "overage_sms_cents": "0",
    "us_data_cents_per_mb": "2",
    "us_voice_cents_per_minute": "25",
    "us_sms_cents": "10",
    "intl_data_cents_per_mb": "5",
    "intl_voice_cents_per_minute": "100",
    "intl_sms_cents": "25",
}


def _addon(**overrides: Any) -> AddOn:
    fields: dict[str, Any] = {
        "code": "data5",
        "name_en": "5 GB data top-up",
        "name_fr": "Recharge de données 5 Go",
        "name_zh_hans": "5GB流量包",
        "kind": UsageKind.DATA,
        "quantity": 5120,
        "price_cents": 1500,
        "validity_days": 30,
    }
    fields.update(overrides)
    return AddOn.objects.create(**fields)


def test_the_plan_list_shows_formatted_prices_and_allowances(
    admin_client_verified: Client, plan: Plan
) -> None:
    response = admin_client_verified.get("/en/admin/catalog/plan/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "$35.00" in content
    assert "20,480 MB" in content
    assert "Canada 30 days" in content


def test_adding_a_plan_stores_all_three_languages(admin_client_verified: Client) -> None:
    # when
    response = admin_client_verified.post("/en/admin/catalog/plan/add/", PLAN_FORM)

    # then
    assert response.status_code == 302
    plan = Plan.objects.get(code="travel15")
    assert (plan.name_en, plan.name_fr, plan.name_zh_hans) == (
        "Travel 15 days",
        "Voyage 15 jours",
        "旅行15天",
    )
    assert plan.description_fr == "Pour les courts séjours."
    assert plan.price_cents == 1999
    assert plan.voice_minutes is None
    assert plan.data_mb == 5120


def test_the_plan_form_groups_the_languages_in_tabs_and_shows_the_price(
    admin_client_verified: Client, plan: Plan
) -> None:
    response = admin_client_verified.get(f"/en/admin/catalog/plan/{plan.pk}/change/")

    assert response.status_code == 200
    content = response.content.decode()
    for field in ("name_en", "name_fr", "name_zh_hans", "description_zh_hans"):
        assert f'name="{field}"' in content
    assert "fieldset-english" in content
    assert "fieldset-french" in content
    assert "$35.00" in content


def test_a_plan_with_zero_validity_is_refused_and_nothing_is_stored(
    admin_client_verified: Client,
) -> None:
    response = admin_client_verified.post(
        "/en/admin/catalog/plan/add/", {**PLAN_FORM, "validity_days": "0"}
    )

    assert response.status_code == 200
    assert "validity_days" in response.context["adminform"].form.errors
    assert 'value="Voyage 15 jours"' in response.content.decode()
    assert Plan.objects.count() == 0


def test_plans_are_found_by_any_of_their_names_and_filtered(
    admin_client_verified: Client, make_plan: Callable[..., Plan]
) -> None:
    # given
    make_plan(code="keep365", name_fr="Garde du numéro", keeps_number=True)
    make_plan(code="talk30", name_zh_hans="通话套餐", is_active=False)

    # when
    by_french = admin_client_verified.get("/en/admin/catalog/plan/", {"q": "Garde"})
    by_chinese = admin_client_verified.get("/en/admin/catalog/plan/", {"q": "通话"})
    keeping = admin_client_verified.get("/en/admin/catalog/plan/", {"keeps_number__exact": "1"})
    off_sale = admin_client_verified.get("/en/admin/catalog/plan/", {"is_active__exact": "0"})

    # then
    def codes(response: Any) -> list[str]:
        assert response.status_code == 200
        return [plan.code for plan in response.context["cl"].result_list]

    assert codes(by_french) == ["keep365"]
    assert codes(by_chinese) == ["talk30"]
    assert codes(keeping) == ["keep365"]
    assert codes(off_sale) == ["talk30"]


def test_on_sale_and_sort_order_are_edited_in_the_list(
    admin_client_verified: Client, make_plan: Callable[..., Plan]
) -> None:
    # given
    first = make_plan(code="alpha", sort_order=10)
    second = make_plan(code="beta", sort_order=20)

    # when
    response = admin_client_verified.post(
        "/en/admin/catalog/plan/",
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(first.pk),
            "form-0-sort_order": "30",
            "form-0-is_active": "",
            "form-1-id": str(second.pk),
            "form-1-sort_order": "5",
            "form-1-is_active": "on",
            "_save": "Save",
        },
    )

    # then
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_active, first.sort_order) == (False, 30)
    assert (second.is_active, second.sort_order) == (True, 5)


def test_the_addon_list_shows_price_quantity_and_filters_by_kind(
    admin_client_verified: Client,
) -> None:
    # given
    _addon()
    _addon(
        code="ld100",
        name_en="100 US minutes",
        name_fr="100 minutes vers les É.-U.",
        name_zh_hans="美国通话100分钟",
        kind=UsageKind.VOICE,
        quantity=100,
        price_cents=500,
        zone=Zone.US,
    )

    # when
    everything = admin_client_verified.get("/en/admin/catalog/addon/")
    voice = admin_client_verified.get("/en/admin/catalog/addon/", {"kind__exact": "voice"})
    by_name = admin_client_verified.get("/en/admin/catalog/addon/", {"q": "Recharge"})

    # then
    assert everything.status_code == 200
    content = everything.content.decode()
    assert "$15.00" in content
    assert "5,120 MB" in content
    assert "100 min" in content
    assert [addon.code for addon in voice.context["cl"].result_list] == ["ld100"]
    assert [addon.code for addon in by_name.context["cl"].result_list] == ["data5"]


def test_prices_follow_the_admins_language(admin_client_verified: Client, plan: Plan) -> None:
    response = admin_client_verified.get("/fr/admin/catalog/plan/")

    assert response.status_code == 200
    assert "35,00\u00a0$" in response.content.decode()


def test_a_plan_on_a_line_cannot_be_deleted(
    admin_client_verified: Client, plan: Plan, subscriber: Subscriber
) -> None:
    # given
    Number.objects.create(msisdn="+16475550100")
    sim = SimCard.objects.create(
        iccid=make_iccid("891230000077777777"), kind=SimKind.PHYSICAL, location="WAREHOUSE"
    )
    services.activate_line(subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None, sim=sim)

    # when
    response = admin_client_verified.post(
        f"/en/admin/catalog/plan/{plan.pk}/delete/", {"post": "yes"}
    )

    # then
    assert response.status_code == 200
    assert Plan.objects.filter(pk=plan.pk).exists()
