"""demo-credentials.json: the demo's logins, generated once and kept (90-interfaces.md).

The file is the memory of the demo's secrets: a re-run reads it and keeps every
password and TOTP secret, so a browser or a script set up once keeps working.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, TypedDict

FILE_NAME = "demo-credentials.json"
STAFF_ROLES = ("admin", "agent", "clerk")


class StaffLogin(TypedDict):
    username: str
    password: str
    totp_secret: str


class SubscriberLogin(TypedDict):
    username: str
    password: str
    msisdns: list[str]


class ResellerLogin(TypedDict):
    name: str
    api_key: str | None


class Voucher(TypedDict):
    serial: str
    pin: str
    value_cents: int


class DemoCredentials(TypedDict):
    base_url: str
    admin: StaffLogin
    agent: StaffLogin
    clerk: StaffLogin
    subscriber: SubscriberLogin
    reseller: ResellerLogin
    vouchers: list[Voucher]


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_totp_secret() -> str:
    """160 random bits in base32, the form authenticator apps take (RFC 4226 key size)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def totp_key_hex(secret: str) -> str:
    """django-otp's TOTPDevice stores the same key in hex."""
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded).hex()


def read(path: Path) -> dict[str, Any] | None:
    """The previous run's file, or None when there is none or it cannot be used."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return content if isinstance(content, dict) else None


def previous_secret(previous: dict[str, Any] | None, role: str, key: str) -> str | None:
    entry = (previous or {}).get(role)
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, str) and value else None


def write(path: Path, credentials: DemoCredentials) -> None:
    """Write atomically and readable by the owner only: it holds passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".demo-credentials.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
