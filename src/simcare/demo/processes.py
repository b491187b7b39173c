"""The web server and the worker, run together by `simcare demo` and stopped together.

The web server runs in this process (uvicorn, as `simcare serve`), the worker
in a child process (`simcare worker`, same environment) started once the web
server listens. Ctrl-C or SIGTERM
stops the web server gracefully, then the worker; if the worker dies on its
own, the web server stops too, so the demo never runs half of itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from simcare.ops.logs import get_logger

logger = get_logger(__name__)

WORKER_STOP_SECONDS = 15
# The demo's numbers are well-formed Canadian numbers that may belong to real
# people: its text messages go to the file under the data dir, whatever
# SIMCARE_SMS_BACKEND says (docs/decisions.md).
DEMO_SMS_BACKEND = "simcare.notify.sms.FileSmsBackend"


class _StopRequested(Exception):  # a signal, not an error
    pass


def _raise_stop(signal_number: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signal_number).name)


def start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SIMCARE_DATA_DIR": str(data_dir),
        "SIMCARE_SMS_BACKEND": DEMO_SMS_BACKEND,
    }
    return subprocess.Popen(  # our own interpreter and module, no shell
        [sys.executable, "-m", "simcare.cli", "worker"], env=environment
    )


def stop_worker(worker: subprocess.Popen[bytes]) -> int:
    """SIGINT is Huey's graceful stop (running tasks finish); SIGTERM, then SIGKILL if stuck."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            return worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.terminate()
        try:
            return worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
    return worker.wait()


def _web_server(host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        "simcare.asgi:application",
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        lifespan="off",
    )
    return uvicorn.Server(config)


class _WorkerSupervisor:
    """Starts the worker once the web server listens; stops the web server if the worker dies.

    Starting the worker only after the port is bound means a demo that cannot
    listen (the port is taken) never leaves a worker behind.
    """

    def __init__(
        self, server: uvicorn.Server, data_dir: Path, on_started: Callable[[int], None]
    ) -> None:
        self.server = server
        self.data_dir = data_dir
        self.on_started = on_started
        self.worker: subprocess.Popen[bytes] | None = None
        self.died = threading.Event()
        self._lock = threading.Lock()
        self._stopping = False

    def run(self) -> None:
        while not self.server.started:
            if self.server.should_exit:
                return
            time.sleep(0.05)
        with self._lock:
            if self._stopping:
                return
            self.worker = start_worker(self.data_dir)
        self.on_started(self.worker.pid)
        self.worker.wait()
        if not self._stopping:
            self.died.set()
            self.server.should_exit = True

    def stop(self) -> int | None:
        with self._lock:
            self._stopping = True
            worker = self.worker
        return None if worker is None else stop_worker(worker)


def serve_with_worker(
    *, host: str, port: int, data_dir: Path, on_started: Callable[[int], None]
) -> int:
    """Run until a signal or a crash; return the exit status (0 after a requested stop).

    on_started receives the worker's process id once the web server listens
    and the worker is launched.
    """
    previous_handlers = {
        signal_number: signal.signal(signal_number, _raise_stop)
        for signal_number in (signal.SIGINT, signal.SIGTERM)
    }
    server = _web_server(host, port)
    supervisor = _WorkerSupervisor(server, data_dir, on_started)
    status = 0
    try:
        threading.Thread(target=supervisor.run, name="worker-supervisor", daemon=True).start()
        server.run()
    except _StopRequested as stop:
        logger.info("demo.stopping", signal=str(stop))
    except SystemExit as exit_:
        # uvicorn exits this way when it cannot start, e.g. the port is taken.
        status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        server.should_exit = True
        # A second Ctrl-C must not cut the worker's stop short: it is bounded anyway.
        for signal_number in previous_handlers:
            signal.signal(signal_number, signal.SIG_IGN)
        worker_status = supervisor.stop()
        if supervisor.died.is_set():
            logger.error("demo.worker_died", exit_status=worker_status)
            status = status or 1
        for signal_number, handler in previous_handlers.items():
            signal.signal(signal_number, handler)
    return status
