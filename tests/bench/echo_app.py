"""A bare Spyne SendMessage that only echoes, under soapsms's gunicorn settings.

The ceiling of the stack (gunicorn, Spyne, lxml) on this machine: the same
operation, namespace and wire types as soapsms, no store, no auth.
Run as: python tests/bench/echo_app.py --bind 127.0.0.1:PORT --workers 2
"""

from __future__ import annotations

import argparse
from typing import Any

from gunicorn.app.base import BaseApplication
from spyne import Application, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from soapsms.config import Settings
from soapsms.serve import gunicorn_options
from soapsms.soap import types as t

BATCH_ID = "01JBENCHECH000000000000000"
MESSAGE_ID = "01JBENCHECH000000000000001"


class EchoService(ServiceBase):  # type: ignore[misc]
    """SendMessage with soapsms's signature, answered without doing anything."""

    @rpc(  # type: ignore[misc]
        t.optional(t.Auth),
        t.required(t.OutboundMessage),
        _returns=t.required(t.SendMessageResult),
        _out_variable_name="SendMessageResult",
    )
    def SendMessage(ctx: Any, Auth: Any, Message: Any) -> t.SendMessageResult:  # noqa: N802,N803
        recipients = list(Message.Recipients.Recipient or [])
        receipts = [
            t.MessageReceipt(
                MessageId=MESSAGE_ID,
                Recipient=r,
                Status="QUEUED",
                Parts=1,
                Encoding="GSM7",
            )
            for r in recipients
        ]
        return t.SendMessageResult(
            BatchId=BATCH_ID,
            AcceptedCount=len(receipts),
            RejectedCount=0,
            Messages=t.MessageReceiptList(MessageReceipt=receipts),
            Rejected=t.RejectedRecipientList(RejectedRecipient=[]),
        )


def build_wsgi() -> WsgiApplication:
    """The echo service as a WSGI app on /soap (any path, in fact)."""
    application = Application(
        [EchoService],
        tns=t.NS,
        name="SmsService",
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )
    return WsgiApplication(application)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn with soapsms's own options, loading the echo app in each worker."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return _Health(build_wsgi())


class _Health:
    """Answers GET /health like soapsms, so the bench polls both the same way."""

    def __init__(self, app: WsgiApplication) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        return self.app(environ, start_response)


def main() -> None:
    """Serve the echo app with soapsms.serve.gunicorn_options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:8001")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    settings = Settings(bind=args.bind, workers=args.workers, log_level=args.log_level)
    _Gunicorn(gunicorn_options(settings)).run()


if __name__ == "__main__":
    main()
