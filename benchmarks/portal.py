"""Dashboard latency under 50 concurrent subscribers (80-operations.md: p95 < 50 ms).

    python benchmarks/portal.py [--users 50] [--requests 20]

Runs on a throwaway SQLite database in a temporary data dir. It migrates, creates
`--users` subscribers with two lines each (one eSIM, one SIM, plan buckets) and a funded
wallet, signs each in (a session cookie), starts the real ASGI app under uvicorn in a
child process (one worker, as `simcare serve`), and then has every user, each in its own
thread with its own keep-alive connection, request its dashboard `--requests` times, all
at once. In the same run, the same load hits:

- baseline: `/healthz` (the server, the middleware stack, no database work);
- dashboard: `/en/portal/` (session, lines, buckets, wallet, the template);

and it prints p50 / p95 / max in milliseconds and requests per second for each.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
TARGET_P95_MS = 50.0


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
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start in 60 s")


def load(port: int, path: str, cookies: list[str], requests: int) -> tuple[list[float], float]:
    """Every user at once, `requests` each; returns the latencies (ms) and the wall time (s)."""
    timings: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(cookies) + 1)

    def user(cookie: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Cookie": f"sessionid={cookie}", "Host": "localhost"}
        mine = []
        start.wait()
        for _ in range(requests):
            began = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                with lock:
                    failures.append(f"{path}: {response.status}")
        connection.close()
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=user, args=(cookie,)) for cookie in cookies]
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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="simcare-bench-portal-")
    os.environ["SIMCARE_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    sys.path.insert(0, str(SRC))
    cookies = seed(options.users)

    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "simcare.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, server)
        load(port, "/en/portal/", cookies[:5], 2)  # warm up: templates, catalogs, connections
        rows = []
        for label, path in (
            ("baseline /healthz", "/healthz"),
            ("dashboard /en/portal/", "/en/portal/"),
        ):
            timings, wall = load(port, path, cookies, options.requests)
            rows.append(
                (
                    label,
                    statistics.median(timings),
                    percentile(timings, 0.95),
                    max(timings),
                    len(timings) / wall,
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"{options.users} concurrent users x {options.requests} requests each, "
        f"SQLite, one uvicorn worker, {os.cpu_count()} CPUs"
    )
    print(f"{'':24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>8}")
    for label, p50, p95, worst, rate in rows:
        print(f"{label:24} {p50:8.1f} {p95:8.1f} {worst:8.1f} {rate:8.1f}")
    print(f"target: dashboard p95 < {TARGET_P95_MS:.0f} ms (80-operations.md)")


if __name__ == "__main__":
    main()
