"""`simcare smpp-receipts`: bind to the SMSC as a receiver and record delivery receipts.

Receipts mostly arrive while the outbox's own bind waits after a run; the rest
(a handset switched off for a day) are forwarded by the SMSC to the next
receiving bind. Run this under a supervisor with --seconds 0 (forever) or from
cron with a bounded --seconds.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simcare.notify.gateways import SmppSmsBackend
from simcare.notify.sms import SmsDeliveryError


class Command(BaseCommand):
    help = "Record SMPP delivery receipts for a while (0 seconds: until stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=60.0)

    def handle(self, *args: Any, **options: Any) -> None:
        seconds: float = options["seconds"]
        backend = SmppSmsBackend()
        total = 0
        try:
            while True:
                total += backend.listen_for_receipts(seconds=seconds or 60.0)
                if seconds:
                    break
        except SmsDeliveryError as error:
            raise CommandError(str(error)) from error
        finally:
            backend.close()
        self.stdout.write(f"receipts recorded: {total}")
