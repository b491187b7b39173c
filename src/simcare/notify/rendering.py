"""Notification templates: a registry of names and their texts in the recipient's language.

Each registered template `<name>` has three Django templates under
`notify/templates/notify/<name>/`: `subject.txt`, `body.txt` (the email's
plain text; the HTML alternative is the same text in `notify/email.html`) and
`sms.txt`. They are written with {% translate %} / {% blocktranslate %} and
English message ids, and rendered under `translation.override(language)` and
the business time zone (America/Toronto), so dates read in the recipient's
locale and local time.

They are rendered by a separate engine with autoescaping off, because they
are plain text: escaping would turn "L'Oréal" into "L&#x27;Oréal" in an SMS.
The HTML alternative escapes the rendered text once, in `email.html`.

Rendering happens when the outbox sends, not when the row is queued, so the
text uses the recipient's language of that moment and live values of the
line. Secrets (an eSIM activation code) are read from their source at send
time and never stored in the row's context; `RenderedMessage.masked` hides
them in the copy of the text the row keeps for the record.

Other apps add their templates with `register(...)` in their AppConfig or
module import and put the files under their own `templates/notify/<name>/`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine
from django.template.backends.django import get_installed_libraries
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from simcare.kit.phone import format_national
from simcare.kit.time import business_zone
from simcare.lines import lifecycle
from simcare.lines.models import Line, SimKind
from simcare.notify.models import Channel, Notification

MASK = "[hidden]"


@dataclass(frozen=True)
class NotificationTemplate:
    """A kind of message. `reference_at` names what the row's reference_at means for it.

    `expires_with_period`: the message is about the line's period ending at
    reference_at; once the line has another period_end (it was renewed), the
    message is stale and the outbox cancels it instead of sending it. This
    catches what the renewal's own cancel cannot: a reminder job that read the
    line just before the renewal committed and inserted just after.
    """

    name: str
    description: str
    reference_at: str = ""
    expires_with_period: bool = False
    # Sent because the recipient asked for it this minute (an identity code): notification
    # opt-outs do not apply, and an SMS goes to the number of the row's line.
    on_request: bool = False
    # Secrets read from their source at send time: {name: value}, added to the context and
    # masked in the stored copy (never kept in the row's context).
    secret_context: Callable[[Notification], dict[str, str]] | None = None


class UnknownTemplate(KeyError):
    """A notification template name nobody registered (a programming error)."""


REGISTRY: dict[str, NotificationTemplate] = {}


def register(
    name: str,
    *,
    description: str,
    reference_at: str = "",
    expires_with_period: bool = False,
    on_request: bool = False,
    secret_context: Callable[[Notification], dict[str, str]] | None = None,
) -> NotificationTemplate:
    template = NotificationTemplate(
        name, description, reference_at, expires_with_period, on_request, secret_context
    )
    REGISTRY[name] = template
    return template


def get_template(name: str) -> NotificationTemplate:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownTemplate(name) from None


register(
    "line.activated",
    description="A new line is active; eSIM emails carry the activation code and its QR code.",
    reference_at="the period end",
)
register("line.renewed", description="A line was renewed.", reference_at="the new period end")
register(
    "lifecycle.expiry_reminder",
    description="The plan ends in a few days (sent at each configured offset).",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "lifecycle.expired",
    description="The plan ended; the line is in grace (incoming only).",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "lifecycle.suspension_reminder",
    description="The line will be suspended in a few days.",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "lifecycle.suspended",
    description="The line is suspended; the number is kept until recycling.",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "lifecycle.recycling_reminder",
    description="The number will be released in a few days.",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "lifecycle.recycled",
    description="The line is closed and its number released.",
    reference_at="the period end",
)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class RenderedMessage:
    language: str
    subject: str
    body: str
    html: str
    sms: str
    secrets: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())

    def masked(self, text: str) -> str:
        """The text with every secret replaced, for storing and showing to staff."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text


@cache
def text_engine() -> Engine:
    return Engine(
        app_dirs=True,
        autoescape=False,
        libraries=get_installed_libraries(),
        builtins=["django.templatetags.i18n", "django.templatetags.l10n"],
    )


@cache
def html_engine() -> Engine:
    return Engine(app_dirs=True, autoescape=True, libraries=get_installed_libraries())


def supported_language(language: str | None) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else settings.LANGUAGE_CODE


def _restore_datetimes(context: dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = {}
    for key, value in context.items():
        if key.endswith("_at") and isinstance(value, str):
            restored[key] = parse_datetime(value) or value
        else:
            restored[key] = value
    return restored


def days_until(moment: dt.datetime, now: dt.datetime) -> int:
    """Whole days left, rounded up: 2 days and 1 hour left reads "3 days"."""
    return max(0, math.ceil((moment - now).total_seconds() / 86400))


def portal_url(language: str) -> str:
    return f"{settings.SIMCARE_PUBLIC_BASE_URL.rstrip('/')}/{language}/portal/"


def _line_context(
    line: Line, reference_at: dt.datetime | None, language: str, now: dt.datetime
) -> dict[str, Any]:
    period_end = reference_at or line.period_end
    limits = lifecycle.deadlines(period_end, lifecycle.current_config())
    try:
        msisdn_display = format_national(line.msisdn)
    except Exception:  # a number phonenumbers cannot parse still gets a readable message
        msisdn_display = line.msisdn
    return {
        "line": line,
        "msisdn": line.msisdn,
        "msisdn_display": msisdn_display,
        "plan_name": line.plan.translated("name", language),
        "is_esim": line.kind == SimKind.ESIM,
        "period_start": line.period_start,
        "period_end": period_end,
        "grace_ends_at": limits.grace_ends_at,
        "suspension_ends_at": limits.suspension_ends_at,
        "days_to_period_end": days_until(period_end, now),
        "days_to_suspension": days_until(limits.grace_ends_at, now),
        "days_to_recycling": days_until(limits.suspension_ends_at, now),
    }


def _qr_png(code: str) -> bytes:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def render(notification: Notification, *, language: str | None = None) -> RenderedMessage:
    """The texts of a notification in `language` (default: the recipient's current one)."""
    template = get_template(notification.template)
    recipient = notification.recipient
    language = supported_language(
        language or (recipient.language if recipient is not None else notification.language)
    )
    now = timezone.now()
    context: dict[str, Any] = {
        # The first name only; a username ("subscriber12") is no way to greet anyone.
        "recipient_name": recipient.first_name if recipient else "",
        "portal_url": portal_url(language),
        "language": language,
    }
    secrets: list[str] = []
    attachments: list[Attachment] = []
    line = notification.line
    if line is not None:
        context.update(_line_context(line, notification.reference_at, language, now))
        # The activation code goes by email only, to the owner, read from the
        # SIM now rather than stored in the outbox row.
        if (
            notification.template == "line.activated"
            and notification.channel == Channel.EMAIL
            and line.kind == SimKind.ESIM
        ):
            code = line.sim.activation_code
            context["activation_code"] = code
            secrets.append(code)
            attachments.append(Attachment("esim-qr.png", _qr_png(code), "image/png"))
    context.update(_restore_datetimes(notification.context or {}))
    if template.secret_context is not None:
        read = template.secret_context(notification)
        context.update(read)
        secrets.extend(value for value in read.values() if value)

    folder = f"notify/{notification.template}"
    with translation.override(language), timezone.override(business_zone()):
        subject = _render_text(f"{folder}/subject.txt", context)
        subject = " ".join(subject.split())
        body = _tidy(_render_text(f"{folder}/body.txt", context))
        sms = " ".join(_render_text(f"{folder}/sms.txt", context).split())
        html = (
            html_engine()
            .get_template("notify/email.html")
            .render(Context({**context, "subject": subject, "body": body}))
        )
    return RenderedMessage(
        language=language,
        subject=subject,
        body=body,
        html=html,
        sms=sms,
        secrets=tuple(secrets),
        attachments=tuple(attachments),
    )


def _tidy(text: str) -> str:
    """Lines that held only template tags leave blank runs: keep at most one blank line."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _render_text(name: str, context: dict[str, Any]) -> str:
    return text_engine().get_template(name).render(Context(context, autoescape=False))


def subject_preview(notification: Notification, *, language: str) -> str:
    """The subject line of a message not yet sent (or never sent), in `language`, for the
    recipient's own list of notifications. No secret is read: the subject has none."""
    get_template(notification.template)
    language = supported_language(language)
    recipient = notification.recipient
    context: dict[str, Any] = {
        "recipient_name": recipient.first_name if recipient else "",
        "portal_url": portal_url(language),
        "language": language,
    }
    if notification.line is not None:
        context.update(
            _line_context(notification.line, notification.reference_at, language, timezone.now())
        )
    context.update(_restore_datetimes(notification.context or {}))
    with translation.override(language), timezone.override(business_zone()):
        subject = _render_text(f"notify/{notification.template}/subject.txt", context)
    return " ".join(subject.split())
