"""An smpp route's settings from its `[connector:NAME] type=smpp` options."""

from __future__ import annotations

import pytest

from soapsms.dispatch.connectors import smpp
from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.errors import ConfigError

BASE = {"type": "smpp", "host": "smsc.example.net", "system_id": "acme"}


def test_defaults() -> None:
    config = SmppConfig.from_options(BASE)
    assert (config.port, config.window, config.mps, config.enquire_link_seconds) == (
        2775,
        10,
        0.0,
        30.0,
    )
    assert (config.submit_id_format, config.receipt_id_format) == ("text", "text")
    assert (config.use_message_payload, config.validity) == (False, "absolute")
    assert (config.source_ton, config.dest_ton, config.dest_npi) == (None, 1, 1)


def test_every_option_is_read_from_its_ini_string() -> None:
    config = SmppConfig.from_options(
        {
            **BASE,
            "port": "2776",
            "password": "pw",
            "system_type": "VMA",
            "window": "25",
            "mps": "12.5",
            "enquire_link_seconds": "15",
            "submit_id_format": "HEX",
            "receipt_id_format": "decimal",
            "use_message_payload": "on",
            "source_ton": "0x02",
            "source_npi": "1",
            "validity": "relative",
            "receipt_utc_offset_minutes": "-300",
            "status_map": "0x0000040B:routing_error,\n 0x401:THROTTLED",
            "receipt_err_map": "001:UNKNOWN_SUBSCRIBER, abs:ABSENT_SUBSCRIBER",
        }
    )
    assert (config.port, config.window, config.mps) == (2776, 25, 12.5)
    assert (config.submit_id_format, config.receipt_id_format) == ("hex", "decimal")
    assert (config.use_message_payload, config.source_ton, config.source_npi) == (
        True,
        2,
        1,
    )
    assert config.status_map == {0x40B: "ROUTING_ERROR", 0x401: "THROTTLED"}
    assert config.receipt_err_map == {
        "1": "UNKNOWN_SUBSCRIBER",
        "ABS": "ABSENT_SUBSCRIBER",
    }
    assert config.receipt_tz.utcoffset(None).total_seconds() == -300 * 60  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "h"}, "host and system_id"),
        ({**BASE, "windw": "5"}, "unknown smpp option"),
        ({**BASE, "password": "123456789"}, "password is longer"),
        ({**BASE, "system_id": "s" * 16}, "system_id is longer"),
        ({**BASE, "window": "0"}, "window"),
        ({**BASE, "window": "ten"}, "window must be a whole number"),
        ({**BASE, "use_message_payload": "maybe"}, "true or false"),
        ({**BASE, "submit_id_format": "octal"}, "submit_id_format"),
        ({**BASE, "submit_id_format": "hex", "receipt_id_format": "text"}, "both"),
        ({**BASE, "validity": "forever"}, "validity"),
        ({**BASE, "status_map": "0x58=THROTTLED"}, "status_map entry"),
        ({**BASE, "status_map": "0x58:SLOW"}, "status_map entry"),
        ({**BASE, "status_map": "x:THROTTLED"}, "'x:THROTTLED': must be a whole"),
        ({**BASE, "receipt_err_map": "001=UNKNOWN"}, "receipt_err_map entry"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smpp.create("carrier-a", options)


def test_create_builds_a_stopped_connector() -> None:
    carrier = smpp.build("carrier-a", SmppConfig.from_options(BASE))
    assert carrier.name == "carrier-a" and not carrier.is_up()
    carrier.stop()  # never started: nothing to wait for
