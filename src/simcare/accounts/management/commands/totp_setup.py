"""`simcare totp-setup USERNAME [--reset]`: give a staff user the authenticator they sign in with.

The admin asks staff for a password and a six-digit TOTP code, so a user made
with `simcare createsuperuser` cannot reach it until they have a device. This
creates one (confirmed, since the operator hands it over in person) and prints
what an authenticator app needs: the otpauth:// URI, the same as a QR code for
the terminal, and the base32 secret to type in by hand.

A user who already has a device is refused unless --reset is given, which
replaces every TOTP device of the user (a lost phone). Both are audited.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts.models import User
from simcare.accounts.services import record_audit

DEVICE_NAME = "authenticator"
ACTOR_LABEL = "cli:totp-setup"


@transaction.atomic
def set_up_totp_device(user: User, *, reset: bool) -> TOTPDevice:
    """A new confirmed TOTP device for user; with reset, their earlier devices are removed."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    existing = TOTPDevice.objects.filter(user=locked)
    if existing.exists() and not reset:
        raise CommandError(
            f"{locked.username} already has an authenticator; "
            "run again with --reset to replace it (the old codes stop working)"
        )
    removed = existing.count()
    existing.delete()
    device = TOTPDevice.objects.create(user=locked, name=DEVICE_NAME, confirmed=True)
    record_audit(
        "staff.totp_device_reset" if removed else "staff.totp_device_created",
        actor=None,
        actor_label=ACTOR_LABEL,
        target=locked,
        devices_removed=removed,
    )
    return device


class Command(BaseCommand):
    help = "Create (or with --reset replace) the TOTP authenticator a staff user signs in with."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the staff user's username")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="replace the user's existing authenticator devices",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not user.is_staff:
            raise CommandError(
                f"{username} is not staff: only staff sign in to the admin with a TOTP code"
            )
        if not user.is_active:
            raise CommandError(f"{username} is deactivated")
        device = set_up_totp_device(user, reset=options["reset"])
        uri: str = device.config_url
        secret = base64.b32encode(device.bin_key).decode()
        qr = io.StringIO()
        segno.make(uri, error="m").terminal(out=qr, compact=True)
        self.stdout.write(
            f"Authenticator for {username} ({device.digits} digits every {device.step} s)."
        )
        self.stdout.write("Scan this QR code with the authenticator app:")
        self.stdout.write(qr.getvalue(), ending="")
        self.stdout.write(f"otpauth URI: {uri}")
        self.stdout.write(f"Secret (base32, to type in by hand): {secret}")
        self.stdout.write(
            "Then sign in at /<language>/admin/ with the password and the app's current code."
        )
