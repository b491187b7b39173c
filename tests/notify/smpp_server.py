"""A small SMPP 3.4 SMSC on 127.0.0.1 for the gateway tests, built on smpplib's PDU classes.

It accepts bind_transmitter / bind_receiver / bind_transceiver (checking the
password), answers submit_sm with a decimal message id, keeps every submitted
part, and sends a deliver_sm delivery receipt for each part that asked for one
(registered_delivery) to a receiving bind, the way an SMSC stores and forwards
them: a receipt not acknowledged (deliver_sm_resp) goes out again on the next
bind. Destinations in `refuse` get that command_status instead; `hold_receipts`
keeps receipts back until the next receiving bind.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import smpplib.consts
import smpplib.gsm
import smpplib.smpp

# esm_class bits 2-5 = 0001: the deliver_sm is an SMSC delivery receipt (SMPP 3.4 §5.2.12).
SMSC_DELIVERY_RECEIPT = 0x04


@dataclass
class Submitted:
    system_id: str
    source: str
    destination: str
    short_message: bytes
    data_coding: int
    esm_class: int
    message_id: str

    @property
    def text(self) -> str:
        body = self.short_message
        if self.esm_class & smpplib.consts.SMPP_GSMFEAT_UDHI:
            body = body[body[0] + 1 :]
        if self.data_coding == smpplib.consts.SMPP_ENCODING_ISO10646:
            return body.decode("utf-16-be")
        return gsm_decode(body)


def gsm_decode(data: bytes) -> str:
    """GSM 03.38 septets, one per byte (as smpplib sends them), with the 0x1B escape."""
    table = smpplib.gsm.GSM_CHARACTER_TABLE
    text, escaped = [], False
    for byte in data:
        if byte == 0x1B:
            escaped = True
            continue
        text.append(table[byte + 0x80] if escaped else table[byte])
        escaped = False
    return "".join(text)


class _Sequence:
    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        with self._lock:
            return next(self._counter)


@dataclass
class SmppServer:
    system_id: str = "simcare"
    password: str = "secret"  # the stand-in's, not a secret
    receipt_state: str = "DELIVRD"
    hold_receipts: bool = False  # keep receipts for the next receiving bind, as a slow SMSC does
    refuse: dict[str, int] = field(default_factory=dict)
    submitted: list[Submitted] = field(default_factory=list)
    binds: list[str] = field(default_factory=list)
    receipts_acknowledged: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self._sequence = _Sequence()
        self._ids = itertools.count(100_000_001)
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}  # message id → the receipt PDU not yet acknowledged
        self._receivers: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    # lifecycle

    def start(self) -> SmppServer:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for connection in self._receivers:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _address = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    # wire

    @staticmethod
    def _read_exact(connection: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read_pdu(self, connection: socket.socket) -> Any:
        raw_length = self._read_exact(connection, 4)
        (length,) = struct.unpack(">L", raw_length)
        data = raw_length + self._read_exact(connection, length - 4)
        return smpplib.smpp.parse_pdu(data, client=self._sequence, allow_unknown_opt_params=True)

    def _respond(
        self, connection: socket.socket, command: str, request: Any, **fields: Any
    ) -> None:
        response = smpplib.smpp.make_pdu(command, client=self._sequence, **fields)
        response.sequence = request.sequence
        connection.sendall(response.generate())

    def _serve(self, connection: socket.socket) -> None:
        system_id = ""
        try:
            while not self._stopped.is_set():
                pdu = self._read_pdu(connection)
                if pdu.command.startswith("bind_"):
                    system_id = self._bind(connection, pdu)
                elif pdu.command == "submit_sm":
                    self._submit(connection, pdu, system_id)
                elif pdu.command == "deliver_sm_resp":
                    self._acknowledged(pdu)
                elif pdu.command == "enquire_link":
                    self._respond(connection, "enquire_link_resp", pdu)
                elif pdu.command == "unbind":
                    self._respond(connection, "unbind_resp", pdu)
                    break
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            with self._lock:
                if connection in self._receivers:
                    self._receivers.remove(connection)
            connection.close()

    def _bind(self, connection: socket.socket, pdu: Any) -> str:
        system_id = _text(pdu.system_id)
        status = smpplib.consts.SMPP_ESME_ROK
        if system_id != self.system_id or _text(pdu.password) != self.password:
            status = smpplib.consts.SMPP_ESME_RINVPASWD
        self._respond(connection, f"{pdu.command}_resp", pdu, system_id="standin", status=status)
        if status != smpplib.consts.SMPP_ESME_ROK:
            raise ConnectionError("bind refused")
        with self._lock:
            self.binds.append(f"{pdu.command}:{system_id}")
            if pdu.command in {"bind_receiver", "bind_transceiver"}:
                self._receivers.append(connection)
                waiting = list(self._pending.values())
        if pdu.command in {"bind_receiver", "bind_transceiver"}:
            for receipt in waiting:
                connection.sendall(receipt)
        return system_id

    def _submit(self, connection: socket.socket, pdu: Any, system_id: str) -> None:
        destination = _text(pdu.destination_addr)
        if destination in self.refuse:
            self._respond(connection, "submit_sm_resp", pdu, status=self.refuse[destination])
            return
        message_id = str(next(self._ids))
        short_message = pdu.short_message or b""
        if isinstance(short_message, str):
            short_message = short_message.encode("latin-1")
        with self._lock:
            self.submitted.append(
                Submitted(
                    system_id=system_id,
                    source=_text(pdu.source_addr),
                    destination=destination,
                    short_message=short_message,
                    data_coding=int(pdu.data_coding or 0),
                    esm_class=int(pdu.esm_class or 0),
                    message_id=message_id,
                )
            )
        self._respond(connection, "submit_sm_resp", pdu, message_id=message_id)
        if int(pdu.registered_delivery or 0) & 0x01:
            receipt = self._receipt(pdu, message_id)
            with self._lock:
                self._pending[message_id] = receipt
                receivers = list(self._receivers)
            for receiver in receivers[:1] if not self.hold_receipts else []:
                receiver.sendall(receipt)

    def _receipt(self, submit: Any, message_id: str) -> bytes:
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:2612011200 done date:2612011200 "
            f"stat:{self.receipt_state} err:000 text:"
        ).encode("ascii")
        state = {"DELIVRD": 2, "UNDELIV": 5, "EXPIRED": 3, "REJECTD": 8}.get(self.receipt_state, 7)
        deliver = smpplib.smpp.make_pdu(
            "deliver_sm",
            client=self._sequence,
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=_text(submit.destination_addr),
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=_text(submit.source_addr),
            esm_class=SMSC_DELIVERY_RECEIPT,
            data_coding=0,
            short_message=text,
            receipted_message_id=message_id,
            message_state=state,
        )
        self._receipt_sequences[deliver.sequence] = message_id
        return bytes(deliver.generate())

    @property
    def _receipt_sequences(self) -> dict[int, str]:
        if not hasattr(self, "_sequences_of_receipts"):
            self._sequences_of_receipts: dict[int, str] = {}
        return self._sequences_of_receipts

    def _acknowledged(self, pdu: Any) -> None:
        with self._lock:
            message_id = self._receipt_sequences.pop(int(pdu.sequence), None)
            if message_id is not None:
                self._pending.pop(message_id, None)
                self.receipts_acknowledged.append(message_id)

    def pending_receipts(self) -> int:
        with self._lock:
            return len(self._pending)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)
