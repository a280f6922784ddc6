"""Carrier connectors: one module per carrier type behind `base.Connector`."""
