"""The WSDL we serve and check in, built from Spyne's schema.

Spyne's own WSDL names the service, port, portType and binding all after
the service, names message parts after the element, adds `parameterOrder`,
makes results nillable and declares the SOAP 1.2 namespace in the 1.1 WSDL.
Generated .NET/Java/gSOAP clients stumble on each, so only the schema is
taken from Spyne and the rest is written here, sorted and deterministic.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape

from lxml import etree
from spyne import Application
from spyne.interface.wsdl import Wsdl11

from soapsms.soap.types import NS

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP11_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING = "http://schemas.xmlsoap.org/wsdl/soap12/"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

SERVICE = "SmsService"
PORT = "SmsServicePort"
PORT_TYPE = "SmsServicePortType"
BINDINGS = {"1.1": "SmsServiceSoapBinding", "1.2": "SmsServiceSoap12Binding"}

LOCATION_PLACEHOLDER = "urn:soapsms:location-placeholder"
# What stays as it is in a served address: RFC 3986's reserved and
# unreserved characters, and % (already encoded); not " < > or spaces.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def _schema(app: Application) -> etree._Element:
    doc = Wsdl11(app.interface)
    doc.build_interface_document(LOCATION_PLACEHOLDER)
    root = etree.fromstring(doc.get_interface_document())
    schema = root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert schema is not None
    clean = etree.Element(
        f"{{{XS}}}schema",
        nsmap={"xs": XS, "tns": NS},
        targetNamespace=NS,
        elementFormDefault="qualified",
    )
    children = sorted(
        schema, key=lambda e: (etree.QName(e).localname != "complexType", e.get("name"))
    )
    for child in children:
        clean.append(child)
    for element in clean.iter(f"{{{XS}}}element"):
        # Responses are never nil and always present.
        element.attrib.pop("nillable", None)
        if element.get("minOccurs") == "1":
            del element.attrib["minOccurs"]
        if element.getparent() is not None and element.get("name", "").endswith(
            "Result"
        ):
            element.attrib.pop("minOccurs", None)
    return clean


def operations(app: Application) -> list[str]:
    names = {
        method.name
        for service in app.services
        for method in service.public_methods.values()
    }
    return sorted(names)


def build(app: Application, version: str) -> bytes:
    """The WSDL for SOAP `version` ("1.1" or "1.2"), with a placeholder address."""
    binding_ns = SOAP11_BINDING if version == "1.1" else SOAP12_BINDING
    nsmap: dict[str | None, str] = {
        "wsdl": WSDL,
        "xs": XS,
        "soap": binding_ns,
        "tns": NS,
    }
    if version == "1.2":
        nsmap = {"wsdl": WSDL, "xs": XS, "soap12": binding_ns, "tns": NS}
    W = lambda name: f"{{{WSDL}}}{name}"  # noqa: E731
    S = lambda name: f"{{{binding_ns}}}{name}"  # noqa: E731
    root = etree.Element(
        W("definitions"), nsmap=nsmap, name=SERVICE, targetNamespace=NS
    )
    types = etree.SubElement(root, W("types"))
    types.append(_schema(app))
    ops = operations(app)
    for op in ops:
        for message in (op, f"{op}Response"):
            msg = etree.SubElement(root, W("message"), name=message)
            etree.SubElement(
                msg, W("part"), name="parameters", element=f"tns:{message}"
            )
    port_type = etree.SubElement(root, W("portType"), name=PORT_TYPE)
    for op in ops:
        operation = etree.SubElement(port_type, W("operation"), name=op)
        etree.SubElement(operation, W("input"), message=f"tns:{op}")
        etree.SubElement(operation, W("output"), message=f"tns:{op}Response")
    binding = etree.SubElement(
        root, W("binding"), name=BINDINGS[version], type=f"tns:{PORT_TYPE}"
    )
    etree.SubElement(binding, S("binding"), style="document", transport=HTTP_TRANSPORT)
    for op in ops:
        operation = etree.SubElement(binding, W("operation"), name=op)
        etree.SubElement(operation, S("operation"), soapAction=op, style="document")
        for direction in ("input", "output"):
            etree.SubElement(
                etree.SubElement(operation, W(direction)), S("body"), use="literal"
            )
    service = etree.SubElement(root, W("service"), name=SERVICE)
    port = etree.SubElement(
        service, W("port"), name=PORT, binding=f"tns:{BINDINGS[version]}"
    )
    etree.SubElement(port, S("address"), location=LOCATION_PLACEHOLDER)
    document = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    # The schema declares its own prefixes again, so that it stands alone
    # where an importer lifts it out (lxml drops them as redundant).
    return document.replace(
        b"<xs:schema ", f'<xs:schema xmlns:xs="{XS}" xmlns:tns="{NS}" '.encode(), 1
    )


def with_location(document: bytes, location: str) -> bytes:
    """The document with its soap:address pointing at `location`; it comes
    from a Host header, so anything a URL may not hold is percent-encoded
    and the rest escaped for the double-quoted attribute."""
    encoded = quote(location, safe=_URL_SAFE)
    quoted = escape(encoded, {'"': "&quot;"})
    return document.replace(LOCATION_PLACEHOLDER.encode(), quoted.encode(), 1)
