"""Parse incoming envelopes safely and tidy them before Spyne sees them.

Done once, on our own lxml parser: any DOCTYPE is refused (so no entity can
be expanded or fetched, whichever field it sits in), nesting, elements and
attributes are bounded (counted in the raw bytes before parsing, so a body of
tiny elements costs no parse; the header, read before authentication, holds
at most a WS-Security token's worth), empty or xsi:nil optional elements
are removed (help-desk tools send every mapped field, filled or not), a nil
operation element is read as an empty one, and WS-Security credentials are
taken out of the header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from lxml import etree

from soapsms.errors import ValidationError

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
PASSWORD_DIGEST = "PasswordDigest"

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


# SendMessage's 10,000 recipients are the most elements a valid request has;
# every element costs at least one "<" and every attribute one "=".
MAX_ELEMENTS = 10_200
MAX_ATTRIBUTES = 8_192
MAX_HEADER_ELEMENTS = 64


@dataclass
class WsseToken:
    username: str
    password: str
    digest: bool = False
    created: str | None = None
    nonce: str | None = None


@dataclass
class Envelope:
    root: etree._Element
    tokens: list[WsseToken] = field(default_factory=list)


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(**_PARSER_OPTIONS)


def parse(data: bytes, envelope_ns: str, max_depth: int) -> Envelope:
    """The checked, tidied envelope, or ValidationError (nothing else)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValidationError("DOCTYPE declarations are not allowed")
    if data.count(b"<") > 2 * MAX_ELEMENTS + 2:
        raise ValidationError(f"more than {MAX_ELEMENTS} XML elements")
    if data.count(b"=") > MAX_ATTRIBUTES:
        raise ValidationError(f"more than {MAX_ATTRIBUTES} XML attributes")
    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValidationError(f"malformed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ValidationError("DOCTYPE declarations are not allowed")
    if root.tag != f"{{{envelope_ns}}}Envelope":
        raise ValidationError(f"expected a SOAP envelope in namespace {envelope_ns}")
    header = root.find(f"{{{envelope_ns}}}Header")
    # Counted before anything walks the document (the header comes before
    # authentication), stopping at the limit.
    if (
        header is not None
        and next(islice(header.iter(), MAX_HEADER_ELEMENTS, None), None) is not None
    ):
        raise ValidationError(
            f"the SOAP Header holds more than {MAX_HEADER_ELEMENTS} elements"
        )
    _check_depth(root, max_depth)
    body = root.find(f"{{{envelope_ns}}}Body")
    if body is None or len(body) != 1:
        raise ValidationError("the SOAP Body must hold exactly one operation element")
    operation = body[0]
    if operation.tag == f"{{{envelope_ns}}}Fault":
        raise ValidationError("the SOAP Body holds a Fault, not an operation")
    # SOAP::Lite sends a call without arguments as <GetAccount xsi:nil="true"/>:
    # read as empty, which the schema accepts when no part is required.
    operation.attrib.pop(XSI_NIL, None)
    _drop_empty(operation)
    _drop_empty_auth(operation)
    tokens = []
    if header is not None:
        tokens = _take_wsse(header)
    return Envelope(root=root, tokens=tokens)


def _check_depth(root: etree._Element, max_depth: int) -> None:
    # In libxml2's XPath engine, not a Python walk over every element.
    if root.xpath("boolean(" + "/*" * (max_depth + 1) + ")"):
        raise ValidationError(f"XML nesting deeper than {max_depth} levels")


def _is_empty(element: etree._Element) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def _drop_empty(parent: etree._Element) -> None:
    """Remove xsi:nil and empty children, bottom-up, keeping non-empty ones."""
    for child in list(parent):
        if not isinstance(child.tag, str):
            continue
        if child.get(XSI_NIL) in ("true", "1"):
            parent.remove(child)
            continue
        if len(child):
            _drop_empty(child)
        if _is_empty(child):
            parent.remove(child)


def _drop_empty_auth(operation: etree._Element) -> None:
    # An Auth with an empty child counts as no credentials at all.
    for auth in operation.findall("{urn:soapsms:v1}Auth"):
        names = {etree.QName(c).localname for c in auth}
        if not {"AccountId", "Password"} <= names:
            operation.remove(auth)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _take_wsse(header: etree._Element) -> list[WsseToken]:
    """UsernameTokens from any Security header, matched by local name so that
    prefixed, default and older secext namespaces all work."""
    tokens = []
    for security in [h for h in header if _local(h) == "Security"]:
        for token in [t for t in security if _local(t) == "UsernameToken"]:
            username = password = ""
            digest = False
            created = nonce = None
            for part in token:
                name = _local(part)
                if name == "Username":
                    username = (part.text or "").strip()
                elif name == "Password":
                    password = part.text or ""
                    digest = (part.get("Type") or "").endswith(PASSWORD_DIGEST)
                elif name == "Created":
                    created = (part.text or "").strip()
                elif name == "Nonce":
                    nonce = (part.text or "").strip()
            if username or password:
                tokens.append(WsseToken(username, password, digest, created, nonce))
        header.remove(security)
    return tokens
