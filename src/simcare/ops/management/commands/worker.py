from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from simcare.ops.tasks import beat


class Command(BaseCommand):
    help = "Run the background worker: the periodic jobs and queued tasks (Huey)."

    def handle(self, *args: Any, **options: Any) -> None:
        beat()
        call_command("run_huey")
