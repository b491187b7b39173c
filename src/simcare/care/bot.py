"""What the bot answers: `answer_for(question, *, language, user=None) -> Answer`.

The chat consumer, `simcare kb ask` and the help center call this. It reads only
(the knowledge base, and for a signed-in subscriber their lines, buckets, wallet
and orders) and changes nothing, so a caller may run it for every message.

Order of decisions:
1. an empty message gets a prompt to type a question;
2. asking for a person ("talk to a person", "人工", "parler à un agent") hands off;
3. a signed-in subscriber asking about their own balance, allowances, expiry, last
   order or renewal gets their live data (never a visitor: retrieval answers them);
4. the best knowledge-base article, when its confidence reaches the threshold;
5. else a hand-off to a person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from simcare.accounts.models import Subscriber
from simcare.care import queries, retrieval
from simcare.catalog.models import UsageKind
from simcare.kit.money import format_cents
from simcare.kit.phone import format_national
from simcare.kit.time import local
from simcare.ledger.queries import wallet_balance_cents
from simcare.lines.models import Bucket, Line
from simcare.lines.queries import live_lines_for

KB_PER_GB = 1024 * 1024
KB_PER_MB = 1024


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Answer:
    """One bot reply. `slug` names the article answered (None for live data and hand-offs);
    `score` is the confidence 0..1; `handoff` asks routing for a person; `intent` is
    "article", "live:<balance|allowance|expiry|order|renewal>", "handoff" (asked for a
    person), "low_confidence" or "empty"."""

    slug: str | None
    text: str
    score: float
    handoff: bool
    language: str
    intent: str
    question: str = ""
    links: tuple[Link, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        """The `simcare kb ask --json` shape of 90-interfaces.md."""
        return {
            "slug": self.slug,
            "score": self.score,
            "handoff": self.handoff,
            "language": self.language,
        }


def confidence_threshold() -> float:
    return float(getattr(settings, "CARE_BOT_THRESHOLD", retrieval.DEFAULT_THRESHOLD))


def answer_for(
    question: str,
    *,
    language: str | None,
    user: Any = None,
    threshold: float | None = None,
) -> Answer:
    """The bot's reply to `question` in `language` (detected from the text when None or
    not one of zh-hans, en, fr). `user` is the signed-in user, if any."""
    text = (question or "").strip()
    chosen = retrieval.normalize_language(language) or retrieval.detect_language(text)
    with translation.override(chosen):
        if not text:
            return Answer(None, _("Please type your question."), 0.0, False, chosen, "empty")
        if retrieval.wants_person(text):
            return Answer(
                None,
                _("I'll connect you with a person who can help."),
                1.0,
                True,
                chosen,
                "handoff",
            )
        subscriber = _subscriber_of(user)
        if subscriber is not None:
            intent = retrieval.live_intent(text, chosen)
            if intent is not None:
                return _live_answer(intent, user, subscriber, chosen)
        index = queries.index_for(chosen)
        hits = index.search(text, limit=1)
        limit = confidence_threshold() if threshold is None else threshold
        if hits and hits[0].confidence >= limit:
            best = hits[0]
            entry = index.by_slug[best.slug]
            return Answer(
                best.slug,
                entry.answer,
                best.confidence,
                False,
                chosen,
                "article",
                question=entry.question,
            )
        return Answer(
            None,
            _("I'm not sure I have the right answer. I'll connect you with a person who can help."),
            hits[0].confidence if hits else 0.0,
            True,
            chosen,
            "low_confidence",
        )


def _subscriber_of(user: Any) -> Subscriber | None:
    """Live data is for a signed-in subscriber about their own account, never for staff
    (who see every line) or visitors."""
    if user is None or not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    try:
        subscriber: Subscriber = user.subscriber
    except Subscriber.DoesNotExist:
        return None
    return subscriber


def _live_answer(intent: str, user: Any, subscriber: Subscriber, language: str) -> Answer:
    links: tuple[Link, ...] = ()
    if intent == "balance":
        text = _("Your wallet balance is %(amount)s.") % {
            "amount": format_cents(wallet_balance_cents(subscriber), language=language)
        }
        return Answer(None, text, 1.0, False, language, "live:balance")
    if intent == "order":
        return Answer(None, _last_order_text(user, language), 1.0, False, language, "live:order")
    now = timezone.now()
    lines = list(live_lines_for(user).order_by("activated_at", "id"))
    if not lines:
        text = _("There is no active line on your account.")
    elif intent == "allowance":
        text = "\n".join(_allowance_text(line, now, language) for line in lines)
    elif intent == "expiry":
        text = "\n".join(_expiry_text(line, now) for line in lines)
    else:
        links = tuple(
            Link(_("Renew %(number)s") % {"number": _number(line)}, renewal_url(line, language))
            for line in lines
        )
        text = "\n".join(
            [_expiry_text(line, now) for line in lines]
            + [_("You can renew online: %(url)s") % {"url": link.url} for link in links]
        )
    return Answer(None, text, 1.0, False, language, f"live:{intent}", links=links)


def renewal_url(line: Line, language: str) -> str:
    """The page where the subscriber renews this line: the portal's renewal page once it
    exists, else the portal (90-interfaces.md: /<lang>/portal/)."""
    with translation.override(language):
        for name, kwargs in (
            ("portal:line_renew", {"msisdn": line.msisdn}),
            ("portal:dashboard", {}),
        ):
            try:
                return reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                continue
    return f"/{language}/portal/"


def _number(line: Line) -> str:
    try:
        return format_national(line.msisdn)
    except Exception:  # a number stored before validation: show it as stored
        return line.msisdn


def _date(moment: dt.datetime) -> str:
    return formats.date_format(local(moment), "DATE_FORMAT")


def _expiry_text(line: Line, now: dt.datetime) -> str:
    values: dict[str, str | int] = {
        "number": _number(line),
        "plan": line.plan.translated("name"),
        "date": _date(line.period_end),
        "state": line.get_state_display(),
    }
    if line.period_end > now:
        days = (local(line.period_end).date() - local(now).date()).days
        values["days"] = days
        return (
            ngettext(
                "%(number)s (%(plan)s) expires on %(date)s: %(days)s day left.",
                "%(number)s (%(plan)s) expires on %(date)s: %(days)s days left.",
                days,
            )
            % values
        )
    return _("%(number)s (%(plan)s) expired on %(date)s and is now: %(state)s.") % values


def _data_amount(kilobytes: int) -> str:
    if kilobytes >= KB_PER_GB:
        return _("%(amount)s GB") % {
            "amount": formats.number_format(kilobytes / KB_PER_GB, decimal_pos=1, use_l10n=True)
        }
    return _("%(amount)s MB") % {"amount": formats.number_format(kilobytes // KB_PER_MB)}


def _allowance_text(line: Line, now: dt.datetime, language: str) -> str:
    current = Bucket.objects.filter(line=line, starts_at__lte=now, expires_at__gt=now)
    remaining: dict[str, int | None] = {}
    for bucket in current:
        if bucket.kind in remaining and remaining[bucket.kind] is None:
            continue
        left = bucket.remaining
        remaining[bucket.kind] = None if left is None else (remaining.get(bucket.kind) or 0) + left
    parts = []
    for kind in (UsageKind.DATA, UsageKind.VOICE, UsageKind.SMS):
        if kind not in remaining:
            continue
        left = remaining[kind]
        if left is None:
            amount = _("unlimited")
        elif kind == UsageKind.DATA:
            amount = _data_amount(left)
        elif kind == UsageKind.VOICE:
            amount = ngettext("%(count)s minute", "%(count)s minutes", left) % {"count": left}
        else:
            amount = ngettext("%(count)s text", "%(count)s texts", left) % {"count": left}
        label = {
            UsageKind.DATA: _("data"),
            UsageKind.VOICE: _("calls"),
            UsageKind.SMS: _("texts"),
        }[kind]
        parts.append(_("%(label)s: %(amount)s") % {"label": label, "amount": amount})
    if not parts:
        return _("%(number)s has no allowance left in this period.") % {"number": _number(line)}
    return _("%(number)s has left: %(allowances)s.") % {
        "number": _number(line),
        "allowances": _("; ").join(parts),
    }


def _last_order_text(user: Any, language: str) -> str:
    from simcare.orders.queries import orders_for

    order = orders_for(user).first()
    if order is None:
        return _("You have no orders yet.")
    return _("Your last order, no. %(id)s of %(date)s: %(kind)s, %(total)s, %(state)s.") % {
        "id": order.pk,
        "date": _date(order.created_at),
        "kind": order.get_kind_display(),
        "total": format_cents(order.total_cents, language=language),
        "state": order.get_state_display(),
    }
