"""The profile page: language, how we reach the subscriber, marketing consent, the PIN."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from simcare.accounts import services as account_services
from simcare.accounts.models import AuditEvent, Subscriber
from simcare.accounts.preferences import MARKETING_CONSENT_WORDING_VERSION

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _choices(**overrides: str) -> dict[str, str]:
    form = {"language": "en", "email_notifications": "on", "sms_notifications": "on"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value}


def test_the_profile_shows_the_identity_document_masked_never_whole(
    lin: Subscriber, lin_client: Client
) -> None:
    # given
    lin.id_document_type = "study_permit"
    lin.id_document_number = "S12345678"
    lin.date_of_birth = dt.date(2001, 4, 5)
    lin.save()

    # when
    page = lin_client.get("/en/portal/profile/").content.decode()

    # then
    assert "Study permit" in page
    assert lin.id_document_number_masked in page
    assert "S12345678" not in page
    assert "2345678" not in page.replace(lin.id_document_number_masked, "")
    assert "lin@example.com" in page


def test_saving_preferences_switches_the_language_and_remembers_it(
    lin: Subscriber, lin_client: Client
) -> None:
    # when
    response = lin_client.post("/en/portal/profile/", _choices(language="fr", sms_notifications=""))

    # then
    assert response.status_code == 302
    assert response["Location"] == "/fr/portal/profile/"
    assert response.cookies["simcare_language"].value == "fr"
    lin.refresh_from_db()
    lin.user.refresh_from_db()
    assert lin.user.language == "fr"
    assert lin.email_notifications_enabled is True
    assert lin.sms_notifications_enabled is False
    page = lin_client.get("/fr/portal/profile/").content.decode()
    assert "Vos préférences sont enregistrées." in page
    event = AuditEvent.objects.get(action="subscriber.preferences_changed")
    assert event.data == {"language": "fr", "sms_notifications": False}


def test_marketing_consent_is_recorded_with_time_channel_and_wording_then_withdrawn(
    lin: Subscriber, lin_client: Client
) -> None:
    # when
    lin_client.post("/en/portal/profile/", _choices(marketing_consent="on"))

    # then
    lin.refresh_from_db()
    assert lin.marketing_consent_at is not None
    assert lin.marketing_consent_channel == "web"
    assert lin.marketing_consent_wording_version == MARKETING_CONSENT_WORDING_VERSION
    given_at = lin.marketing_consent_at

    # saving again keeps the first consent's time
    lin_client.post("/en/portal/profile/", _choices(marketing_consent="on"))
    lin.refresh_from_db()
    assert lin.marketing_consent_at == given_at

    # withdrawn
    lin_client.post("/en/portal/profile/", _choices())
    lin.refresh_from_db()
    assert lin.marketing_consent_at is None
    assert lin.marketing_consent_wording_version == ""
    withdrawn = AuditEvent.objects.filter(action="subscriber.preferences_changed").last()
    assert withdrawn is not None
    assert withdrawn.data["marketing_consent"] is False
    assert withdrawn.data["consent_withdrawn_given_at"] == given_at.isoformat()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (_choices(language="de"), "Choose a language from the list."),
        (_choices(email_notifications="", sms_notifications=""), "Keep email or text messages on"),
    ],
)
def test_bad_preferences_are_refused_with_a_clear_message_and_change_nothing(
    lin: Subscriber, lin_client: Client, form: dict[str, str], message: str
) -> None:
    response = lin_client.post("/en/portal/profile/", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    lin.refresh_from_db()
    lin.user.refresh_from_db()
    assert lin.user.language == "en"
    assert lin.email_notifications_enabled is True
    assert lin.sms_notifications_enabled is True
    assert not AuditEvent.objects.filter(action="subscriber.preferences_changed").exists()


def test_the_only_channel_left_must_have_an_address(
    make_subscriber: object,
) -> None:
    subscriber = make_subscriber(username="nophone", email="np@example.com", phone=None)  # type: ignore[operator]
    from tests.conftest import signed_in_client

    client = signed_in_client(subscriber.user)
    response = client.post("/en/portal/profile/", _choices(email_notifications=""))
    assert "We have no address for the only channel you chose." in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.email_notifications_enabled is True


def test_refusals_are_translated(lin_client: Client) -> None:
    french = lin_client.post("/fr/portal/profile/", _choices(language="xx")).content.decode()
    chinese = lin_client.post("/zh-hans/portal/profile/", _choices(language="xx")).content.decode()
    assert "Choisissez une langue dans la liste." in french
    assert "请从列表中选择一种语言。" in chinese


def test_changing_the_pin_needs_the_password_and_4_to_8_digits(
    lin: Subscriber, lin_client: Client
) -> None:
    # refused: nothing changes
    for form, message in [
        (
            {"pin": "1234", "pin_again": "1234", "password": "wrong"},
            "Your password is not correct.",
        ),
        (
            {"pin": "12a4", "pin_again": "12a4", "password": PASSWORD},
            "The PIN must be 4 to 8 digits.",
        ),
        (
            {"pin": "123", "pin_again": "123", "password": PASSWORD},
            "The PIN must be 4 to 8 digits.",
        ),
        (
            {"pin": "1234", "pin_again": "4321", "password": PASSWORD},
            "The two PINs are not the same.",
        ),
    ]:
        response = lin_client.post("/en/portal/profile/pin/", form)
        assert response.status_code == 200
        assert message in response.content.decode()
    lin.refresh_from_db()
    assert lin.account_pin_hash == ""

    # accepted
    response = lin_client.post(
        "/en/portal/profile/pin/", {"pin": "482913", "pin_again": "482913", "password": PASSWORD}
    )
    assert response.status_code == 302
    lin.refresh_from_db()
    assert account_services.check_account_pin(lin, "482913")
    event = AuditEvent.objects.get(action="subscriber.pin_changed")
    assert "482913" not in str(event.data)
    assert lin_client.get("/en/portal/profile/pin/").status_code == 405
