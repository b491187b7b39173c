"""A real Kannel (Debian's `kannel` package) for the gateway tests, on 127.0.0.1.

`KannelGateway` writes a kannel.conf to a temporary directory and starts
bearerbox and smsbox from it. The SMSC bearerbox binds to is our SMPP server
(tests/notify/smpp_server.py), which sends delivery receipts as an SMSC does;
Kannel's own `fakesmsc` has no delivery reports to give. smsbox's delivery
reports go to the dlr-url, whose host is our public base URL: a recorder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.notify.smpp_server import SmppServer

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
STARTUP_SECONDS = 30


def kannel_installed() -> bool:
    return Path(BEARERBOX).exists() and Path(SMSBOX).exists()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: object, what: str, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"Kannel: {what} did not happen within {seconds} s")


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class KannelGateway:
    directory: Path
    smsc: SmppServer
    username: str = "simcare"
    password: str = "sendsms-secret"  # the test gateway's
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def config(self) -> str:
        logs = self.directory
        return f"""group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = admin-secret
admin-allow-ip = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{logs}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = standin
host = 127.0.0.1
port = {self.smsc.port}
transceiver-mode = true
smsc-username = {self.smsc.system_id}
smsc-password = {self.smsc.password}
system-type = ""
msg-id-type = 0x00
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{logs}/smsbox.log"
log-level = 1

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 3
concatenation = true

group = sms-service
keyword = default
text = "No service"
"""

    def start(self) -> KannelGateway:
        path = self.directory / "kannel.conf"
        path.write_text(self.config(), encoding="utf-8")
        output = (self.directory / "boxes.out").open("ab")
        self.processes.append(
            subprocess.Popen([BEARERBOX, str(path)], stdout=output, stderr=subprocess.STDOUT)
        )
        wait_until(lambda: accepts_connections(self.smsbox_port), "bearerbox listening")
        self.processes.append(
            subprocess.Popen([SMSBOX, str(path)], stdout=output, stderr=subprocess.STDOUT)
        )
        wait_until(lambda: bool(self.smsc.binds), "bearerbox binding to the SMSC")
        wait_until(lambda: accepts_connections(self.sendsms_port), "smsbox listening")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()
