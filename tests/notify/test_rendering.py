"""Notification texts: every template in every language, dates, plurals, escaping."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.notify import rendering
from simcare.notify.models import Notification
from tests.lines.lifecycle_support import add_number, add_sim

UTC = dt.UTC
DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
END = START + 30 * DAY


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan) -> Line:
    from simcare.lines import services

    add_number("+16475550142")
    add_sim()
    return services.activate_line(subscriber, plan, kind="physical", acting_user=None, now=START)


def notification(line: Line, template: str, channel: str = "email") -> Notification:
    return Notification(
        template=template,
        channel=channel,
        recipient=line.subscriber.user,
        line=line,
        reference_at=line.period_end,
        context={"order_id": 1, "order_number": "SC-0000001", "amount_cents": 1000},
    )


def is_about_the_line(template: str) -> bool:
    """Line and lifecycle messages name the number everywhere; others (orders) in the body."""
    return template.startswith(("line.", "lifecycle.", "return.", "review."))


def test_the_lifecycle_templates_are_registered() -> None:
    assert {
        "line.activated",
        "line.renewed",
        "lifecycle.expiry_reminder",
        "lifecycle.expired",
        "lifecycle.suspension_reminder",
        "lifecycle.suspended",
        "lifecycle.recycling_reminder",
        "lifecycle.recycled",
    } <= set(rendering.REGISTRY)


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
@pytest.mark.parametrize("template", sorted(rendering.REGISTRY))
def test_every_template_renders_in_every_language(line: Line, template: str, language: str) -> None:
    with time_machine.travel(START, tick=False):
        message = rendering.render(notification(line, template), language=language)

    assert message.language == language
    assert "(647) 555-0142" in message.body
    if is_about_the_line(template):
        assert "(647) 555-0142" in message.subject
        assert "(647) 555-0142" in message.sms
    assert "{" not in message.body + message.sms + message.subject
    assert "\n\n\n" not in message.body
    assert message.html.startswith("<!DOCTYPE html>")
    assert f"http://127.0.0.1:8000/{language}/portal/" in message.body


@pytest.mark.parametrize(
    ("moment", "subject"),
    [
        (END - 7 * DAY, "Your plan for (647) 555-0142 ends in 7 days"),
        (END - 3 * DAY + dt.timedelta(hours=5), "Your plan for (647) 555-0142 ends in 3 days"),
        (END - DAY, "Your plan for (647) 555-0142 ends in 1 day"),
    ],
)
def test_expiry_reminder_counts_the_days_left(
    line: Line, moment: dt.datetime, subject: str
) -> None:
    with time_machine.travel(moment, tick=False):
        message = rendering.render(notification(line, "lifecycle.expiry_reminder"))

    assert message.subject == subject


def test_stage_dates_follow_the_lifecycle(line: Line) -> None:
    with time_machine.travel(END, tick=False):
        expired = rendering.render(notification(line, "lifecycle.expired", "sms"))
        suspended = rendering.render(notification(line, "lifecycle.suspended", "sms"))

    # Grace ends 2026-04-30 22:00 Toronto; recycling 2026-06-29 22:00 Toronto.
    assert "until April 30, 2026" in expired.sms
    assert "until June 29, 2026" in suspended.sms


def test_plan_names_are_escaped_in_html_only(line: Line) -> None:
    Plan.objects.filter(pk=line.plan_id).update(name_en='<b>Big & "fast"</b>')
    line.refresh_from_db()

    message = rendering.render(notification(line, "line.activated"))

    assert '"<b>Big & "fast"</b>"' in message.body
    assert "&lt;b&gt;Big &amp; &quot;fast&quot;&lt;/b&gt;" in message.html
    assert "<b>Big" not in message.html


def test_plan_name_in_the_recipients_language(line: Line) -> None:
    message = rendering.render(notification(line, "line.activated", "sms"), language="zh-hans")

    assert "加拿大30天" in message.sms


def test_stored_context_datetimes_come_back_as_datetimes(line: Line) -> None:
    row = notification(line, "lifecycle.expired", "sms")
    row.context = {"grace_ends_at": "2026-12-25T17:00:00+00:00"}

    message = rendering.render(row)

    assert "until Dec. 25, 2026" in message.sms


def test_an_unsupported_language_falls_back_to_english(line: Line) -> None:
    message = rendering.render(notification(line, "line.renewed"), language="de")

    assert message.language == "en"
    assert message.subject == "Your line (647) 555-0142 has been renewed"


def test_a_greeting_uses_the_first_name_only(line: Line) -> None:
    user = line.subscriber.user
    greeting_without_name = rendering.render(notification(line, "line.renewed")).body.splitlines()[
        0
    ]
    user.first_name = "Wei"
    user.save()

    greeting = rendering.render(notification(line, "line.renewed")).body.splitlines()[0]

    assert (greeting_without_name, greeting) == ("Hello,", "Hello Wei,")


def test_unknown_template_is_refused() -> None:
    with pytest.raises(rendering.UnknownTemplate):
        rendering.get_template("line.exploded")
