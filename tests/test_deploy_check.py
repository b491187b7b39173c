"""`simcare check --deploy` is clean with production settings (70-trust.md)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet


def production_environment(data_dir: Path) -> dict[str, str]:
    """This environment without the test switches (the browser tests set the async one)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SIMCARE_TESTING",
            "SIMCARE_DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    environment.update(
        {
            "SIMCARE_DATA_DIR": str(data_dir),
            "SIMCARE_PRODUCTION": "1",
            "SIMCARE_SECRET_KEY": secrets.token_urlsafe(60),
            "SIMCARE_FIELD_KEYS": Fernet.generate_key().decode(),
            "SIMCARE_ALLOWED_HOSTS": "example.com",
        }
    )
    return environment


def simcare(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simcare.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings(tmp_path: Path) -> None:
    result = simcare(
        "check", "--deploy", "--fail-level", "WARNING", environment=production_environment(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_the_secure_ones(tmp_path: Path) -> None:
    script = (
        "import simcare.settings as s\n"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SESSION_COOKIE_SAMESITE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000,"
        " s.X_FRAME_OPTIONS, s.PASSWORD_HASHERS[0].rsplit('.', 1)[1])\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=production_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "True",
        "True",
        "True",
        "Lax",
        "True",
        "True",
        "DENY",
        "Argon2PasswordHasher",
    ]


def test_production_refuses_to_start_without_the_field_keys(tmp_path: Path) -> None:
    environment = production_environment(tmp_path)
    del environment["SIMCARE_FIELD_KEYS"]

    result = simcare("check", environment=environment)

    assert result.returncode != 0
    assert "SIMCARE_FIELD_KEYS must be set in production" in result.stderr
