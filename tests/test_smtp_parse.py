"""The e-mail format, parsed without a server: tables of bodies and mails."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from soapsms.smtp_ingress.mime import html_to_text, unflow
from soapsms.smtp_ingress.parse import (
    ParseError,
    Request,
    client_reference,
    is_number_line,
    parse_body,
    parse_mail,
    read_mail,
)
from tests.smtp_helpers import example, raw_mail

TWO = ("17036069996", "17036069997")


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["CRLF", "LF", "CR"])
def test_the_issue_example_with_any_line_ending(newline):
    assert parse_mail(example(newline)) == Request(
        account_id="acme",
        password="s3cret",
        text="Server web01 is down",
        numbers=TWO,
        client_reference="INC000123.1@helpdesk.example.com",
    )


HEAD = "id:acme\npassword:s3cret\n"


@pytest.mark.parametrize(
    ("body", "text", "numbers"),
    [
        pytest.param(
            HEAD + "message:\nServer down\n17036069996\nend\n",
            "Server down",
            ("17036069996",),
            id="text-after-message-line",
        ),
        pytest.param(
            HEAD + "message:Disk full\non web01\n\n  see runbook\n17036069996\nend",
            "Disk full\non web01\n\n  see runbook",
            ("17036069996",),
            id="multi-line-text-joined-with-LF",
        ),
        pytest.param(
            HEAD + "message:\n\nhi   \n\n17036069996\n\n17036069997\nend",
            "hi",
            TWO,
            id="blank-lines-trimmed-and-between-numbers",
        ),
        pytest.param(
            HEAD + "message:Error\n503\n17036069996\nend",
            "Error\n503",
            ("17036069996",),
            id="short-digit-line-is-text",
        ),
        pytest.param(
            HEAD + "message:see id:42 and end of line\n17036069996\nend",
            "see id:42 and end of line",
            ("17036069996",),
            id="keys-inside-text-are-text",
        ),
        pytest.param(
            HEAD + "message:x\n+1 (703) 606-9996\n0044 7700 900123\n1.703.606.9997\n"
            "(703) 606-9998\n+ 44 7700-900124\nend",
            "x",
            (
                "+1 (703) 606-9996",
                "0044 7700 900123",
                "1.703.606.9997",
                "(703) 606-9998",
                "+ 44 7700-900124",
            ),
            id="number-formats",
        ),
        pytest.param(
            HEAD + "message:x\n17036069996\n  END  \n-- \nJohn Smith\n+17030000000\n",
            "x",
            ("17036069996",),
            id="everything-after-end-ignored",
        ),
        pytest.param(
            "\ufeff\n\nID : acme\nPassWord:  s3cret  \nMESSAGE: a\xa0b\n17036069996\nEnd",
            "a b",
            ("17036069996",),
            id="keys-any-case-bom-nbsp",
        ),
        pytest.param(
            "password:s3cret\nid:acme\nmessage:x\n17036069996\nend",
            "x",
            ("17036069996",),
            id="id-and-password-any-order",
        ),
        pytest.param(
            HEAD + "message:x\r\n17036069996\r17036069997\nend",
            "x",
            TWO,
            id="mixed-line-endings",
        ),
    ],
)
def test_body_grammar(body, text, numbers):
    assert parse_body(body) == ("acme", "s3cret", text, numbers)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (HEAD + "message:x\n17036069996\n", "no end line"),
        (HEAD + "message:x\n17036069996\n-- \nJohn", "line 5 is not a phone number"),
        (HEAD + "message:x\nend\n", "no number line before end"),
        (HEAD + "message:x\n17036069996, 17036069997\nend", "no number line"),
        (HEAD + "message:\n17036069996\nend", "text is empty"),
        ("password:s3cret\nmessage:x\n17036069996\nend", "id: is missing"),
        ("id:acme\npassword:\nmessage:x\n17036069996\nend", "password: is missing"),
        (HEAD, "no message: line"),
        ("", "no message: line"),
        ("Hello,\n" + HEAD + "message:x\n17036069996\nend", "line 1 is not id:"),
        (HEAD + "id:other\nmessage:x\n17036069996\nend", "line 3: id: is given twice"),
    ],
)
def test_body_errors_say_what_is_wrong(body, error):
    with pytest.raises(ParseError) as info:
        parse_body(body)
    assert error in info.value.message
    assert "s3cret" not in info.value.message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("17036069996", True),
        ("+17036069996", True),
        ("  +1 703 606 9996  ", True),
        ("0044 7700 900123", True),
        ("+1 (703) 606-9996", True),
        ("(703) 606-9996", True),
        ("703.606.9996", True),
        ("12345", True),
        ("1234", False),
        ("503", False),
        ("", False),
        ("-- ", False),
        ("-----", False),
        ("+1 703 606 9996 ext 5", False),
        ("17036069996, 17036069997", False),
        ("17036069996;", False),
        ("tel:17036069996", False),
        ("++17036069996", False),
        ("1703-", False),
    ],
)
def test_number_lines(line, expected):
    assert is_number_line(line) is expected


def _mail(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "ops@example.com"
    mail["To"] = "email@localhost"
    mail["Subject"] = "alert"
    mail["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    return mail


BODY = "id:acme\npassword:s3cret\nmessage:Server web01 is down\n17036069996\nend\n"


def _multipart_with_signature() -> bytes:
    mail = _mail()
    mail.set_content(BODY + "-- \nJohn Smith | ACME Operations\n+1 555 0100\n")
    mail.add_alternative(
        "<p>id:acme</p><p>password:s3cret</p><p>message:WRONG PART</p>"
        "<p>17036069996</p><p>end</p>",
        subtype="html",
    )
    return mail.as_bytes()


def _mixed_with_attachment() -> bytes:
    mail = _mail()
    mail.set_content(BODY)
    mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf")
    mail.add_attachment("id:evil\n", subtype="plain", filename="notes.txt")
    return mail.as_bytes()


def _html_only() -> bytes:
    mail = _mail()
    mail.set_content(
        "<html><head><style>p {margin:0}</style><title>t</title></head><body>\n"
        "<p class=MsoNormal>id:acme<o:p></o:p></p>\n<p class=MsoNormal>password:"
        "s3cret</p>\n<div>message:Server web01&nbsp;is\n down &amp; out</div>"
        "<div>on web01<br></div>\n<p>17036069996</p><p>+1&nbsp;703 606 9997</p>"
        "<p>end</p><p>--<br>Sent from Outlook</p></body></html>",
        subtype="html",
    )
    return mail.as_bytes()


def _quoted_printable() -> bytes:
    mail = _mail()
    mail.set_content(
        BODY.replace("Server web01 is down", "Сервер web01 не отвечает"),
        cte="quoted-printable",
    )
    return mail.as_bytes()


def _base64() -> bytes:
    mail = _mail()
    mail.set_content(BODY, cte="base64")
    return mail.as_bytes()


def _raw(payload: bytes, content_type: str, cte: str = "8bit") -> bytes:
    return raw_mail(
        payload,
        headers=f"MIME-Version: 1.0\nContent-Type: {content_type}\n"
        f"Content-Transfer-Encoding: {cte}",
    )


def _flowed() -> bytes:
    return _raw(
        b"id:acme\r\npassword:s3cret\r\nmessage:The nightly backup of the "
        b"\r\nfinance database failed \r\nagain\r\n17036069996\r\nend\r\n",
        "text/plain; charset=utf-8; format=flowed",
    )


@pytest.mark.parametrize(
    ("data", "text", "numbers"),
    [
        pytest.param(
            _multipart_with_signature(),
            "Server web01 is down",
            ("17036069996",),
            id="multipart-plain-preferred-signature-after-end",
        ),
        pytest.param(
            _mixed_with_attachment(),
            "Server web01 is down",
            ("17036069996",),
            id="attachments-ignored",
        ),
        pytest.param(
            _html_only(),
            "Server web01 is down & out\non web01",
            ("17036069996", "+1 703 606 9997"),
            id="html-only-reduced-to-text",
        ),
        pytest.param(
            _quoted_printable(),
            "Сервер web01 не отвечает",
            ("17036069996",),
            id="quoted-printable-utf8",
        ),
        pytest.param(_base64(), "Server web01 is down", ("17036069996",), id="base64"),
        pytest.param(
            _raw(
                BODY.replace("down", "tombé").encode("latin-1"),
                "text/plain; charset=iso-8859-1",
            ),
            "Server web01 is tombé",
            ("17036069996",),
            id="declared-latin-1",
        ),
        pytest.param(
            _raw(BODY.replace("down", "tombé").encode("cp1252"), "text/plain"),
            "Server web01 is tombé",
            ("17036069996",),
            id="undeclared-8bit-windows-1252",
        ),
        pytest.param(
            _raw(
                BODY.replace("down", "€ tombé").encode(), "text/plain; charset=us-ascii"
            ),
            "Server web01 is € tombé",
            ("17036069996",),
            id="utf8-mislabelled-as-ascii",
        ),
        pytest.param(
            _raw(
                base64.encodebytes(BODY.encode("utf-16")),
                'text/plain; charset="UTF-16"',
                "base64",
            ),
            "Server web01 is down",
            ("17036069996",),
            id="base64-utf16",
        ),
        pytest.param(
            _flowed(),
            "The nightly backup of the finance database failed again",
            ("17036069996",),
            id="format-flowed-unwrapped",
        ),
    ],
)
def test_mime_bodies(data, text, numbers):
    request = parse_mail(data)
    assert (request.account_id, request.password) == ("acme", "s3cret")
    assert (request.text, request.numbers) == (text, numbers)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            _raw(b"%PDF-1.4", "application/pdf"),
            "no text/plain or text/html part",
            id="no-text-part",
        ),
        pytest.param(
            _raw(
                BODY.replace("down", "tombé").encode("latin-1"),
                "text/plain; charset=utf-8",
            ),
            "cannot be decoded as its declared charset 'utf-8'",
            id="bytes-not-in-declared-charset",
        ),
    ],
)
def test_mime_errors(data, error):
    with pytest.raises(ParseError) as info:
        parse_mail(data)
    assert error in info.value.message


@pytest.mark.parametrize(
    ("message_id", "reference"),
    [
        ("<INC000123@helpdesk>", "INC000123@helpdesk"),
        ("  <a.b@c>  ", "a.b@c"),
        ("bare@host", "bare@host"),
        ("<>", None),
        ("", None),
        (None, None),
    ],
)
def test_client_reference_is_message_id_without_brackets(message_id, reference):
    assert client_reference(message_id) == reference


def test_overlong_message_id_becomes_a_stable_digest():
    long_id = "<" + "x" * 300 + "@example.com>"
    reference = client_reference(long_id)
    assert reference is not None and reference.startswith("sha256:")
    assert len(reference) == 71
    assert client_reference(long_id) == reference


@pytest.mark.parametrize(
    ("header", "auto"),
    [
        ("", False),
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: auto-generated", True),
        ("Auto-Submitted: Auto-Replied", True),
    ],
)
def test_auto_submitted(header, auto):
    mail = read_mail(raw_mail(BODY, headers=header))
    assert mail.auto_submitted is auto
    assert mail.client_reference == "INC000123.1@helpdesk.example.com"


def test_missing_message_id_means_no_reference():
    assert parse_mail(raw_mail(BODY, message_id=None)).client_reference is None


def test_repr_never_shows_password_or_text():
    shown = repr(parse_mail(example()))
    assert "s3cret" not in shown and "web01" not in shown


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "\na\nb\n"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<div>a\n  b</div>", "\na b\n"),
        ("<pre>a\n  b</pre>", "\na\nb\n"),  # line breaks kept, indentation not
        ("<script>x()</script><style>p{}</style>a &lt;b&gt; &#8364;", "a <b> €"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "\na\nb\n"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("text", "delsp", "expected"),
    [
        ("one \ntwo\nthree", False, "one two\nthree"),
        ("one \ntwo", True, "onetwo"),
        (" >not a quote\n-- \nsig", False, ">not a quote\n-- \nsig"),
    ],
)
def test_unflow(text, delsp, expected):
    assert unflow(text, delsp) == expected
