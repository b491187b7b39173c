"""Dashboard latency under 50 concurrent subscribers (80-operations.md: p95 < 50 ms).

    python benchmarks/portal.py [--users 50] [--requests 20] [--think 1.0] [--workers N]
    DATABASE_URL=postgres://… python benchmarks/portal.py     # on PostgreSQL

It seeds a throwaway database (SQLite in a temporary data dir; with DATABASE_URL, a
PostgreSQL database created next to it and dropped at the end) with `--users` subscribers,
two lines each (one eSIM, one SIM, plan buckets) and a funded wallet, and signs each in (a
session cookie). It serves it like production: `simcare serve` with `--workers` uvicorn
processes (default: one per CPU), SIMCARE_PRODUCTION=1 (DEBUG off, JSON logs at INFO,
secure cookies, the proxy's X-Forwarded-Proto: https on every request). Every user has its
own thread and keep-alive connection.

Two load shapes, each on the baseline and on the page, in the same run:

- users (the target's figure): each of the 50 users asks for the page, reads it for a
  random think time (exponential, mean `--think` seconds, at most 4.5 s), and asks again,
  `--requests` times; the latency is what one of 50 people using the portal at once waits;
- saturation: the same users with no think time, so there are always 50 requests in
  the server; their latency is the queue (about users / throughput) and the figure that
  matters is requests per second.

baseline: `/healthz` (the server, the whole middleware stack, no database work);
dashboard: `/en/portal/` (session, user, lines, buckets, wallet, the template).
It prints p50 / p95 / p99 / max in milliseconds, requests per second, and the server's CPU
time per request (which other work on a shared machine does not inflate) for each.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

SRC = Path(__file__).resolve().parent.parent / "src"
TARGET_P95_MS = 50.0
KEEP_ALIVE_SECONDS = 4.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(users: int) -> list[str]:
    """Subscribers with two lines each; returns their session cookies."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from simcare.accounts import services as account_services
    from simcare.catalog.models import Plan
    from simcare.kit.iccid import make_iccid
    from simcare.ledger import services as ledger
    from simcare.lines import services as line_services
    from simcare.lines.models import Number, SimCard, SimKind

    call_command("migrate", verbosity=0, interactive=False)
    plan = Plan.objects.create(
        code="talk30",
        name_en="Canada 30 days",
        name_fr="Canada 30 jours",
        name_zh_hans="加拿大30天",
        price_cents=3500,
        validity_days=30,
        data_mb=20480,
        voice_minutes=1000,
        sms_messages=None,
    )
    cookies = []
    for index in range(users):
        subscriber = account_services.create_subscriber(
            username=f"bench{index}", password=None, email=f"bench{index}@example.com"
        )
        for kind in (SimKind.ESIM, SimKind.PHYSICAL):
            serial = index * 2 + (kind == SimKind.ESIM)
            number = Number.objects.create(msisdn=f"+1416555{serial:04d}")
            sim = SimCard.objects.create(
                iccid=make_iccid(f"89123000009{serial:07d}"),
                kind=kind,
                smdp_address="smdp.example.com" if kind == SimKind.ESIM else "",
                matching_id=f"BENCH-{serial}" if kind == SimKind.ESIM else "",
                location="" if kind == SimKind.ESIM else "WAREHOUSE",
            )
            line_services.activate_line(
                subscriber, plan, kind=kind, acting_user=None, sim=sim, msisdn=number.msisdn
            )
        ledger.transfer(
            kind="wallet_topup",
            source=ledger.system_account("clearing:stripe"),
            destination=ledger.wallet_for(subscriber),
            amount_cents=5000,
        )
        client = Client()
        client.force_login(subscriber.user, backend="simcare.accounts.backends.EmailOrPhoneBackend")
        cookies.append(client.cookies["sessionid"].value)
    return cookies


def wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start in 60 s")


def load(
    port: int, path: str, cookies: list[str], requests: int, think: float
) -> tuple[list[float], float]:
    """Every user at once, `requests` each, a random think time of mean `think` seconds
    between two of one user's requests; returns the latencies (ms) and the wall time (s)."""
    timings: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(cookies) + 1)

    def user(number: int, cookie: str) -> None:
        pause = random.Random(number)  # think times, not secrets
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {
            "Cookie": f"sessionid={cookie}",
            "Host": "localhost",
            "X-Forwarded-Proto": "https",
        }
        mine = []
        start.wait()
        if think:
            time.sleep(pause.uniform(0, think))  # users arrive spread out, not in one burst
        for _ in range(requests):
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError):
                # The server closed the idle keep-alive connection: reconnect, as browsers do.
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                began = time.perf_counter()
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                with lock:
                    failures.append(f"{path}: {response.status}")
            if think:  # below uvicorn's 5 s keep-alive timeout
                time.sleep(min(pause.expovariate(1 / think), KEEP_ALIVE_SECONDS))
        connection.close()
        with lock:
            timings.extend(mine)

    threads = [
        threading.Thread(target=user, args=(number, cookie))
        for number, cookie in enumerate(cookies)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return timings, wall


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server and its worker processes so far (Linux /proc;
    0 elsewhere): the cost per request that other work on the machine does not inflate."""
    total = 0.0
    pending = [pid]
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def postgres_admin(base_url: str, statement: str) -> None:
    import psycopg

    url = urlunparse(urlparse(base_url)._replace(path="/postgres"))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="per user and load shape")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="simcare-bench-portal-")
    base_url = os.environ.get("DATABASE_URL", "")
    database_name = f"simcare_bench_portal_{os.getpid()}"
    os.environ.update(
        {
            "SIMCARE_DATA_DIR": data_dir,
            "SIMCARE_PRODUCTION": "1",
            "SIMCARE_SECRET_KEY": secrets.token_urlsafe(50),
            "SIMCARE_FIELD_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "SIMCARE_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "simcare.settings",
        }
    )
    os.environ.pop("SIMCARE_TESTING", None)
    if base_url:
        postgres_admin(base_url, f'CREATE DATABASE "{database_name}"')
        os.environ["DATABASE_URL"] = urlunparse(
            urlparse(base_url)._replace(path=f"/{database_name}")
        )
    sys.path.insert(0, str(SRC))
    server: subprocess.Popen[bytes] | None = None
    try:
        cookies = seed(options.users)
        port = free_port()
        env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simcare.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(options.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(port, server)
        load(port, "/en/portal/", cookies, 5, 0)  # warm up every worker: templates, catalogs
        rows = []
        for shape, think in (("users", options.think), ("saturation", 0.0)):
            for label, path in (("baseline /healthz", "/healthz"), ("dashboard", "/en/portal/")):
                cpu_before = server_cpu_seconds(server.pid)
                timings, wall = load(port, path, cookies, options.requests, think)
                cpu = server_cpu_seconds(server.pid) - cpu_before
                rows.append(
                    (
                        f"{shape}: {label}",
                        statistics.median(timings),
                        percentile(timings, 0.95),
                        percentile(timings, 0.99),
                        max(timings),
                        len(timings) / wall,
                        cpu * 1000 / len(timings),
                    )
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if base_url:
            from django.db import connections

            connections.close_all()
            postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')

    database = "PostgreSQL" if base_url else "SQLite"
    print(
        f"{options.users} users x {options.requests} requests each, think time "
        f"{options.think:g} s (users) and none (saturation); {database}, "
        f"{options.workers} uvicorn worker(s), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':30} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}"
        f" {'CPU ms/req':>11}"
    )
    for label, p50, p95, p99, worst, rate, cpu_ms in rows:
        print(
            f"{label:30} {p50:8.1f} {p95:8.1f} {p99:8.1f} {worst:8.1f} {rate:8.1f} {cpu_ms:11.2f}"
        )
    print("CPU ms/req: the server processes' CPU time (user + system) per request")
    print(f"target: dashboard p95 < {TARGET_P95_MS:.0f} ms for the 50 users (80-operations.md)")


if __name__ == "__main__":
    main()
