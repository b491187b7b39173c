"""Chat: WebSocket clients one `simcare serve` process holds, and message delivery p50/p99.

    python benchmarks/chat.py                       # 5,000 clients, 2,000 messages
    python benchmarks/chat.py --clients 1000 --messages 500

In the same run:
- baseline: a bare echo server (the `websockets` library, one process, no Django) holding
  the same number of clients, and the round trip of the same number of messages;
- simcare: one `simcare serve` (uvicorn + Channels) on a fresh SQLite data dir. Every
  client opens a visitor chat (a signed token, a conversation row), then sends messages;
  a message counts as delivered when its own copy comes back through the channel layer
  after being stored, which is the path every agent and visitor message takes.

Clients connect in batches of 100; "held" counts the clients still connected after every
message was delivered. Messages go out from random clients with at most --in-flight
(default 10) awaiting delivery at once; messages/s is the rate that sustained.
Add REDIS_URL to measure the Redis channel layer instead of the in-memory one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

SOURCE = Path(__file__).resolve().parents[1] / "src"
BATCH = 100

ECHO_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(connection):
    async for message in connection:
        await connection.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=2**20, ping_interval=None):
        await asyncio.Future()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, path: str = "") -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            if path:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                    return
            else:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Run:
    def __init__(self, url: str, origin: str, *, chat: bool, in_flight: int) -> None:
        self.in_flight = in_flight
        self.url = url
        self.origin = origin
        self.chat = chat
        self.waiting: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self.connections: list[ClientConnection] = []
        self.failures = 0

    async def open_one(self) -> None:
        try:
            connection = await connect(
                self.url, origin=self.origin, open_timeout=60, ping_interval=None, max_size=2**20
            )  # type: ignore[arg-type]
            if self.chat:
                session = json.loads(await asyncio.wait_for(connection.recv(), timeout=60))
                assert session["type"] == "session"
        except (OSError, TimeoutError, AssertionError, Exception):
            self.failures += 1
            return
        self.connections.append(connection)
        asyncio.get_running_loop().create_task(self.reader(connection))

    async def reader(self, connection: ClientConnection) -> None:
        try:
            async for raw in connection:
                frame = json.loads(raw)
                key = frame.get("client_id") if self.chat else frame.get("id")
                entry = self.waiting.pop(key, None) if key else None
                if entry is not None and not entry[1].done():
                    entry[1].set_result(time.perf_counter() - entry[0])
        except Exception:  # noqa: S110  (a dropped client is counted by `held`)
            pass

    async def open_all(self, clients: int) -> float:
        started = time.perf_counter()
        for first in range(0, clients, BATCH):
            await asyncio.gather(*(self.open_one() for _ in range(min(BATCH, clients - first))))
        return time.perf_counter() - started

    async def one_message(self, number: int, semaphore: asyncio.Semaphore) -> float | None:
        async with semaphore:
            connection = random.choice(self.connections)
            key = f"m{number}"
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self.waiting[key] = (time.perf_counter(), future)
            body = {"type": "message", "body": f"message {number} 👋", "client_id": key}
            if not self.chat:
                body["id"] = key
            try:
                await connection.send(json.dumps(body))
                return await asyncio.wait_for(future, timeout=30)
            except (TimeoutError, Exception):
                return None

    async def measure(self, messages: int) -> list[float]:
        semaphore = asyncio.Semaphore(self.in_flight)
        results = await asyncio.gather(*(self.one_message(n, semaphore) for n in range(messages)))
        return [result * 1000 for result in results if result is not None]

    def held(self) -> int:
        return sum(1 for connection in self.connections if connection.state.name == "OPEN")

    async def close(self) -> None:
        await asyncio.gather(
            *(connection.close() for connection in self.connections), return_exceptions=True
        )


async def run(
    url: str, origin: str, *, chat: bool, clients: int, messages: int, in_flight: int
) -> dict[str, Any]:
    bench = Run(url, origin, chat=chat, in_flight=in_flight)
    connect_seconds = await bench.open_all(clients)
    if chat:
        await asyncio.to_thread(activate_conversations)
    started = time.perf_counter()
    latencies = await bench.measure(messages)
    elapsed = time.perf_counter() - started
    held = bench.held()
    await bench.close()
    return {
        "clients_held": held,
        "connect_failures": bench.failures,
        "connect_seconds": round(connect_seconds, 1),
        "delivered": len(latencies),
        "messages_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def activate_conversations() -> None:
    """Put every chat with an agent, so a message is stored and relayed (no bot, no queue)."""
    import django

    django.setup()
    from simcare.care.models import Conversation, ConversationStatus

    Conversation.objects.update(status=ConversationStatus.ACTIVE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=10)
    options = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="simcare-chat-bench-")
    environment = {
        **os.environ,
        "PYTHONPATH": f"{SOURCE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "SIMCARE_DATA_DIR": data_dir,
        "SIMCARE_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "simcare.settings",
    }
    environment.pop("DATABASE_URL", None)
    os.environ.update({k: environment[k] for k in ("SIMCARE_DATA_DIR", "DJANGO_SETTINGS_MODULE")})
    sys.path.insert(0, str(SOURCE))
    subprocess.run(
        [sys.executable, "-m", "simcare.cli", "migrate", "-v0"], env=environment, check=True
    )

    report: dict[str, Any] = {
        "clients": options.clients,
        "messages": options.messages,
        "in_flight": options.in_flight,
    }
    echo_port = free_port()
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(echo_port)])
    try:
        wait_for_port(echo_port, echo)
        report["baseline_echo"] = asyncio.run(
            run(
                f"ws://127.0.0.1:{echo_port}/",
                f"http://127.0.0.1:{echo_port}",
                chat=False,
                clients=options.clients,
                messages=options.messages,
                in_flight=options.in_flight,
            )
        )
    finally:
        echo.terminate()
        echo.wait()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "simcare.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
    )
    try:
        wait_for_port(port, server, path="/healthz")
        report["simcare_chat"] = asyncio.run(
            run(
                f"ws://127.0.0.1:{port}/ws/care/chat/?language=en",
                f"http://127.0.0.1:{port}",
                chat=True,
                clients=options.clients,
                messages=options.messages,
                in_flight=options.in_flight,
            )
        )
    finally:
        server.terminate()
        server.wait()
    report["channel_layer"] = "redis" if os.environ.get("REDIS_URL") else "in-memory"
    report["targets"] = {"clients_held": 5000, "p99_ms": 100}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
