"""load_settings checks every section when it reads the file: [soapsms], each
[connector:NAME] by its type, and [routes]; a wrong value is one ConfigError
naming the file, section and key, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from soapsms.config import Settings, load_settings
from soapsms.config.connectors import SimulatorOptions, SmppConfig
from soapsms.errors import ConfigError

SMPP = "[connector:smsc]\ntype = smpp\nhost = smsc.example.net\nsystem_id = acme\n"
ROUTE = "[routes]\ndefault = smsc\n"


def _load(tmp_path: Path, text: str, **env: str) -> Settings:
    path = tmp_path / "soapsms.ini"
    path.write_text(text)
    return load_settings(path, environ=env)


def test_a_full_file_is_read_by_kind(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "[soapsms]\nlog_level = debug\nworkers = 3\nsmtp_bind = off\n"
        "trusted_proxies = 10.0.0.0/8,\n  192.168.0.0/16\nstore_timeout_seconds = 2.5\n"
        "allow_private_callbacks = yes\n"
        + SMPP
        + "window = 0x20\nstatus_map = 0x58:throttled\n"
        "[connector:sim]\ntype = simulator\nreceipt_delay_ms = 5-10\nseed = 7\n"
        "[routes]\n+1 = smsc, sim\n0044 = sim\ndefault = smsc\n",
    )
    assert (settings.log_level, settings.workers, settings.smtp_bind) == (
        "DEBUG",
        3,
        "off",
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.0.0/16")
    assert settings.store_timeout_seconds == 2.5 and settings.allow_private_callbacks
    smsc, sim = settings.routes.connectors
    assert isinstance(smsc.settings, SmppConfig)
    assert smsc.settings.window == 32 and smsc.settings.status_map == {
        0x58: "THROTTLED"
    }
    assert sim.settings == SimulatorOptions(receipt_delay=(0.005, 0.01), seed=7)
    assert settings.routes.connectors_for("+447700900000") == ("sim",)
    assert settings.routes.connectors_for("+15550100") == ("smsc", "sim")


def test_environment_overrides_win_and_are_read_by_kind(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "[soapsms]\nlog_level = INFO\nworkers = 3\n",
        SOAPSMS_LOG_LEVEL="warning",
        SOAPSMS_WORKERS="5",
        SOAPSMS_SMTP_ADDRESS="a@example.net, b@example.net",
    )
    assert (settings.log_level, settings.workers) == ("WARNING", 5)
    assert settings.smtp_address == ("a@example.net", "b@example.net")


# (the file, what the one line says) — section and key named in each.
BAD = [
    ("[soapsms]\nlog_level = LOUD\n", "[soapsms] log_level must be one of DEBUG"),
    ("[soapsms]\nworkers = 0\n", "[soapsms] workers must be at least 1, not 0"),
    ("[soapsms]\nbind = 8000\n", "[soapsms] bind must be HOST:PORT"),
    (
        "[soapsms]\nsmtp_bind = nowhere\n",
        "[soapsms] smtp_bind must be HOST:PORT or off",
    ),
    ("[soapsms]\nsmtp_reply_relay = relay\n", "[soapsms] smtp_reply_relay must be"),
    ("[soapsms]\nsnpp_bind = :x\n", "[soapsms] snpp_bind must be HOST:PORT or off"),
    ("[soapsms]\ndispatch_metrics_bind = on\n", "dispatch_metrics_bind must be HOST"),
    ("[soapsms]\nlog_format = xml\n", "[soapsms] log_format must be one of text, json"),
    ("[soapsms]\nretention = 1y\n", "[soapsms] retention is under the legal minimum"),
    ("[soapsms]\nsmtp_require_tls = sure\n", "smtp_require_tls must be true or false"),
    ("[soapsms]\npublic_url = sms.example.com\n", "[soapsms] public_url must be http"),
    ("[soapsms]\ntrusted_proxies = 10.0.0.300/8\n", "trusted_proxies must be networks"),
    ("[soapsms]\ndispatch_lease_seconds = 0\n", "dispatch_lease_seconds must be more"),
    ("[soapsms]\nlog_levle = INFO\n", "[soapsms] unknown setting 'log_levle'"),
    (SMPP + "window = 0\n" + ROUTE, "[connector:smsc] window must be at least 1"),
    (SMPP + "port = smpp\n" + ROUTE, "[connector:smsc] port must be a whole number"),
    (SMPP + "windw = 5\n" + ROUTE, "[connector:smsc]: unknown smpp option 'windw'"),
    (SMPP + "status_map = 0x58:SLOW\n" + ROUTE, "[connector:smsc] status_map entry"),
    (
        SMPP + "max_binds = -1\n" + ROUTE,
        "[connector:smsc] max_binds must be at least 0",
    ),
    (
        "[connector:smsc]\ntype = smpp\nhost = h\n" + ROUTE,
        "needs host and system_id",
    ),
    (
        "[connector:sim]\ntype = simulator\nrejected_rate = 2\n[routes]\n+1 = sim\n",
        "[connector:sim] rejected_rate must be between 0 and 1",
    ),
    (
        "[connector:sim]\ntype = simulator\nlatency = 2\n[routes]\n+1 = sim\n",
        "unknown simulator option 'latency'",
    ),
    (
        "[connector:x]\ntype = pigeon\n[routes]\n+1 = x\n",
        "[connector:x] type must be one of simulator, smpp, not 'pigeon'",
    ),
    (SMPP + "[routes]\n+1 = smsc, backup\n", "[routes] +1 names no connector or an"),
    (SMPP + "[routes]\n+1 =\n", "[routes] +1 names no connector"),
    (SMPP + "[routes]\n+1 = smsc\n001 = smsc\n", "[routes] 001 is the prefix +1 again"),
    (SMPP + "[routes]\nUS = smsc\n", "[routes] key 'us' is neither a number prefix"),
    (SMPP, "connectors are defined but no [routes]"),
]


@pytest.mark.parametrize(("text", "says"), BAD, ids=[b[1] for b in BAD])
def test_a_wrong_value_is_one_line_naming_file_section_and_key(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    message = caught.value.message
    assert message.startswith(f"{tmp_path / 'soapsms.ini'}: "), message
    assert says in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SOAPSMS_LOG_LEVEL", "verbose", "SOAPSMS_LOG_LEVEL: log_level must be one of"),
        ("SOAPSMS_WORKERS", "many", "SOAPSMS_WORKERS: workers must be a whole number"),
        ("SOAPSMS_BIND", "localhost", "SOAPSMS_BIND: bind must be HOST:PORT"),
        (
            "SOAPSMS_STORE_TIMEOUT_SECONDS",
            "0",
            "SOAPSMS_STORE_TIMEOUT_SECONDS: store_timeout_seconds must be between",
        ),
    ],
)
def test_a_wrong_variable_is_named(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError, match="^" + says.replace("(", r"\(")):
        _load(tmp_path, "", **{name: value})


def test_settings_built_in_code_are_checked_the_same_way() -> None:
    with pytest.raises(ConfigError, match="^log_level must be one of"):
        Settings(log_level="LOUD")
    with pytest.raises(ConfigError, match="^snpp_bind must be HOST:PORT or off"):
        Settings().replace(snpp_bind="4444")
    with pytest.raises(ConfigError, match="smtp_tls_cert and smtp_tls_key go together"):
        Settings(smtp_tls_cert="cert.pem")
