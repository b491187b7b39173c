"""`simcare serve` processes on the test database, for tests that need real WebSockets
(several processes on Redis, the browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

SOURCE = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "postgresql":
        user = database["USER"] or "postgres"
        password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
        return (
            f"postgres://{user}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    return f"sqlite:///{database['NAME']}"


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simcare serve on {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"simcare serve on {port} did not start")


@contextmanager
def web_processes(count: int, data_dir: Path) -> Iterator[list[int]]:
    """`count` web servers on 127.0.0.1 sharing the test database (and REDIS_URL if set)."""
    environment = {
        **os.environ,
        "PYTHONPATH": f"{SOURCE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DATABASE_URL": database_url(),
        "SIMCARE_DATA_DIR": str(data_dir),
        "SIMCARE_SECRET_KEY": settings.SECRET_KEY,
        "SIMCARE_FIELD_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SIMCARE_TESTING": "",
        "SIMCARE_LOG_LEVEL": "WARNING",
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "simcare.cli", "serve", "--host", "127.0.0.1", "--port", str(p)],
            env=environment,
        )
        for p in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_until_up(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
