"""soapsms: an SMS gateway spoken to over SOAP."""

__version__ = "0.1.0"
