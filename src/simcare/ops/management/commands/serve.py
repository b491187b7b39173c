"""`simcare serve`: uvicorn (uvloop, httptools, the websockets library) serving simcare.asgi.

Workers: SIMCARE_WEB_WORKERS, else one per CPU when REDIS_URL is set, else one: the
in-memory channel layer of the embedded default relays chat within one process only.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def default_workers() -> int:
    configured = os.environ.get("SIMCARE_WEB_WORKERS")
    if configured:
        return int(configured)
    return (os.cpu_count() or 1) if settings.REDIS_URL else 1


class Command(BaseCommand):
    help = (
        "Run the ASGI web server (HTTP and WebSocket) with uvicorn; --workers N processes "
        "(one a CPU), each with at most SIMCARE_DB_POOL_SIZE PostgreSQL connections."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("SIMCARE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SIMCARE_PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=None, help="processes (see the module's docstring)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        uvicorn.run(
            "simcare.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"] or default_workers(),
            log_config=None,
            access_log=False,
            proxy_headers=True,
            lifespan="off",
        )
