"""What the hotline says, in the active language (the caller's: views wrap every answer
in translation.override). Pure text rules: no I/O."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _

from simcare.ivr.queries import AccountSummary
from simcare.kit.money import format_cents
from simcare.kit.time import local
from simcare.lines.models import LineState

# Twilio's <Say> language for each of our languages, and the digit that picks it (60-partners.md).
SAY_LANGUAGES = {"zh-hans": "zh-CN", "en": "en-CA", "fr": "fr-CA"}
LANGUAGE_DIGITS = {"1": "zh-hans", "2": "en", "3": "fr"}


def spoken_date(moment: dt.datetime) -> str:
    return formats.date_format(local(moment), "DATE_FORMAT")


def spoken_time(moment: dt.datetime) -> str:
    return formats.time_format(local(moment), "TIME_FORMAT")


def data_amount(kilobytes: int) -> str:
    if kilobytes >= 1024 * 1024:
        gigabytes = formats.number_format(round(kilobytes / (1024 * 1024), 1), decimal_pos=1)
        return _("%(number)s gigabytes") % {"number": gigabytes}
    return _("%(number)s megabytes") % {"number": kilobytes // 1024}


def welcome() -> str:
    return _("Welcome to %(business)s.") % {"business": settings.SIMCARE_BUSINESS_NAME}


def language_choice(digit: str) -> str:
    return _("To continue in this language, press %(digit)s.") % {"digit": digit}


def main_menu(*, has_account: bool, has_line: bool) -> list[str]:
    if not has_account:
        return [
            _("We could not find an account for the number you are calling from."),
            _("To speak with a person, press 0."),
        ]
    options = [_("For your balance, remaining data and expiry date, press 1.")]
    if has_line:
        options.append(_("To renew your plan from your wallet, press 2."))
    options.append(_("To redeem a voucher PIN, press 3."))
    options.append(_("To speak with a person, press 0."))
    return options


def summary(result: AccountSummary) -> list[str]:
    sentences = [
        _("Your wallet balance is %(amount)s.") % {"amount": format_cents(result.balance_cents)}
    ]
    line = result.line
    if line is None:
        sentences.append(_("There is no active line on your account."))
        return sentences
    if line.state == LineState.ACTIVE and result.period_end is not None:
        sentences.append(
            _("Your plan %(plan)s runs until %(date)s.")
            % {"plan": line.plan.name, "date": spoken_date(result.period_end)}
        )
    else:
        sentences.append(
            _("Your line is %(state)s. Renew it to use it again.")
            % {"state": LineState(line.state).label}
        )
    if result.has_data and result.data_remaining_kb is None:
        sentences.append(_("Your data is unlimited."))
    elif result.has_data:
        sentences.append(
            _("You have %(amount)s of data left.")
            % {"amount": data_amount(result.data_remaining_kb or 0)}
        )
    else:
        sentences.append(_("You have no data left."))
    return sentences


def renewal_offer(*, plan: str, days: int, total_cents: int, balance_cents: int) -> str:
    return _(
        "Renewing %(plan)s for %(days)s days costs %(total)s, paid from your wallet balance "
        "of %(balance)s. To confirm, press 1. To go back, press star."
    ) % {
        "plan": plan,
        "days": days,
        "total": format_cents(total_cents),
        "balance": format_cents(balance_cents),
    }


def renewed(*, period_end: dt.datetime, balance_cents: int) -> str:
    return _("Your plan is renewed until %(date)s. Your wallet balance is now %(balance)s.") % {
        "date": spoken_date(period_end),
        "balance": format_cents(balance_cents),
    }


def enter_pin() -> str:
    return _("Please enter your account PIN, followed by the pound key.")


def wrong_pin() -> str:
    return _("That PIN is not correct.")


def too_many_pins() -> str:
    return _("Too many wrong PINs. Goodbye.")


def pin_locked() -> str:
    return _("PIN entry by phone is locked after too many wrong PINs. Please try again in an hour.")


def enter_voucher() -> str:
    return _("Please enter the 16-digit PIN of your voucher.")


def voucher_redeemed(*, value_cents: int, balance_cents: int) -> str:
    return _("%(value)s was added to your wallet. Your balance is now %(balance)s.") % {
        "value": format_cents(value_cents),
        "balance": format_cents(balance_cents),
    }


def connecting() -> str:
    return _("Please hold while we connect you to an agent.")


def agents_busy() -> str:
    return _("All our agents are busy.")


def closed(next_opening: dt.datetime | None) -> str:
    if next_opening is None:
        return _("Our agents are not available now.")
    return _("Our agents are not available now. We are open again on %(date)s at %(time)s.") % {
        "date": spoken_date(next_opening),
        "time": spoken_time(next_opening),
    }


def leave_message() -> str:
    return _("Please leave a message after the tone, then hang up. We will call you back.")


def message_received() -> str:
    return _("Thank you, we received your message. Goodbye.")


def no_message() -> str:
    return _("We did not receive a message. Goodbye.")


def invalid_choice() -> str:
    return _("Sorry, that is not a valid choice.")


def no_input() -> str:
    return _("We did not receive your choice.")


def goodbye() -> str:
    return _("Thank you for calling. Goodbye.")


def no_line() -> str:
    return _("There is no line to renew on the number you are calling from.")
