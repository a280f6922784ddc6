"""The web adapter: the customer portal (/portal) and the operator console (/admin)."""
