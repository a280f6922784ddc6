"""Spyne's SOAP 1.1 and 1.2 protocols, adjusted to the contract's wire rules."""

from __future__ import annotations

from typing import Any

from lxml import etree
from lxml.builder import E
from spyne import DateTime, Fault
from spyne.const.xml import PREFMAP
from spyne.error import ValidationError as SpyneValidationError
from spyne.protocol.soap import Soap11, Soap12
from spyne.protocol.xml import SchemaValidationError

from soapsms.domain.timestamps import format_utc
from soapsms.errors import ValidationError
from soapsms.soap import faults, guard, writer
from soapsms.soap.types import NS

ENV_KEY_TOKENS = "soapsms.wsse_tokens"
# The envelope (or the ValidationError) of the fast path's parse, so that a
# request it leaves to Spyne is not parsed a second time.
ENV_KEY_PARSED = "soapsms.parsed"


class _Gateway:
    """Shared by both versions; mixed in before Spyne's protocol class."""

    ns_soap_env: str
    max_depth = 24

    def _setup(self) -> None:
        handlers: dict[Any, Any] = self._to_unicode_handlers  # type: ignore[attr-defined]
        handlers[DateTime] = lambda cls, value: format_utc(value)

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        parsed = ctx.transport.req_env.pop(ENV_KEY_PARSED, None)
        try:
            if isinstance(parsed, ValidationError):
                raise parsed
            envelope = parsed or guard.parse(
                b"".join(ctx.in_string), self.ns_soap_env, self.max_depth
            )
        except ValidationError as exc:
            raise faults.to_fault(exc) from exc
        ctx.transport.req_env[ENV_KEY_TOKENS] = envelope.tokens
        ctx.in_document = (envelope.root, {})

    def decompose_incoming_envelope(self, ctx: Any, message: Any = None) -> None:
        try:
            super().decompose_incoming_envelope(ctx, message)  # type: ignore[misc]
        except (SchemaValidationError, SpyneValidationError) as exc:
            raise faults.ContractFault(faults.VALIDATION, _schema_message(exc)) from exc
        except Fault as exc:
            raise faults.translate(exc) from exc

    def deserialize(self, ctx: Any, message: Any) -> None:
        try:
            super().deserialize(ctx, message)  # type: ignore[misc]
        except (ValueError, OverflowError, ArithmeticError) as exc:
            # Values the schema lets through but Python cannot hold, such
            # as 24:00:00 or a year past 9999 once offset to UTC.
            raise faults.ContractFault(
                faults.VALIDATION, f"a value is out of range: {exc}"
            ) from exc

    def serialize(self, ctx: Any, message: Any) -> None:
        if ctx.out_error is not None:
            ctx.out_error = faults.translate(ctx.out_error)
        elif ctx.out_object and isinstance(ctx.out_object[0], writer.Rendered):
            prefix = PREFMAP[self.ns_soap_env]
            ctx.out_string = [
                writer.envelope(ctx.out_object[0], prefix, self.ns_soap_env, NS)
            ]
            return
        super().serialize(ctx, message)  # type: ignore[misc]

    def create_out_string(self, ctx: Any, charset: str | None = None) -> None:
        if ctx.out_string is None:  # already written by `serialize`
            super().create_out_string(ctx, charset)  # type: ignore[misc]


def _schema_message(exc: Exception) -> str:
    text = getattr(exc, "faultstring", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    return f"the request does not match the schema: {text}"


class GatewaySoap11(_Gateway, Soap11):  # type: ignore[misc]
    def __init__(self, *args: Any, max_depth: int = 24, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_depth = max_depth
        self._setup()


class GatewaySoap12(_Gateway, Soap12):  # type: ignore[misc]
    def __init__(self, *args: Any, max_depth: int = 24, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_depth = max_depth
        self._setup()

    def serialize(self, ctx: Any, message: Any) -> None:
        super().serialize(ctx, message)
        if ctx.out_error is not None and ctx.out_document is not None:
            # The subcode's prefix lives in element text, which namespace
            # clean-up does not see; declared on the Fault itself, as Mono's
            # WCF reads a fault from the Body on, without the envelope's.
            fault = ctx.out_document.find(f".//{{{self.ns_soap_env}}}Fault")
            if fault is not None:
                declared = etree.Element(fault.tag, nsmap={"sms": NS})
                declared.extend(list(fault))
                fault.getparent().replace(fault, declared)
            etree.cleanup_namespaces(
                ctx.out_document,
                top_nsmap={"soap12env": self.ns_soap_env},
                keep_ns_prefixes=["sms", "soap12env"],
            )

    def fault_to_parent(
        self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, **_: Any
    ) -> Any:
        # Spyne writes the subcode bare; JAX-WS rejects that, so it is
        # qualified with the contract's namespace (prefix sms).
        env = self.ns_soap_env
        head, _, sub = str(inst.faultcode).partition(".")
        value = "soap12env:Sender" if head == "Client" else "soap12env:Receiver"
        code = E(f"{{{env}}}Code", E(f"{{{env}}}Value", value))
        if sub:
            code.append(E(f"{{{env}}}Subcode", E(f"{{{env}}}Value", f"sms:{sub}")))
        fault = E(
            f"{{{env}}}Fault",
            code,
            E(
                f"{{{env}}}Reason",
                E(
                    f"{{{env}}}Text",
                    str(inst.faultstring),
                    **{"{http://www.w3.org/XML/1998/namespace}lang": "en"},
                ),
            ),
        )
        parent.append(fault)
        return None
