from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from simcare.ops.jobs import discover, run_job


class Command(BaseCommand):
    help = "List the periodic jobs, or run one now in this process: jobs list | jobs run NAME."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the jobs and their schedules")
        run = sub.add_parser("run", help="run one job now, once")
        run.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        registry = discover()
        if options["action"] == "list":
            table = Table("job", "schedule (minute hour day month weekday)", "what it does")
            for job in sorted(registry.values(), key=lambda item: item.name):
                table.add_row(job.name, job.schedule, job.description)
            console = Console(file=io.StringIO(), width=120)
            console.print(table)
            self.stdout.write(console.file.getvalue())  # type: ignore[attr-defined]
            return
        name = options["name"]
        if name not in registry:
            known = ", ".join(sorted(registry))
            raise CommandError(f"no job named {name!r}; the jobs are: {known}")
        summary = run_job(name)
        self.stdout.write(json.dumps({"job": name, **summary}, default=str))
