"""People in the back office: users and roles, subscribers, the audit log, TOTP devices,
and the sidebar that groups it all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client, RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.accounts.services import record_audit
from simcare.admin_site import sidebar_navigation
from simcare.ops.models import JobRun
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def result_list(client: Client, url: str, query: dict[str, str] | None = None) -> list[Any]:
    response = client.get(url, query or {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- users ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["lin.wei", "lin.wei@example.com", "+14165550142", "416-555-0142"])
def test_users_are_found_by_username_email_or_mobile_number(
    admin_client_verified: Client, make_subscriber: Callable[..., Subscriber], term: str
) -> None:
    lin = make_subscriber(username="lin.wei", email="lin.wei@example.com", phone="+14165550142")
    make_subscriber(username="other", email="other@example.com", phone="+14165550143")

    assert result_list(admin_client_verified, "/en/admin/accounts/user/", {"q": term}) == [lin.user]


def test_the_user_list_shows_roles_and_filters_by_role_staff_and_language(
    admin_client_verified: Client,
    make_subscriber: Callable[..., Subscriber],
    make_staff: Callable[..., User],
) -> None:
    # given
    lin = make_subscriber(username="lin.wei", language="zh-hans")
    clerk = make_staff(Role.CLERK, username="clerk.tor")
    clerks = Group.objects.get(name=Role.CLERK)

    # when
    listing = admin_client_verified.get("/en/admin/accounts/user/")
    by_role = result_list(
        admin_client_verified, "/en/admin/accounts/user/", {"groups__id__exact": str(clerks.pk)}
    )
    by_language = result_list(
        admin_client_verified, "/en/admin/accounts/user/", {"language__exact": "zh-hans"}
    )

    # then
    assert "Store clerk" in listing.content.decode()
    assert by_role == [clerk]
    assert by_language == [lin.user]


def test_an_administrator_adds_a_user_with_email_phone_and_language(
    admin_client_verified: Client,
) -> None:
    # when
    response = admin_client_verified.post(
        "/en/admin/accounts/user/add/",
        {
            "username": "agent.new",
            "email": "agent.new@example.com",
            "phone": "(647) 555-0177",
            "language": "fr",
            "usable_password": "true",
            "password1": "a long and unusual passphrase 7",
            "password2": "a long and unusual passphrase 7",
        },
    )

    # then
    assert response.status_code == 302
    user = User.objects.get(username="agent.new")
    assert (user.email, user.phone, user.language) == (
        "agent.new@example.com",
        "+16475550177",
        "fr",
    )
    assert user.check_password("a long and unusual passphrase 7")


def test_a_user_with_a_taken_email_is_refused(
    admin_client_verified: Client, make_subscriber: Callable[..., Subscriber]
) -> None:
    make_subscriber(email="taken@example.com")
    count = User.objects.count()

    response = admin_client_verified.post(
        "/en/admin/accounts/user/add/",
        {
            "username": "someone",
            "email": "TAKEN@example.com",
            "language": "en",
            "usable_password": "true",
            "password1": "a long and unusual passphrase 7",
            "password2": "a long and unusual passphrase 7",
        },
    )

    assert response.status_code == 200
    assert User.objects.count() == count


def test_user_group_and_device_admins_use_the_unfold_theme() -> None:
    for model in (User, Group, TOTPDevice, Subscriber, AuditEvent):
        assert isinstance(admin.site._registry[model], ModelAdmin), model


def test_the_totp_device_pages_open_and_an_unknown_device_is_a_404(
    admin_client_verified: Client, make_staff: Callable[..., User]
) -> None:
    device = TOTPDevice.objects.get(user=make_staff(Role.AGENT))

    assert admin_client_verified.get("/en/admin/otp_totp/totpdevice/").status_code == 200
    config = admin_client_verified.get(f"/en/admin/otp_totp/totpdevice/{device.pk}/config/")
    assert config.status_code == 200
    assert "otpauth://totp/" in config.content.decode()
    assert (
        admin_client_verified.get("/en/admin/otp_totp/totpdevice/99999/config/").status_code == 404
    )
    assert (
        admin_client_verified.get("/en/admin/otp_totp/totpdevice/99999/qrcode/").status_code == 404
    )


# --- subscribers ---------------------------------------------------------------------------------


def test_subscribers_are_found_by_their_user_and_filtered(
    admin_client_verified: Client, make_subscriber: Callable[..., Subscriber]
) -> None:
    # given
    # A 613 number: the fixture's own numbers are +1416555NNNN and could match a 416 one.
    lin = make_subscriber(username="lin.wei", phone="+16135550142", language="zh-hans")
    marie = make_subscriber(username="marie", language="fr", province="QC")
    Subscriber.objects.filter(pk=marie.pk).update(is_vip=True)
    url = "/en/admin/accounts/subscriber/"

    # then
    assert result_list(admin_client_verified, url, {"q": "(613) 555-0142"}) == [lin]
    assert result_list(admin_client_verified, url, {"q": "lin.wei"}) == [lin]
    assert result_list(admin_client_verified, url, {"is_vip__exact": "1"}) == [marie]
    assert result_list(admin_client_verified, url, {"province": "QC"}) == [marie]
    assert result_list(admin_client_verified, url, {"user__language__exact": "zh-hans"}) == [lin]


def test_subscribers_are_neither_added_nor_deleted_in_the_admin(
    admin_client_verified: Client, subscriber: Subscriber
) -> None:
    add = admin_client_verified.get("/en/admin/accounts/subscriber/add/")
    delete = admin_client_verified.post(
        f"/en/admin/accounts/subscriber/{subscriber.pk}/delete/", {"post": "yes"}
    )

    assert (add.status_code, delete.status_code) == (403, 403)
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_the_account_pin_hash_is_not_in_the_subscriber_form(
    admin_client_verified: Client, subscriber: Subscriber
) -> None:
    response = admin_client_verified.get(f"/en/admin/accounts/subscriber/{subscriber.pk}/change/")

    assert response.status_code == 200
    assert "account_pin_hash" not in response.content.decode()


# --- the audit log -------------------------------------------------------------------------------


def test_audit_events_can_be_read_but_not_added_changed_or_deleted(
    admin_client_verified: Client, subscriber: Subscriber
) -> None:
    # given
    event = AuditEvent.objects.get(action="subscriber.created", object_id=str(subscriber.pk))
    url = f"/en/admin/accounts/auditevent/{event.pk}/"

    # when
    listing = admin_client_verified.get("/en/admin/accounts/auditevent/")
    detail = admin_client_verified.get(url + "change/")
    edit = admin_client_verified.post(url + "change/", {"action": "forged"})
    delete = admin_client_verified.post(url + "delete/", {"post": "yes"})
    add = admin_client_verified.get("/en/admin/accounts/auditevent/add/")

    # then
    assert (listing.status_code, detail.status_code) == (200, 200)
    assert (edit.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    event.refresh_from_db()
    assert event.action == "subscriber.created"


def test_audit_events_filter_by_action(
    admin_client_verified: Client, subscriber: Subscriber
) -> None:
    revealed = record_audit("subscriber.id_document_revealed", actor=None, target=subscriber)

    events = result_list(
        admin_client_verified,
        "/en/admin/accounts/auditevent/",
        {"action": "subscriber.id_document_revealed"},
    )

    assert events == [revealed]


# --- the sidebar ---------------------------------------------------------------------------------


def _sidebar(user: User) -> dict[str, list[str]]:
    request = RequestFactory().get("/en/admin/")
    request.user = user
    return {
        str(section["title"]): [str(item["link"]) for item in section["items"]]
        for section in sidebar_navigation(request)
    }


def test_the_sidebar_groups_the_back_office_for_an_administrator(
    make_staff: Callable[..., User],
) -> None:
    sections = _sidebar(make_staff(Role.ADMIN))

    assert list(sections)[:6] == [
        "Catalog",
        "Lines & stock",
        "Customers",
        "Money",
        "Notifications",
        "Operations",
    ]
    assert sections["Catalog"] == ["/en/admin/catalog/plan/", "/en/admin/catalog/addon/"]
    assert "/en/admin/stores/store/" in sections["Lines & stock"]
    assert sections["Notifications"] == ["/en/admin/notify/notification/"]
    assert "/en/admin/accounts/auditevent/" in sections["Operations"]
    assert "/en/admin/otp_totp/totpdevice/" in sections["Operations"]


def test_the_sidebar_shows_staff_only_what_they_may_see(make_staff: Callable[..., User]) -> None:
    agent = make_staff(Role.AGENT)
    assert _sidebar(agent) == {}

    agent.user_permissions.add(Permission.objects.get(codename="view_plan"))
    agent = User.objects.get(pk=agent.pk)  # drop the cached permissions

    assert _sidebar(agent) == {"Catalog": ["/en/admin/catalog/plan/"]}


def test_the_admin_index_renders_the_sidebar(admin_client_verified: Client) -> None:
    content = admin_client_verified.get("/en/admin/").content.decode()

    assert 'href="/en/admin/catalog/plan/"' in content
    assert 'href="/en/admin/ops/jobrun/"' in content


# --- operations ----------------------------------------------------------------------------------


def test_job_runs_are_listed_read_only(admin_client_verified: Client) -> None:
    call_command("jobs", "run", "heartbeat")
    run = JobRun.objects.get()

    runs = result_list(admin_client_verified, "/en/admin/ops/jobrun/", {"job": "heartbeat"})
    edit = admin_client_verified.post(f"/en/admin/ops/jobrun/{run.pk}/change/", {"job": "x"})

    assert runs == [run]
    assert edit.status_code == 403
    assert admin_client_verified.get("/en/admin/ops/workerheartbeat/").status_code == 200


def test_agents_signed_in_see_no_model_in_the_admin(make_staff: Callable[..., User]) -> None:
    client = signed_in_client(make_staff(Role.CLERK))

    assert client.get("/en/admin/ops/jobrun/").status_code == 403
