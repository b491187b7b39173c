"""Reseller orders over HTTP on PostgreSQL: orders/s at full load and the p99 at 200/s.

    python benchmarks/reseller.py                    # defaults below
    python benchmarks/reseller.py --workers 2 --concurrency 32 --seconds 10 --lines 400

The server runs as deployed: one uvicorn worker a CPU, each holding its PostgreSQL
connections in a pool of SIMCARE_DB_POOL_SIZE (settings.py).

A throwaway PostgreSQL database is created next to DATABASE_URL's (default
postgres://postgres@127.0.0.1:55432/simcare) and dropped at the end. A setup
child migrates it and makes a reseller (funded float, no practical rate limit)
and --lines live lines to renew. Then `simcare serve` (uvicorn) serves it on a
free port, and this process drives it with aiohttp clients:

- baseline: GET /healthz as fast as --concurrency clients can, and at 200/s;
- orders: POST /api/v1/orders (renewals at the wholesale price, a new
  external_order_no each, lines round-robin) as fast as --concurrency clients
  can: fulfilled orders per second;
- orders at 200/s: an open-loop schedule of 200 orders a second for --seconds,
  the latency percentiles (p50, p99) of the answers.

REDIS_URL, when set, is passed to the server (its cache then holds the rate
windows). Targets (80-operations.md): ≥ 500 orders/s; p99 < 100 ms at 200/s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any
from urllib.parse import urlparse, urlunparse

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:55432/simcare"
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
RATE = 200
MAX_IN_FLIGHT = 64
REQUEST_TIMEOUT_SECONDS = 30.0  # an answer later than this counts as a failure (status 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn worker processes (default: one a CPU, as in production)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="clients at full load")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--lines", type=int, default=400, help="lines renewed round-robin")
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.setup:
        print(json.dumps(setup(arguments.lines)))
        return
    base_url = os.environ.get("DATABASE_URL", DEFAULT_POSTGRES_URL)
    name = f"simcare_bench_reseller_{os.getpid()}"
    _postgres_admin(base_url, f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="simcare-bench-") as data_dir:
            env = {
                key: value
                for key, value in os.environ.items()
                if key not in {"DATABASE_URL", "SIMCARE_TESTING"}
            }
            env["SIMCARE_DATA_DIR"] = data_dir
            env["DATABASE_URL"] = urlunparse(urlparse(base_url)._replace(path=f"/{name}"))
            # This checkout's code, not whichever one is installed (as benchmarks/portal.py).
            env["PYTHONPATH"] = os.pathsep.join(
                part for part in (SRC, os.environ.get("PYTHONPATH", "")) if part
            )
            run(arguments, env)
    finally:
        _postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_admin(base_url: str, statement: str) -> None:
    import psycopg

    url = urlunparse(urlparse(base_url)._replace(path="/postgres"))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(arguments: argparse.Namespace, env: dict[str, str]) -> None:
    finished = subprocess.run(
        [sys.executable, __file__, "--setup", "--lines", str(arguments.lines)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise SystemExit(finished.returncode)
    world = json.loads(finished.stdout.strip().splitlines()[-1])
    port = _free_port()
    # The server's log goes to a file: a pipe nobody reads would fill and stall it.
    log = open(os.path.join(env["SIMCARE_DATA_DIR"], "server.log"), "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simcare.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(arguments.workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its worker processes share its group: stopped together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log.name)
        results = asyncio.run(drive(base, world, arguments))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    print_results(results, arguments)
    print_server_errors(log.name)


def print_server_errors(log_path: str) -> None:
    """The distinct exceptions the server logged (a 500's cause), if any."""
    with open(log_path, encoding="utf-8", errors="replace") as log:
        lines = log.read().splitlines()
    causes: dict[str, int] = {}
    for line in lines:
        if line and not line.startswith(" ") and ("Error:" in line or "Exception:" in line):
            causes[line[:200]] = causes.get(line[:200], 0) + 1
    for cause, count in sorted(causes.items(), key=lambda item: -item[1])[:5]:
        print(f"server error x{count}: {cause}")


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as log:
                raise SystemExit(log.read()[-3000:])
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer /healthz within 60 s")


# --- the load ----------------------------------------------------------------------------


class Orders:
    """Renewal bodies: a fresh external_order_no each, lines round-robin."""

    def __init__(self, world: dict[str, Any], label: str) -> None:
        self.lines = itertools.cycle(world["msisdns"])
        self.numbers = itertools.count(1)
        self.plan = world["plan_code"]
        self.label = label

    def next_body(self) -> bytes:
        return json.dumps(
            {
                "external_order_no": f"{self.label}-{next(self.numbers)}",
                "kind": "renewal",
                "msisdn": next(self.lines),
                "plan_code": self.plan,
            }
        ).encode()


async def _request(session: Any, method: str, url: str, body: bytes | None) -> tuple[int, float]:
    """(status, seconds); status 0 for a request that timed out or failed."""
    import aiohttp

    started = time.perf_counter()
    try:
        async with session.request(method, url, data=body) as response:
            await response.read()
            return response.status, time.perf_counter() - started
    except (TimeoutError, aiohttp.ClientError):
        return 0, time.perf_counter() - started


async def full_load(
    session: Any, method: str, url: str, bodies: Any, *, concurrency: int, seconds: float
) -> dict[str, Any]:
    """concurrency clients back to back for `seconds`: answers/s by status."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < stop:
            status, latency = await _request(session, method, url, bodies() if bodies else None)
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(latency)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "statuses": statuses, "latencies": latencies}


async def fixed_rate(
    session: Any, method: str, url: str, bodies: Any, *, rate: int, seconds: float
) -> dict[str, Any]:
    """An open-loop schedule: request i leaves at i/rate whatever the earlier ones do; its
    latency counts from its scheduled time (no coordinated omission)."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(index: int) -> None:
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        status, _latency = await _request(session, method, url, bodies() if bodies else None)
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(index) for index in range(total)))
    return {"elapsed": time.perf_counter() - start, "statuses": statuses, "latencies": latencies}


async def drive(base: str, world: dict[str, Any], arguments: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {world['key']}", "Content-Type": "application/json"}
    # At most MAX_IN_FLIGHT requests open at once (the database's connections are shared);
    # a paced request that waits for a free one still counts its latency from its schedule.
    connector = aiohttp.TCPConnector(limit=max(arguments.concurrency, MAX_IN_FLIGHT))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeout
    ) as session:
        healthz, orders_url = f"{base}/healthz", f"{base}/api/v1/orders"
        full = {"concurrency": arguments.concurrency, "seconds": arguments.seconds}
        paced = {"rate": RATE, "seconds": arguments.seconds}
        warm = Orders(world, "warm").next_body
        await full_load(session, "POST", orders_url, warm, concurrency=4, seconds=2.0)
        return {
            "healthz_full": await full_load(session, "GET", healthz, None, **full),
            "orders_full": await full_load(
                session, "POST", orders_url, Orders(world, "full").next_body, **full
            ),
            "healthz_rate": await fixed_rate(session, "GET", healthz, None, **paced),
            "orders_rate": await fixed_rate(
                session, "POST", orders_url, Orders(world, "rate").next_body, **paced
            ),
        }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def print_results(results: dict[str, Any], arguments: argparse.Namespace) -> None:
    print(
        f"reseller API on PostgreSQL: uvicorn with {arguments.workers} worker(s), "
        f"{arguments.concurrency} clients at full load, {arguments.seconds:.0f} s a phase, "
        f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at the end"
    )
    header = f"{'phase':<26} {'answers/s':>10} {'ok':>7} {'other':>7} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    rows = (
        ("baseline GET /healthz, full", "healthz_full", 200),
        ("orders POST, full", "orders_full", 201),
        ("baseline GET /healthz, 200/s", "healthz_rate", 200),
        ("orders POST, 200/s", "orders_rate", 201),
    )
    for label, key, ok_status in rows:
        phase = results[key]
        ok = phase["statuses"].get(ok_status, 0)
        other = sum(phase["statuses"].values()) - ok
        print(
            f"{label:<26} {ok / phase['elapsed']:>10,.0f} {ok:>7,} {other:>7,} "
            f"{_percentile(phase['latencies'], 0.5):>8.1f} "
            f"{_percentile(phase['latencies'], 0.99):>8.1f}"
        )
        if other:
            print(f"{'':<26} statuses: {dict(sorted(phase['statuses'].items()))}")
    orders, rate = results["orders_full"], results["orders_rate"]
    healthz, healthz_rate = results["healthz_full"], results["healthz_rate"]
    print(
        f"\nfulfilled orders/s at full load: "
        f"{orders['statuses'].get(201, 0) / orders['elapsed']:,.0f} (target ≥ 500); "
        f"p99 at 200/s: {_percentile(rate['latencies'], 0.99):.1f} ms (target < 100 ms)\n"
        f"baseline GET /healthz: {healthz['statuses'].get(200, 0) / healthz['elapsed']:,.0f}/s, "
        f"p99 at 200/s {_percentile(healthz_rate['latencies'], 0.99):.1f} ms"
    )


# --- the world (a child process with Django set up) ----------------------------------------


def setup(line_count: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    from simcare.accounts.services import create_subscriber
    from simcare.catalog.models import Plan
    from simcare.kit.iccid import make_iccid
    from simcare.lines import services as line_services
    from simcare.lines.models import Number, SimCard, SimKind
    from simcare.partners import services
    from simcare.partners.models import WholesalePrice

    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    plan = Plan.objects.create(
        code="bench30", name_en="Bench 30 days", price_cents=3500, validity_days=30, data_mb=20480
    )
    reseller = services.create_reseller(
        name="Bench Shop", slug="bench", acting_user=None, rate_limit_per_second=1_000_000
    )
    WholesalePrice.objects.create(reseller=reseller, plan=plan, price_cents=3000)
    services.top_up_float(
        reseller,
        amount_cents=10_000_000_000,
        source="clearing:bank",
        reference="bench",
        idempotency_key="bench",
        acting_user=None,
    )
    _row, key = services.issue_api_key(reseller, acting_user=None)
    msisdns = []
    for index in range(line_count):
        subscriber = create_subscriber(username=f"bench{index}", password=None)
        msisdn = f"+1613{5550000 + index:07d}"
        Number.objects.create(msisdn=msisdn)
        sim = SimCard.objects.create(
            iccid=make_iccid(f"89123999{index:010d}"), kind=SimKind.PHYSICAL, location="BENCH"
        )
        line_services.activate_line(
            subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None, sim=sim, msisdn=msisdn
        )
        msisdns.append(msisdn)
    return {"key": key, "plan_code": plan.code, "msisdns": msisdns}


if __name__ == "__main__":
    main()
