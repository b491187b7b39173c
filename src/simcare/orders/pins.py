"""Voucher PINs and serials: pure rules, no I/O (20-money.md "Vouchers").

- A PIN is 16 decimal digits from the operating system's CSPRNG (`secrets`):
  10^16 possibilities, against at most 5 wrong tries per account and IP an hour.
- The database keeps only a keyed hash of a PIN, HMAC-SHA256 under the voucher
  key (see `voucher_key`), so a copy of the database alone cannot test guesses.
- What a customer types is normalised first: spaces, dashes and full-width
  digits (a Chinese keyboard's) are accepted, as in "1234 5678-9012 3456";
  anything else is not a PIN.
- The public serial printed on the card is "V" + the batch number (6 digits) +
  the card's number in the batch (6 digits) + a Luhn check digit, e.g.
  "V0000420000010": an agent reading it over the phone catches a mistyped digit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from simcare.kit.iccid import is_luhn_valid, luhn_check_digit

PIN_DIGITS = 16
SERIAL_PREFIX = "V"
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d_.]+")
_PIN = re.compile(rf"[0-9]{{{PIN_DIGITS}}}")
_SERIAL = re.compile(rf"{SERIAL_PREFIX}[0-9]{{13}}")
_KEY_CONTEXT = b"simcare.orders.voucher-pin-hash.v1"


def new_pin() -> str:
    """A fresh 16-digit PIN, leading zeros allowed: "0392817465019283"."""
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def normalize_pin(raw: str) -> str | None:
    """The 16 digits a customer meant, or None when the input is not a PIN at all."""
    if not isinstance(raw, str) or len(raw) > 64:
        return None
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    return text if _PIN.fullmatch(text) else None


def format_pin(pin: str) -> str:
    """Grouped by four for printing and reading aloud: "0392 8174 6501 9283"."""
    return " ".join(pin[start : start + 4] for start in range(0, len(pin), 4))


def voucher_key(*, secret_key: str, dedicated_key: str = "") -> bytes:
    """The HMAC key for PIN hashes.

    SIMCARE_VOUCHER_KEY (`dedicated_key`) when set, so that rotating Django's
    SECRET_KEY keeps every printed card valid; otherwise a key derived from
    SECRET_KEY for this one purpose (never SECRET_KEY itself).
    """
    if dedicated_key:
        return hashlib.sha256(_KEY_CONTEXT + b"\x00" + dedicated_key.encode()).digest()
    return hmac.new(secret_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def hash_pin(pin: str, *, key: bytes) -> str:
    """HMAC-SHA256 of a normalised PIN under `key`, as 64 hex characters."""
    return hmac.new(key, pin.encode("ascii"), hashlib.sha256).hexdigest()


def make_serial(batch_number: int, index: int) -> str:
    """The serial of card `index` (1-based) of batch `batch_number`: "V" + 13 digits."""
    if not (0 < batch_number < 10**6 and 0 < index < 10**6):
        raise ValueError("batch numbers and card numbers have at most 6 digits")
    body = f"{batch_number:06d}{index:06d}"
    return f"{SERIAL_PREFIX}{body}{luhn_check_digit(body)}"


def normalize_serial(raw: str) -> str | None:
    """ "v 000042-000001 0" → "V0000420000010"; None when it is not a valid serial."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or "")).upper()
    if not _SERIAL.fullmatch(text) or not is_luhn_valid(text[1:]):
        return None
    return text
