"""SendMessage and GetStatus answered without Spyne's request pipeline.

They are the calls clients make most, and Spyne's generic pipeline
(contexts, events, the generic deserialiser) costs more than our own work
(docs/performance.md, SOAP fast path). A request is taken here only when it
is one of these operations and passes the same guard and the same schema
validation that Spyne applies; anything else (other operations, requests
those checks refuse) goes on to Spyne untouched, so every parse and schema
fault stays Spyne's. Values are converted by the protocol's own
`from_unicode` with the wire types' own classes, the calls are
`service.send_message` and `service.get_status`, faults are written by
Spyne's `handle_error` and answers by `writer`, so the wire is the same
either way (tests/test_soap_fast_path.py compares the two).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from spyne import ComplexModelBase, Fault
from spyne.const.xml import PREFMAP
from spyne.server.wsgi import WsgiApplication, WsgiMethodContext

from soapsms.errors import ValidationError
from soapsms.soap import guard, service, writer
from soapsms.soap import types as t
from soapsms.soap.protocol import ENV_KEY_PARSED, ENV_KEY_TOKENS

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class _NotOurs(Exception):
    """This request is left to Spyne."""


class _Transport:
    """What `service.send_message` uses of Spyne's transport context. Spyne's
    own context is costly to build (docs/performance.md), so one is made only
    for a fault."""

    def __init__(self, environ: dict[str, Any], mime_type: str) -> None:
        self.req_env = environ
        self.resp_code: str | None = None
        self.resp_headers: dict[str, str] = {"Content-Type": mime_type}


class _Field:
    """One element of a wire type: its attribute and how its value is read."""

    def __init__(self, name: str, kind: Any) -> None:
        self.name = name
        self.kind = kind
        self.repeated = bool(kind.Attributes.max_occurs != 1)
        self.fields = _fields(kind) if issubclass(kind, ComplexModelBase) else None


def _fields(cls: Any) -> dict[str, _Field]:
    """The elements of wire type `cls`, by qualified tag."""
    return {
        f"{{{cls.get_namespace()}}}{name}": _Field(name, kind)
        for name, kind in cls.get_flat_type_info(cls).items()
    }


Answer = Callable[[Any, SimpleNamespace], writer.Rendered]


@dataclass(frozen=True)
class _Operation:
    """An operation taken here: its parameters, read like a wire type's fields
    (taken from SmsService's own declaration, elements of the contract's
    namespace), and the service function that answers it."""

    name: str
    parameters: dict[str, _Field]
    answer: Answer


def _operation(name: str, answer: Answer) -> _Operation:
    request = service.SmsService.public_methods[name].in_message
    parameters = {
        f"{{{t.NS}}}{field}": _Field(field, kind)
        for field, kind in request.get_flat_type_info(request).items()
    }
    return _Operation(name, parameters, answer)


_OPERATIONS = {
    f"{{{t.NS}}}{o.name}": o
    for o in (
        _operation(
            "SendMessage",
            lambda ctx, a: service.send_message(ctx, a.Auth, a.Message),
        ),
        _operation(
            "GetStatus",
            lambda ctx, a: service.get_status(
                ctx, a.Auth, a.MessageIds, a.BatchId, a.ClientReference
            ),
        ),
    )
}
# A request naming none of them is left to Spyne before it is parsed.
_NAMES = tuple(o.name.encode() for o in _OPERATIONS.values())


class Direct:
    """Answers SendMessage and GetStatus requests of one endpoint (SOAP 1.1 or 1.2)."""

    def __init__(self, wsgi: WsgiApplication) -> None:
        self.wsgi = wsgi
        self.protocol = wsgi.app.in_protocol
        self.mime_type = wsgi.app.out_protocol.mime_type
        self.env_ns = self.protocol.ns_soap_env
        self.prefix = PREFMAP[self.env_ns]

    def __call__(
        self, body: bytes, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """The answer, or None when the request is left to Spyne."""
        if not any(name in body for name in _NAMES):
            return None
        try:
            envelope, operation, arguments = self._read(body, environ)
        except _NotOurs:
            return None
        # From here on the request is ours: whatever happens is answered here.
        environ[ENV_KEY_TOKENS] = envelope.tokens
        transport = _Transport(environ, self.mime_type)
        try:
            rendered = operation.answer(SimpleNamespace(transport=transport), arguments)
        except Fault as fault:
            return self._fault(environ, transport, fault, start_response)
        except Exception:  # noqa: BLE001 - a bug: logged, answered as Spyne would
            logger.exception("%s failed", operation.name)
            fault = Fault("Server", "internal error")
            return self._fault(environ, transport, fault, start_response)
        data = writer.envelope(rendered, self.prefix, self.env_ns, t.NS)
        headers = [*transport.resp_headers.items(), ("Content-Length", str(len(data)))]
        start_response(transport.resp_code or "200 OK", headers)
        return [data]

    def _read(
        self, body: bytes, environ: dict[str, Any]
    ) -> tuple[guard.Envelope, _Operation, SimpleNamespace]:
        """The tidied envelope, the operation and its arguments; the parse is
        left in `environ` for Spyne, should the request go on to it."""
        try:
            envelope = guard.parse(body, self.env_ns, self.protocol.max_depth)
        except ValidationError as exc:
            environ[ENV_KEY_PARSED] = exc
            raise _NotOurs from exc
        environ[ENV_KEY_PARSED] = envelope
        element = envelope.root.find(f"{{{self.env_ns}}}Body")[0]
        operation = _OPERATIONS.get(element.tag)
        if operation is None:
            raise _NotOurs
        if not self.protocol.validation_schema.validate(element):
            raise _NotOurs
        return envelope, operation, self._complex(operation.parameters, element)

    def _complex(self, fields: dict[str, _Field], element: Any) -> SimpleNamespace:
        """`element` read as a wire type with `fields`: an object with an
        attribute each, None when absent, a list when repeated."""
        values: dict[str, Any] = {
            f.name: [] if f.repeated else None for f in fields.values()
        }
        for child in element:
            field = fields.get(child.tag)
            if field is None:
                raise _NotOurs
            if field.fields is not None:
                value: Any = self._complex(field.fields, child)
            else:
                try:
                    value = self.protocol.from_unicode(field.kind, child.text or "")
                except Exception as exc:  # noqa: BLE001 - Spyne words the fault
                    raise _NotOurs from exc
            if field.repeated:
                values[field.name].append(value)
            else:
                values[field.name] = value
        return SimpleNamespace(**values)

    def _fault(
        self,
        environ: dict[str, Any],
        transport: _Transport,
        fault: Fault,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """The fault written by Spyne, with what the call set on the transport."""
        ctx = WsgiMethodContext(self.wsgi, environ, self.mime_type)
        ctx.transport.resp_code = transport.resp_code
        ctx.transport.resp_headers.update(transport.resp_headers)
        ctx.out_error = fault
        return self.wsgi.handle_error(ctx, [], fault, start_response)
