"""Keys generated once under the data dir, for the embedded default only.

Production reads every key from the environment (see settings); the demo and a
developer's machine get keys that survive restarts without anyone writing one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: when two processes start at once, one writes and both read its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def django_secret(data_dir: Path) -> str:
    return _read_or_create(data_dir / "secret_key", lambda: secrets.token_urlsafe(50))


def fernet_key(data_dir: Path) -> str:
    return _read_or_create(data_dir / "field_key", lambda: Fernet.generate_key().decode())
