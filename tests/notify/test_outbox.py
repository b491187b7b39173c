"""The outbox job: real SMTP (aiosmtpd), the file SMS backend, languages, skips and retries."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection, connections

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line, SimKind
from simcare.notify import services
from simcare.notify.models import Notification, NotificationStatus
from simcare.ops.jobs import discover, run_job
from tests.lines.lifecycle_support import add_number, add_sim
from tests.notify.conftest import RecordingHandler

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
# 02:00 UTC is still the evening before in Toronto: the dates below prove the time zone.
START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SEND_TIME = START + MINUTE
MSISDN = "+16475550142"
MSISDN_DISPLAY = "(647) 555-0142"


@pytest.fixture(autouse=True)
def _jobs() -> None:
    discover()


def activate(subscriber: Subscriber, plan: Plan, *, kind: SimKind = SimKind.PHYSICAL) -> Line:
    from simcare.lines import services as line_services

    add_number(MSISDN)
    add_sim(kind)
    return line_services.activate_line(subscriber, plan, kind=kind, acting_user=None, now=START)


def run_outbox(moment: dt.datetime) -> dict[str, Any]:
    with time_machine.travel(moment, tick=False):
        return run_job("outbox")


def sms_lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows() -> dict[str, Notification]:
    return {row.channel: row for row in Notification.objects.all()}


# The period ends 2026-04-01 02:00 UTC = 2026-03-31 22:00 in Toronto (EDT).
DATES = {
    "en": ("March 31, 2026", "March 31, 2026, 10 p.m."),
    "fr": ("31 mars 2026", "31 mars 2026 22:00"),
    "zh-hans": ("2026年3月31日", "2026年3月31日 22:00"),
}


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_outbox_sends_email_by_smtp_and_sms_to_file_in_the_recipients_language(
    *,
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    smtp_server: RecordingHandler,
    sms_file: Path,
    settings: Any,
    language: str,
) -> None:
    # given
    subscriber = make_subscriber(
        language=language, email="lin.wei@example.com", phone="+14165550100", first_name="Wei"
    )
    activate(subscriber, plan)
    date, date_time = DATES[language]

    # when
    summary = run_outbox(SEND_TIME)

    # then
    assert summary == {"sent": 2, "skipped": 0, "failed": 0, "retry": 0, "cancelled": 0}
    assert smtp_server.envelopes == [("no-reply@simcare.local", ["lin.wei@example.com"])]
    message = smtp_server.messages[0]
    assert message["To"] == "lin.wei@example.com"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Content-Language"] == language
    assert message["Auto-Submitted"] == "auto-generated"
    assert MSISDN_DISPLAY in message["Subject"]
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    text = text_part.get_content()
    assert MSISDN_DISPLAY in text
    assert date_time in text
    assert f"http://127.0.0.1:8000/{language}/portal/" in text
    assert MSISDN_DISPLAY in html_part.get_content()
    assert f'<html lang="{language}">' in html_part.get_content()

    sent_sms = sms_lines(sms_file)
    assert [entry["to"] for entry in sent_sms] == ["+14165550100"]
    assert MSISDN_DISPLAY in sent_sms[0]["body"]
    assert date in sent_sms[0]["body"]

    stored = rows()
    assert {channel: row.status for channel, row in stored.items()} == {
        "email": "sent",
        "sms": "sent",
    }
    assert (stored["email"].address, stored["email"].sent_at, stored["email"].attempts) == (
        "lin.wei@example.com",
        SEND_TIME,
        1,
    )
    assert stored["email"].subject == message["Subject"]
    assert stored["email"].body == text.replace("\r\n", "\n")
    assert (stored["sms"].address, stored["sms"].body, stored["sms"].subject) == (
        "+14165550100",
        sent_sms[0]["body"],
        "",
    )
    assert stored["sms"].language == language


def test_english_texts_use_the_english_message_ids(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    activate(subscriber, plan)

    run_outbox(SEND_TIME)

    assert smtp_server.messages[0]["Subject"] == f"Your line {MSISDN_DISPLAY} is active"
    assert sms_lines(sms_file)[0]["body"] == (
        f'simcare: your line {MSISDN_DISPLAY} is active on "Canada 30 days" until March 31, 2026.'
    )


def test_rendered_in_the_language_the_recipient_has_when_it_is_sent(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    # given: queued in English, then the customer switches to French
    activate(subscriber, plan)
    subscriber.user.language = "fr"
    subscriber.user.save(update_fields=["language"])

    # when
    run_outbox(SEND_TIME)

    # then
    assert smtp_server.messages[0]["Content-Language"] == "fr"
    assert "31 mars 2026" in sms_lines(sms_file)[0]["body"]
    assert set(Notification.objects.values_list("language", flat=True)) == {"fr"}


def test_esim_email_carries_the_activation_code_and_its_qr_but_nothing_else_does(
    subscriber: Subscriber,
    plan: Plan,
    smtp_server: RecordingHandler,
    sms_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given
    import zxingcpp
    from PIL import Image

    line = activate(subscriber, plan, kind=SimKind.ESIM)
    code = line.sim.activation_code
    assert code.startswith("LPA:1$smdp.example.com$")

    # when
    run_outbox(SEND_TIME)

    # then: the email has it, as text and as a QR code of exactly that string
    message = smtp_server.messages[0]
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part is not None
    assert code in text_part.get_content()
    attachments = list(message.iter_attachments())
    assert [part.get_filename() for part in attachments] == ["esim-qr.png"]
    import io

    image = Image.open(io.BytesIO(attachments[0].get_content()))
    assert [result.text for result in zxingcpp.read_barcodes(image)] == [code]
    # and the SMS, the stored copies and the logs do not
    assert code not in sms_lines(sms_file)[0]["body"]
    stored = rows()
    assert code not in stored["email"].body
    assert "[hidden]" in stored["email"].body
    assert code not in caplog.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("email_opt_out", {"email": ("skipped", "opted out of email"), "sms": ("sent", "")}),
        ("sms_opt_out", {"email": ("sent", ""), "sms": ("skipped", "opted out of SMS")}),
        ("no_email", {"email": ("skipped", "no email address"), "sms": ("sent", "")}),
        ("no_phone", {"email": ("sent", ""), "sms": ("skipped", "no mobile number")}),
        (
            "inactive",
            {"email": ("skipped", "no recipient"), "sms": ("skipped", "no recipient")},
        ),
    ],
)
def test_opted_out_or_unreachable_recipients_are_skipped(
    *,
    subscriber: Subscriber,
    plan: Plan,
    smtp_server: RecordingHandler,
    sms_file: Path,
    change: str,
    expected: dict[str, tuple[str, str]],
) -> None:
    # given
    activate(subscriber, plan)
    user = subscriber.user
    if change == "email_opt_out":
        subscriber.email_notifications_enabled = False
        subscriber.save()
    elif change == "sms_opt_out":
        subscriber.sms_notifications_enabled = False
        subscriber.save()
    elif change == "no_email":
        user.email = None
        user.save()
    elif change == "no_phone":
        user.phone = None
        user.save()
    elif change == "inactive":
        user.is_active = False
        user.save()

    # when
    run_outbox(SEND_TIME)

    # then
    assert {channel: (row.status, row.last_error) for channel, row in rows().items()} == expected
    assert len(smtp_server.messages) == (1 if expected["email"][0] == "sent" else 0)
    assert len(sms_lines(sms_file)) == (1 if expected["sms"][0] == "sent" else 0)
    assert all(row.body == "" for row in rows().values() if row.status == "skipped")


def test_a_notification_without_a_recipient_is_skipped(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    activate(subscriber, plan)
    Notification.objects.update(recipient=None)

    summary = run_outbox(SEND_TIME)

    assert summary == {"sent": 0, "skipped": 2, "failed": 0, "retry": 0, "cancelled": 0}
    assert smtp_server.messages == []


def test_smtp_failures_are_retried_with_backoff_then_marked_failed(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    # given: the mail server refuses the mailbox for now
    activate(subscriber, plan)
    smtp_server.refuse.add(subscriber.user.email or "")
    moment = SEND_TIME
    schedule = []

    # when: each run comes when the row is due again
    for _ in range(5):
        run_outbox(moment)
        email_row = Notification.objects.get(channel="email")
        schedule.append((email_row.status, email_row.attempts, email_row.send_after - moment))
        # A run before the row is due again leaves it alone.
        run_outbox(moment + dt.timedelta(seconds=30))
        assert Notification.objects.get(channel="email").attempts == email_row.attempts
        moment = email_row.send_after

    # then
    assert schedule == [
        ("queued", 1, dt.timedelta(minutes=1)),
        ("queued", 2, dt.timedelta(minutes=5)),
        ("queued", 3, dt.timedelta(minutes=30)),
        ("queued", 4, dt.timedelta(hours=2)),
        ("failed", 5, dt.timedelta(minutes=5)),  # the claim lease; no further send
    ]
    email_row = Notification.objects.get(channel="email")
    assert email_row.last_error.startswith("SMTPRecipientsRefused")
    assert email_row.sent_at is None
    assert smtp_server.messages == []
    assert Notification.objects.get(channel="sms").status == "sent"
    assert len(sms_lines(sms_file)) == 1


def test_a_retry_that_succeeds_is_sent(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    # given: one failure
    activate(subscriber, plan)
    smtp_server.refuse.add(subscriber.user.email or "")
    run_outbox(SEND_TIME)
    smtp_server.refuse.clear()

    # when
    summary = run_outbox(SEND_TIME + 2 * MINUTE)

    # then
    assert summary == {"sent": 1, "skipped": 0, "failed": 0, "retry": 0, "cancelled": 0}
    row = Notification.objects.get(channel="email")
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(smtp_server.messages) == 1


def test_an_unreachable_mail_server_is_a_retry(
    subscriber: Subscriber, plan: Plan, settings: Any, sms_file: Path
) -> None:
    # given: nothing listens on the configured port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard; refused on a test machine
    settings.EMAIL_TIMEOUT = 2
    activate(subscriber, plan)

    # when
    summary = run_outbox(SEND_TIME)

    # then
    assert summary == {"sent": 1, "skipped": 0, "failed": 0, "retry": 1, "cancelled": 0}
    row = Notification.objects.get(channel="email")
    assert (row.status, row.attempts, row.send_after) == ("queued", 1, SEND_TIME + MINUTE)
    assert row.last_error.startswith("ConnectionRefusedError")


def test_an_unreachable_sms_gateway_is_retried(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, settings: Any
) -> None:
    settings.SIMCARE_SMS_BACKEND = "tests.notify.fakes.UnreachableSmsGateway"
    activate(subscriber, plan)

    run_outbox(SEND_TIME)

    row = Notification.objects.get(channel="sms")
    assert (row.status, row.attempts, row.last_error) == (
        "queued",
        1,
        "SmsDeliveryError: gateway timed out",
    )
    assert Notification.objects.get(channel="email").status == "sent"


def test_a_number_the_gateway_refuses_fails_at_once(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, settings: Any
) -> None:
    settings.SIMCARE_SMS_BACKEND = "tests.notify.fakes.RefusingSmsGateway"
    activate(subscriber, plan)

    run_outbox(SEND_TIME)

    row = Notification.objects.get(channel="sms")
    assert (row.status, row.attempts, row.address) == ("failed", 1, subscriber.user.phone)
    assert row.last_error.startswith("SmsRejected")


def test_cancelled_and_future_rows_are_not_sent(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    activate(subscriber, plan)
    Notification.objects.filter(channel="email").update(status=NotificationStatus.CANCELLED)
    Notification.objects.filter(channel="sms").update(send_after=SEND_TIME + MINUTE)

    summary = run_outbox(SEND_TIME)

    assert summary == {"sent": 0, "skipped": 0, "failed": 0, "retry": 0, "cancelled": 0}
    assert smtp_server.messages == []
    assert sms_lines(sms_file) == []


def test_a_reminder_about_a_period_the_line_no_longer_has_is_cancelled_not_sent(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    # given: a reminder queued for the period ending at END, and the line's
    # period moved on without the renewal's cancel seeing it (a race)
    from simcare.lines import services as line_services

    line = activate(subscriber, plan)
    end = line.period_end
    line_services.queue_reminders(end - 7 * dt.timedelta(days=1))
    Line.objects.filter(pk=line.pk).update(period_end=end + 30 * dt.timedelta(days=1))

    # when
    summary = run_outbox(end - 7 * dt.timedelta(days=1) + MINUTE)

    # then: the activation messages go, the stale reminders do not
    assert summary == {"sent": 2, "skipped": 0, "failed": 0, "retry": 0, "cancelled": 2}
    assert set(
        Notification.objects.filter(template="lifecycle.expiry_reminder").values_list(
            "status", "last_error"
        )
    ) == {("cancelled", "stale: renewed")}
    assert len(smtp_server.messages) == 1


def test_a_worker_killed_after_claiming_loses_nothing(
    subscriber: Subscriber, plan: Plan, smtp_server: RecordingHandler, sms_file: Path
) -> None:
    # given: a worker claimed both rows and died before sending
    activate(subscriber, plan)
    claimed = services.claim_due(SEND_TIME)

    # when
    during_lease = run_outbox(SEND_TIME + MINUTE)
    after_lease = run_outbox(SEND_TIME + services.CLAIM_LEASE)

    # then
    assert len(claimed) == 2
    assert during_lease["sent"] == 0
    assert after_lease["sent"] == 2
    assert {(row.status, row.attempts) for row in rows().values()} == {("sent", 2)}
    assert len(smtp_server.messages) == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_two_outbox_workers_at_once_send_each_message_once(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    smtp_server: RecordingHandler,
    sms_file: Path,
) -> None:
    # given: 30 notifications (15 emails, 15 SMS)
    from simcare.lines import services as line_services

    for _ in range(15):
        add_number()
        add_sim()
        line_services.activate_line(
            make_subscriber(), plan, kind=SimKind.PHYSICAL, acting_user=None, now=START
        )
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            run_job("outbox")
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    # when
    with time_machine.travel(SEND_TIME, tick=False):
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # then
    assert failures == []
    assert len(smtp_server.messages) == 15
    assert len({message["To"] for message in smtp_server.messages}) == 15
    assert len(sms_lines(sms_file)) == 15
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
