"""Clients: SendMessage as raw SOAP 1.1 over keep-alive HTTP, one unique
recipient per message, and a record of what each call was told."""

from __future__ import annotations

import http.client
import random
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from tests.chaos.gateway import ACCOUNT, PASSWORD

NS = "urn:soapsms:v1"
SHORT = "Server web{n} is down, check disk {n}"
LONG = "Incident {n}: " + "the primary database failed over to the replica; " * 5
SHORT_UCS2 = "Сервер web{n} недоступен"
LONG_UCS2 = "Инцидент {n}: " + "основная база данных переключилась на реплику; " * 2


def texts(batches: int, seed: int = 7) -> list[str]:
    """A text per batch: ~15% multipart, ~10% UCS-2 (some of both)."""
    rng = random.Random(seed)
    chosen = []
    for n in range(batches):
        roll = rng.random()
        if roll < 0.11:
            chosen.append(LONG.format(n=n))  # 2 GSM parts
        elif roll < 0.15:
            chosen.append(LONG_UCS2.format(n=n))  # 2 UCS-2 parts
        elif roll < 0.21:
            chosen.append(SHORT_UCS2.format(n=n))
        else:
            chosen.append(SHORT.format(n=n))
    return chosen


def recipient(run: int, n: int) -> str:
    """The n-th message's unique number (the SMSC's log maps it back)."""
    return f"+4479{run % 100:02d}{n:05d}"  # UK mobile numbers: 100,000 a run


@dataclass
class Call:
    """One SendMessage: what was asked and every answer it got."""

    reference: str
    text: str
    recipients: tuple[str, ...]
    answers: list[str] = field(default_factory=list)  # ok | fault code | error
    latencies: list[float] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)
    message_ids: dict[str, str] = field(default_factory=dict)  # id -> recipient

    @property
    def acknowledged(self) -> bool:
        return "ok" in self.answers


def envelope(call: Call) -> bytes:
    recipients = "".join(f"<sms:Recipient>{r}</sms:Recipient>" for r in call.recipients)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"'
        f' xmlns:sms="{NS}"><env:Body><sms:SendMessage>'
        f"<sms:Auth><sms:AccountId>{ACCOUNT}</sms:AccountId>"
        f"<sms:Password>{PASSWORD}</sms:Password></sms:Auth>"
        f"<sms:Message><sms:Text>{escape(call.text)}</sms:Text>"
        f"<sms:Recipients>{recipients}</sms:Recipients>"
        f"<sms:ClientReference>{call.reference}</sms:ClientReference>"
        "</sms:Message></sms:SendMessage></env:Body></env:Envelope>"
    ).encode()


class Client:
    """One keep-alive connection; reconnects after any error."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
        try:
            self.conn.request(
                "POST",
                "/soap",
                body,
                {
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": "SendMessage",
                },
            )
            response = self.conn.getresponse()
            return response.status, response.read()
        except BaseException:
            self.conn.close()
            self.conn = None
            raise


def send_once(client: Client, call: Call) -> str:
    """One attempt; its answer: ok, the fault code, or the transport error."""
    started = time.monotonic()
    try:
        _status, body = client.post(envelope(call))
    except (OSError, http.client.HTTPException) as exc:
        answer = f"error:{type(exc).__name__}"
    else:
        answer = _read(call, body)
    call.answers.append(answer)
    call.latencies.append(time.monotonic() - started)
    return answer


def _read(call: Call, body: bytes) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "error:not-xml"
    fault = root.findtext(".//faultcode")
    if fault is not None:
        return fault.split(":")[-1]
    batch = root.findtext(f".//{{{NS}}}BatchId")
    if batch is None:
        return "error:no-batch"
    call.batch_ids.append(batch)
    for receipt in root.iter(f"{{{NS}}}MessageReceipt"):
        message = receipt.findtext(f"{{{NS}}}MessageId") or ""
        call.message_ids[message] = receipt.findtext(f"{{{NS}}}Recipient") or ""
    return "ok"


@dataclass
class Traffic:
    """`messages` messages in batches of `per_call`, sent by `clients` threads;
    a call that gets no answer or Server.Unavailable is retried with the same
    ClientReference until `retry_for` seconds have passed."""

    port: int
    messages: int
    run: int = 1
    per_call: int = 20
    clients: int = 4
    timeout: float = 30.0
    retry_for: float = 120.0
    pause: float = 0.0  # between a client's calls (to spread a run over time)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        numbers = [recipient(self.run, n) for n in range(self.messages)]
        chunks = [
            tuple(numbers[i : i + self.per_call])
            for i in range(0, len(numbers), self.per_call)
        ]
        self.calls = [
            Call(f"chaos-{self.run}-{i}", text, chunk)
            for i, (text, chunk) in enumerate(
                zip(texts(len(chunks), self.run), chunks, strict=True)
            )
        ]
        self._next = iter(self.calls)
        self._lock = threading.Lock()

    def _worker(self) -> None:
        client = Client(self.port, self.timeout)
        try:
            while True:
                with self._lock:
                    call = next(self._next, None)
                if call is None:
                    return
                deadline = time.monotonic() + self.retry_for
                while send_once(client, call) != "ok" and time.monotonic() < deadline:
                    time.sleep(0.2)
                if self.pause:
                    time.sleep(self.pause)
        finally:
            client.close()

    def send(self) -> None:
        with ThreadPoolExecutor(self.clients) as pool:
            for future in [pool.submit(self._worker) for _ in range(self.clients)]:
                future.result()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.send, daemon=True)
        thread.start()
        return thread

    def acknowledged(self) -> dict[str, str]:
        """message_id -> recipient digits, for every message a client was told of."""
        told: dict[str, str] = {}
        for call in self.calls:
            for message, number in call.message_ids.items():
                told[message] = number.lstrip("+")
        return told
