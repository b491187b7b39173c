"""Plain helpers for the stock, eSIM and admin tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io

from simcare.kit.iccid import make_iccid


def csv_text(*lines: str) -> io.StringIO:
    """A CSV source as a file would give it: the lines joined by newlines."""
    return io.StringIO("\n".join(lines) + "\n")


def iccid(serial: int) -> str:
    """A valid 19-digit ICCID (89 prefix, Luhn check digit) for a serial number."""
    return make_iccid(f"8912300000{serial:08d}")


def wrong_check_digit(valid: str) -> str:
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)
