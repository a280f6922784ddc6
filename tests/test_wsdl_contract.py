"""The served WSDL is the checked-in one and has the shape clients rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from lxml import etree

from soapsms.soap import wsdl as wsdl_module

ROOT = Path(__file__).resolve().parent.parent
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
N = {
    "wsdl": WSDL_NS,
    "xs": XS,
    "soap": wsdl_module.SOAP11_BINDING,
    "soap12": wsdl_module.SOAP12_BINDING,
}
OPERATIONS = ["CancelMessage", "GetAccount", "GetStatus", "ListMessages", "SendMessage"]


def _served(live, path: str) -> bytes:
    response = requests.get(f"{live.url}{path}?wsdl", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    return response.content


@pytest.mark.parametrize(
    ("path", "checked_in"), [("/soap", "soapsms.wsdl"), ("/soap12", "soapsms12.wsdl")]
)
def test_served_wsdl_equals_checked_in_file(live, path, checked_in):
    served = _served(live, path).replace(
        f"{live.url}{path}".encode(), f"http://localhost:8000{path}".encode()
    )
    expected = (ROOT / "wsdl" / checked_in).read_bytes()
    assert served == expected, f"regenerate with `make wsdl` ({checked_in} drifted)"


def test_address_follows_the_url_the_client_used(live):
    doc = etree.fromstring(_served(live, "/soap"))
    location = doc.find(".//wsdl:service/wsdl:port/soap:address", N).get("location")
    assert location == f"{live.url}/soap"


def test_names_generated_clients_take_their_classes_from(live):
    doc = etree.fromstring(_served(live, "/soap"))
    assert doc.get("targetNamespace") == "urn:soapsms:v1"
    service = doc.find("wsdl:service", N)
    assert service.get("name") == "SmsService"
    assert service.find("wsdl:port", N).get("name") == "SmsServicePort"
    assert doc.find("wsdl:portType", N).get("name") == "SmsServicePortType"
    assert [b.get("name") for b in doc.findall("wsdl:binding", N)] == [
        "SmsServiceSoapBinding"
    ]
    doc12 = etree.fromstring(_served(live, "/soap12"))
    assert [b.get("name") for b in doc12.findall("wsdl:binding", N)] == [
        "SmsServiceSoap12Binding"
    ]


def test_ws_i_basic_profile_points(live):
    raw = _served(live, "/soap")
    doc = etree.fromstring(raw)
    # The 1.1 WSDL does not even declare the SOAP 1.2 binding namespace (gSOAP).
    assert wsdl_module.SOAP12_BINDING.encode() not in raw
    assert b"soap/encoding" not in raw and b"arrayType" not in raw
    assert b"parameterOrder" not in raw
    messages = doc.findall("wsdl:message", N)
    assert sorted(m.get("name") for m in messages) == sorted(
        OPERATIONS + [f"{op}Response" for op in OPERATIONS]
    )
    for message in messages:
        parts = message.findall("wsdl:part", N)
        assert [p.get("name") for p in parts] == ["parameters"]
        assert parts[0].get("element") == f"tns:{message.get('name')}"
    binding = doc.find("wsdl:binding", N)
    assert binding.find("soap:binding", N).get("style") == "document"
    actions = [
        op.find("soap:operation", N).get("soapAction")
        for op in binding.findall("wsdl:operation", N)
    ]
    assert actions == OPERATIONS  # unique, and the operation's name
    for body in binding.iter(f"{{{wsdl_module.SOAP11_BINDING}}}body"):
        assert body.get("use") == "literal"
    schema = doc.find("wsdl:types/xs:schema", N)
    assert schema.get("elementFormDefault") == "qualified"
    top_elements = {e.get("name") for e in schema.findall("xs:element", N)}
    assert set(OPERATIONS) | {f"{op}Response" for op in OPERATIONS} <= top_elements
    for element in schema.iter(f"{{{XS}}}element"):
        assert element.get("nillable") is None, element.get("name")
        assert element.get("minOccurs") in (None, "0"), element.get("name")
        assert element.get("type") in {
            "xs:string",
            "xs:int",
            "xs:dateTime",
        } or element.get("type", "").startswith("tns:"), element.get("type")
    assert schema.find("xs:element[@name='SendMessageResponse']", N) is not None
    assert not list(schema.iter(f"{{{XS}}}choice")) and not list(
        schema.iter(f"{{{XS}}}any")
    )


@pytest.mark.parametrize(
    ("path", "binding_ns"),
    [("/soap", wsdl_module.SOAP11_BINDING), ("/soap12", wsdl_module.SOAP12_BINDING)],
    ids=["1.1", "1.2"],
)
def test_ws_i_points_of_both_wsdls_that_generators_unwrap_by(live, path, binding_ns):
    # What the test above leaves out, for the 1.1 and the 1.2 WSDL alike.
    doc = etree.fromstring(_served(live, path))
    B = {"b": binding_ns, **N}
    # One portType, operations not overloaded, each its own wrapper messages.
    port_ops = doc.findall("wsdl:portType/wsdl:operation", N)
    assert [op.get("name") for op in port_ops] == OPERATIONS
    for op in port_ops:
        name = op.get("name")
        assert op.find("wsdl:input", N).get("message") == f"tns:{name}"
        assert op.find("wsdl:output", N).get("message") == f"tns:{name}Response"
        assert op.find("wsdl:fault", N) is None  # faults are told by their code
    # Document/literal on every operation of one binding over HTTP; no header
    # or fault declared, no namespace or parts on soap:body (WS-I R2716, R2210).
    (binding,) = doc.findall("wsdl:binding", N)
    assert binding.find("b:binding", B).get("transport") == wsdl_module.HTTP_TRANSPORT
    bound = binding.findall("wsdl:operation", N)
    assert [op.get("name") for op in bound] == OPERATIONS
    for op in bound:
        soap_op = op.find("b:operation", B)
        assert soap_op.get("style") == "document"
        assert soap_op.get("soapAction") == op.get("name")
        for direction in ("input", "output"):
            (body,) = op.find(f"wsdl:{direction}", N)
            assert etree.QName(body).localname == "body", etree.QName(body)
            assert dict(body.attrib) == {"use": "literal"}
    (port,) = doc.findall("wsdl:service/wsdl:port", N)
    assert port.find("b:address", B).get("location") == f"{live.url}{path}"
    # One schema, in the target namespace, importing nothing; only named
    # complex types (no facets, so no restriction types in generated code).
    (schema,) = doc.findall("wsdl:types/xs:schema", N)
    assert schema.get("targetNamespace") == doc.get("targetNamespace")
    for banned in ("import", "include", "simpleType", "restriction", "attribute"):
        assert not list(schema.iter(f"{{{XS}}}{banned}")), banned
    types = {t.get("name"): t for t in schema.findall("xs:complexType", N)}
    for element in schema.iter(f"{{{XS}}}element"):
        kind = element.get("type", "")
        if kind.startswith("tns:"):
            assert kind[4:] in types, kind  # every reference resolves
        assert element.get("ref") is None
    for ctype in types.values():
        assert [etree.QName(c).localname for c in ctype] == ["sequence"]
        children = ctype.findall("xs:sequence/*", N)
        assert {etree.QName(c).localname for c in children} <= {"element"}
        # A list is a wrapper holding only its repeated item: no arrays of
        # arrays, and .NET maps it to a plain array.
        repeated = [c for c in children if c.get("maxOccurs") == "unbounded"]
        if repeated:
            assert children == repeated and len(repeated) == 1, ctype.get("name")
            assert repeated[0].get("minOccurs") == "0"
            item = repeated[0].get("type", "")
            if item.startswith("tns:"):
                nested = "xs:sequence/xs:element[@maxOccurs='unbounded']"
                assert types[item[4:]].find(nested, N) is None, item
    # The wrappers: request elements named after the operation, responses
    # holding exactly one required <Op>Result.
    for name in OPERATIONS:
        request = schema.find(f"xs:element[@name='{name}']", N)
        assert request.get("type") == f"tns:{name}"
        response = schema.find(f"xs:element[@name='{name}Response']", N)
        (result,) = types[response.get("type")[4:]].findall("xs:sequence/*", N)
        assert result.get("name") == f"{name}Result"
        assert result.get("minOccurs") is None and result.get("nillable") is None


def test_contract_type_field_order(live):
    doc = etree.fromstring(_served(live, "/soap"))
    schema = doc.find("wsdl:types/xs:schema", N)

    def fields(name: str) -> list[str]:
        ctype = schema.find(f"xs:complexType[@name='{name}']", N)
        return [e.get("name") for e in ctype.iter(f"{{{XS}}}element")]

    assert fields("OutboundMessage") == [
        "Text",
        "Recipients",
        "RecipientsText",
        "Sender",
        "ClientReference",
        "ScheduledFor",
        "ValidityMinutes",
        "Encoding",
        "StatusCallbackUrl",
    ]
    assert fields("SendMessageResult") == [
        "BatchId",
        "ClientReference",
        "AcceptedCount",
        "RejectedCount",
        "Messages",
        "Rejected",
    ]
    assert fields("ListMessages") == [
        "Auth",
        "Since",
        "Until",
        "Status",
        "Recipient",
        "BatchId",
        "Cursor",
        "Limit",
    ]
    assert fields("MessageStatus")[:2] == ["MessageId", "Status"]
    assert fields("MessageStatus")[-1] == "UpdatedAt"
