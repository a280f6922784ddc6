"""SMPP 3.4 carriers: connector, session, PDUs, receipts, codes, settings."""

from soapsms.dispatch.connectors.smpp.connector import build, create

__all__ = ["build", "create"]
