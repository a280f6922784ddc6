"""Business steps, one store transaction each, returning plain dataclasses.

This is the only layer that joins the domain rules with the store; the
adapters (SOAP, SMTP, CLI) call these and translate their results.
"""
