"""The returns policy of 50-aftersales.md as a pure function: eligible or not, and why.

Every number is configuration (settings.SIMCARE_RETURNS, overridable by
environment); these are the spec's defaults:

- no_reason: 7 days from delivery (an eSIM: from purchase); the card was never
  used on the network, the line has no usage, the eSIM was never downloaded;
  a full refund of the order.
- quality: 30 days from delivery; a fault (does not register, damaged, the
  eSIM does not install); a replacement SIM or a re-issued eSIM, the number
  moves to the new card.
- wrong_item: 30 days from delivery; we sent the wrong card or plan; a
  replacement or a refund, as the customer chooses.

Windows count calendar days in the business time zone (America/Toronto):
the delivery day is day 0, so with a 7-day window a card delivered on
Tuesday 1 December at any hour may be returned until Tuesday 8 December,
23:59:59 Toronto time ("day 7"), and not from Wednesday 9 December ("day 8").

Each reason has a stable code (shown to agents, returned by the API) and a
message in the active language. An evaluation lists every check, passed or
not, so the customer and the agent see the same reasoning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from simcare.kit.time import business_zone

NO_REASON = "no_reason"
QUALITY = "quality"
WRONG_ITEM = "wrong_item"
KINDS = (NO_REASON, QUALITY, WRONG_ITEM)

REFUND = "refund"
REPLACEMENT = "replacement"

FAULTS = ("no_network", "damaged", "esim_install")


@dataclass(frozen=True)
class ReturnPolicy:
    no_reason_days: int = 7
    quality_days: int = 30
    wrong_item_days: int = 30
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024

    def window_days(self, kind: str) -> int:
        return {
            NO_REASON: self.no_reason_days,
            QUALITY: self.quality_days,
            WRONG_ITEM: self.wrong_item_days,
        }[kind]


def current_policy() -> ReturnPolicy:
    config: dict[str, Any] = getattr(settings, "SIMCARE_RETURNS", {})
    defaults = ReturnPolicy()
    return ReturnPolicy(
        no_reason_days=int(config.get("no_reason_days", defaults.no_reason_days)),
        quality_days=int(config.get("quality_days", defaults.quality_days)),
        wrong_item_days=int(config.get("wrong_item_days", defaults.wrong_item_days)),
        max_photos=int(config.get("max_photos", defaults.max_photos)),
        max_photo_bytes=int(config.get("max_photo_bytes", defaults.max_photo_bytes)),
    )


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know about the purchase, read by the caller.

    delivered_at: when the card reached the customer (an eSIM: the purchase);
    None when the order was never fulfilled.
    """

    is_sim_order: bool
    is_fulfilled: bool
    is_refunded: bool
    has_live_line: bool
    sim_kind: str
    delivered_at: dt.datetime | None
    network_activated: bool
    has_usage: bool
    esim_downloaded: bool
    has_open_request: bool


@dataclass(frozen=True)
class Reason:
    """One check of the policy: a stable code, whether it passed, and the numbers its message
    needs (so a stored evaluation reads again in any language)."""

    code: str
    passed: bool
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def message(self) -> str:
        return describe(self.code, self.passed, dict(self.params))

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "passed": self.passed,
            "params": dict(self.params),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        params = data.get("params") or {}
        return cls(str(data["code"]), bool(data["passed"]), tuple(sorted(params.items())))


@dataclass(frozen=True)
class Evaluation:
    kind: str
    eligible: bool
    reasons: tuple[Reason, ...]
    outcomes: tuple[str, ...]
    window_days: int
    day: int | None
    deadline: dt.datetime | None

    @property
    def failed(self) -> tuple[Reason, ...]:
        return tuple(reason for reason in self.reasons if not reason.passed)

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.failed]


def describe(code: str, passed: bool, params: dict[str, Any]) -> str:
    """The message of a check in the active language."""
    days = int(params.get("days", 0))
    day = int(params.get("day", 0))
    values = {"days": days, "day": day}
    if code == "outside_window":
        if params.get("from") == "purchase":
            if passed:
                return (
                    ngettext(
                        "Within %(days)d day of purchase (day %(day)d).",
                        "Within %(days)d days of purchase (day %(day)d).",
                        days,
                    )
                    % values
                )
            return (
                ngettext(
                    "An eSIM can be returned within %(days)d day of purchase; it is day %(day)d.",
                    "An eSIM can be returned within %(days)d days of purchase; it is day %(day)d.",
                    days,
                )
                % values
            )
        if passed:
            return (
                ngettext(
                    "Within %(days)d day of delivery (day %(day)d).",
                    "Within %(days)d days of delivery (day %(day)d).",
                    days,
                )
                % values
            )
        return (
            ngettext(
                "This request can be made within %(days)d day of delivery; it is day %(day)d.",
                "This request can be made within %(days)d days of delivery; it is day %(day)d.",
                days,
            )
            % values
        )
    messages: dict[str, tuple[str, str]] = {
        "not_a_sim_order": (
            _("This order is the purchase of a SIM card or an eSIM."),
            _("Only the purchase of a SIM card or an eSIM can be returned or exchanged."),
        ),
        "order_not_fulfilled": (
            _("This order was completed."),
            _("This order has not been completed yet."),
        ),
        "order_refunded": (
            _("This order has not been refunded."),
            _("This order was already refunded."),
        ),
        "line_closed": (
            _("The line of this order is open."),
            _("The line of this order is closed."),
        ),
        "request_open": (
            _("No other request for this order is open."),
            _("A request for this order is already being handled."),
        ),
        "sim_activated": (
            _("The SIM card was never used on the network."),
            _("The SIM card has been used on the network, so it can no longer be returned."),
        ),
        "line_used": (
            _("The line has no recorded usage."),
            _("The line has recorded usage (data, calls or texts)."),
        ),
        "esim_downloaded": (
            _("The eSIM was never installed on a phone."),
            _("The eSIM was already installed on a phone, so it can no longer be returned."),
        ),
    }
    passed_text, failed_text = messages.get(code, (code, code))
    return passed_text if passed else failed_text


def day_number(delivered_at: dt.datetime, now: dt.datetime) -> int:
    """Calendar days since delivery in the business zone: the delivery day is day 0."""
    zone = business_zone()
    return (now.astimezone(zone).date() - delivered_at.astimezone(zone).date()).days


def deadline(delivered_at: dt.datetime, window_days: int) -> dt.datetime:
    """The last moment of the window: 23:59:59.999999 local on day `window_days`."""
    zone = business_zone()
    last_day = delivered_at.astimezone(zone).date() + dt.timedelta(days=window_days)
    midnight = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return midnight - dt.timedelta(microseconds=1)


def outcomes_of(kind: str) -> tuple[str, ...]:
    if kind == NO_REASON:
        return (REFUND,)
    if kind == QUALITY:
        return (REPLACEMENT,)
    return (REPLACEMENT, REFUND)


def evaluate(
    kind: str, facts: Facts, *, now: dt.datetime, policy: ReturnPolicy | None = None
) -> Evaluation:
    """Whether a request of `kind` is within the policy at `now`, with every check's reason."""
    if kind not in KINDS:
        raise ValueError(f"unknown return kind {kind!r}")
    policy = policy or current_policy()
    window = policy.window_days(kind)
    reasons: list[Reason] = []

    def check(passed: bool, code: str, **params: Any) -> None:
        reasons.append(Reason(code, passed, tuple(sorted(params.items()))))

    check(facts.is_sim_order, "not_a_sim_order")
    check(facts.is_fulfilled, "order_not_fulfilled")
    check(not facts.is_refunded, "order_refunded")
    check(facts.has_live_line, "line_closed")
    check(not facts.has_open_request, "request_open")

    day: int | None = None
    last_moment: dt.datetime | None = None
    if facts.delivered_at is not None:
        day = day_number(facts.delivered_at, now)
        last_moment = deadline(facts.delivered_at, window)
        counted_from = "purchase" if kind == NO_REASON and facts.sim_kind == "esim" else "delivery"
        check(day <= window, "outside_window", days=window, day=day, **{"from": counted_from})

    if kind == NO_REASON:
        check(not facts.network_activated, "sim_activated")
        check(not facts.has_usage, "line_used")
        if facts.sim_kind == "esim":
            check(not facts.esim_downloaded, "esim_downloaded")

    eligible = all(reason.passed for reason in reasons)
    return Evaluation(
        kind=kind,
        eligible=eligible,
        reasons=tuple(reasons),
        outcomes=outcomes_of(kind),
        window_days=window,
        day=day,
        deadline=last_moment,
    )
