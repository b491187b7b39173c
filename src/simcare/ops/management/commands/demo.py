from __future__ import annotations

import os
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from simcare.demo import credentials
from simcare.demo.loader import load_demo
from simcare.demo.processes import serve_with_worker

# Where a browser should go when the server listens on every interface.
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}  # noqa: S104


def browsable_base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def logins_panel(
    demo: credentials.DemoCredentials, *, serving: bool, seconds: float, worker_pid: int | None
) -> Panel:
    base = demo["base_url"]
    urls = Table.grid(padding=(0, 2))
    urls.add_column(style="bold")
    urls.add_column()
    urls.add_row("Portal", f"{base}/en/  (also /zh-hans/ and /fr/)")
    urls.add_row("Admin", f"{base}/en/admin/  (password + TOTP code)")
    urls.add_row("Health", f"{base}/healthz  {base}/readyz  {base}/metrics")

    logins = Table(box=None, padding=(0, 1))
    logins.add_column("role")
    logins.add_column("username", overflow="fold")
    # Folded, never cut with an ellipsis: these are copied by hand.
    logins.add_column("password", overflow="fold")
    logins.add_column("TOTP secret (base32) / lines", overflow="fold")
    for role in credentials.STAFF_ROLES:
        staff: credentials.StaffLogin = demo[role]  # type: ignore[literal-required]
        logins.add_row(role, staff["username"], staff["password"], staff["totp_secret"])
    subscriber = demo["subscriber"]
    logins.add_row(
        "subscriber",
        subscriber["username"],
        subscriber["password"],
        " ".join(subscriber["msisdns"]),
    )

    data_dir = settings.DATA_DIR
    notes = [
        f"All of it is in {credentials.path_in(data_dir)}.",
        "TOTP: add the secret to an authenticator app (README.md, 'Signing in to the admin').",
    ]
    if demo["vouchers"]:
        notes.append(
            f"{len(demo['vouchers'])} voucher PINs to redeem into a wallet are in the same file."
        )
    if serving:
        notes.append(f"Web server and worker (pid {worker_pid}) running; Ctrl-C stops both.")
        title = f"simcare demo · data ready in {seconds:.1f} s"
    else:
        notes.append("Not serving (--no-serve): start `simcare serve` and `simcare worker`.")
        title = f"simcare demo · data loaded in {seconds:.1f} s"

    body = Table.grid(padding=(1, 0))
    body.add_row(urls)
    body.add_row(logins)
    body.add_row("\n".join(notes))
    return Panel(body, title=title, expand=False)


class Command(BaseCommand):
    help = (
        "Migrate the embedded database, load the demo data once, write "
        "demo-credentials.json, then run the web server and the worker together."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="listen port (8000)")
        parser.add_argument(
            "--data-dir",
            help="where the database and files live (default ./var or SIMCARE_DATA_DIR); "
            "read by the simcare script before settings load",
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="load the data and write the credentials, then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "simcare demo refuses to run with SIMCARE_PRODUCTION set: its logins are "
                "demo secrets written to a file."
            )
        data_dir = settings.DATA_DIR
        if options["data_dir"] and os.path.abspath(options["data_dir"]) != str(data_dir):
            raise CommandError(
                "--data-dir must be given to the simcare script (simcare demo --data-dir D), "
                "which applies it before the settings load."
            )
        started = time.monotonic()
        console = Console(file=sys.stdout)
        with console.status("Preparing the database and the demo data…"):
            call_command("migrate", interactive=False, verbosity=0)
            demo, summary = load_demo(
                data_dir=data_dir, base_url=browsable_base_url(options["host"], options["port"])
            )
        if summary.created_anything:
            console.print(
                f"Loaded {summary.plans} plans, {summary.addons} add-ons, {summary.stores} stores, "
                f"{summary.numbers} numbers, {summary.sims} SIMs, {summary.esims} eSIMs, "
                f"{summary.users} users and {summary.lines} lines."
            )
        else:
            console.print("The demo data was already loaded; nothing changed.")
        seconds = time.monotonic() - started

        if options["no_serve"]:
            console.print(logins_panel(demo, serving=False, seconds=seconds, worker_pid=None))
            return

        def announce(worker_pid: int) -> None:
            console.print(logins_panel(demo, serving=True, seconds=seconds, worker_pid=worker_pid))

        status = serve_with_worker(
            host=options["host"], port=options["port"], data_dir=data_dir, on_started=announce
        )
        if status:
            raise CommandError("the demo stopped because the web server or the worker failed")
