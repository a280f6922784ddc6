"""Settings of one SMPP route: declared and checked with the other settings
(soapsms.config.connectors, at load); the connector reads them from here."""

from soapsms.config.connectors import ID_FORMATS, VALIDITY_FORMATS, SmppConfig

__all__ = ["ID_FORMATS", "VALIDITY_FORMATS", "SmppConfig"]
