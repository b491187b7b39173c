"""`simcare kb import FILE.json`, `simcare kb export`, `simcare kb ask [--language L] [--json] Q`.

Import exit codes (as the other imports): 0 every article applied (unchanged ones
count as applied), 3 some articles rejected (the others applied), 2 file refused
(unreadable, not JSON, not a list). The file shape is 90-interfaces.md's:
[{"slug", "category", "translations": {"<lang>": {"question", "alternatives", "answer"}}}].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simcare.care import queries, retrieval, services
from simcare.care.bot import answer_for
from simcare.care.errors import KnowledgeBaseFileRefused

EXIT_REFUSED = 2
EXIT_SOME_REJECTED = 3


class Command(BaseCommand):
    help = "The knowledge base: import or export it as JSON, or ask what the bot would answer."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        importer = sub.add_parser("import", help="upsert the articles of FILE.json by slug")
        importer.add_argument("file", metavar="FILE.json")
        sub.add_parser("export", help="print every article as JSON (the import's shape)")
        ask = sub.add_parser("ask", help="what the bot would answer")
        ask.add_argument("question")
        ask.add_argument(
            "--language",
            choices=retrieval.LANGUAGES,
            help="the conversation's language (default: detected from the question)",
        )
        ask.add_argument(
            "--json",
            action="store_true",
            help='print {"slug", "score", "handoff", "language"}',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import":
            self._import(Path(options["file"]))
        elif action == "export":
            self.stdout.write(json.dumps(queries.export_articles(), ensure_ascii=False, indent=2))
        else:
            self._ask(options["question"], options["language"], as_json=options["json"])

    def _import(self, path: Path) -> None:
        try:
            with path.open(encoding="utf-8-sig") as source:
                items = services.read_kb_file(source)
        except KnowledgeBaseFileRefused as refusal:
            raise CommandError(
                f"{path}: refused, nothing imported: {refusal.message}", returncode=EXIT_REFUSED
            ) from refusal
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            raise CommandError(
                f"{path}: cannot read: {reason or error}", returncode=EXIT_REFUSED
            ) from error
        report = services.import_articles(items, acting_user=None, source_name=path.name)
        self.stdout.write(
            f"{path.name}: {report.articles_read} articles read, {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged, "
            f"{len(report.rejected)} rejected"
        )
        for rejected in report.rejected:
            slug = f" ({rejected.slug})" if rejected.slug else ""
            self.stdout.write(f"article {rejected.number}{slug}: {rejected.reason}")
        if report.rejected:
            raise CommandError(
                f"{len(report.rejected)} of {report.articles_read} articles rejected; "
                "the other articles were applied",
                returncode=EXIT_SOME_REJECTED,
            )

    def _ask(self, question: str, language: str | None, *, as_json: bool) -> None:
        answer = answer_for(question, language=language)
        if as_json:
            self.stdout.write(json.dumps(answer.as_json(), ensure_ascii=False))
            return
        article = answer.slug or "-"
        self.stdout.write(
            f"[{answer.language}] article {article}, score {answer.score:.2f}"
            f"{', hand-off to a person' if answer.handoff else ''}"
        )
        self.stdout.write(answer.text)
