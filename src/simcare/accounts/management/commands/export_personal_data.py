"""`simcare export-personal-data <login> --reason "ticket 1234"`: a subscriber's records as
the JSON of "download my data", for a request that came by letter or phone.

The login is the username, email address or mobile number. Check who is asking first;
the export is audited (`subscriber.data_exported`, actor "cli", with the reason). Writes
to stdout, or to `--output FILE`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from simcare.accounts.export import build_document
from simcare.accounts.models import Subscriber
from simcare.accounts.services import record_audit


class Command(BaseCommand):
    help = "Write a subscriber's own records (the portal's 'download my data') as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("login", help="username, email address or mobile number")
        parser.add_argument("--reason", required=True, help="why (a ticket number), audited")
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        login = options["login"].strip()
        matches = list(
            Subscriber.objects.select_related("user").filter(
                Q(user__username=login) | Q(user__email__iexact=login) | Q(user__phone=login)
            )[:2]
        )
        if len(matches) != 1:
            raise CommandError(f"no single subscriber signs in as {login!r}")
        subscriber = matches[0]
        document = build_document(subscriber, now=timezone.now())
        record_audit(
            "subscriber.data_exported",
            actor=None,
            actor_label="cli",
            target=subscriber,
            reason=options["reason"][:200],
            sections={name: len(rows) for name, rows in document.items() if isinstance(rows, list)},
        )
        text = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
