"""soapsms errors -> the contract's SOAP fault codes; the only place that knows them."""

from __future__ import annotations

import logging

from spyne import Fault

from soapsms import errors

logger = logging.getLogger(__name__)

# Most specific first: NoCredentials is an AuthenticationFailed.
_CODES: list[tuple[type[errors.SoapsmsError], str]] = [
    (errors.AuthenticationFailed, "Client.AuthenticationFailed"),
    (errors.AccessDenied, "Client.AccessDenied"),
    (errors.InvalidRecipient, "Client.InvalidRecipient"),
    (errors.TooManyRecipients, "Client.TooManyRecipients"),
    (errors.MessageTooLong, "Client.MessageTooLong"),
    (errors.InvalidSender, "Client.InvalidSender"),
    (errors.DuplicateReference, "Client.DuplicateReference"),
    (errors.InsufficientCredit, "Client.InsufficientCredit"),
    (errors.RateLimited, "Client.RateLimited"),
    (errors.ValidationError, "Client.ValidationError"),
    (errors.Unavailable, "Server.Unavailable"),
]

CONTRACT_CODES = frozenset(code for _, code in _CODES)
VALIDATION = "Client.ValidationError"
INTERNAL = "Server"


class ContractFault(Fault):  # type: ignore[misc]
    """A fault whose code is one of the contract's."""

    def __init__(self, faultcode: str, faultstring: str) -> None:
        super().__init__(faultcode=faultcode, faultstring=faultstring)


def fault_code(error: errors.SoapsmsError) -> str:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return INTERNAL


def to_fault(error: errors.SoapsmsError) -> ContractFault:
    code = fault_code(error)
    if code == INTERNAL:
        logger.error("unexpected error reached the SOAP edge: %r", error)
        return ContractFault(INTERNAL, "internal error")
    return ContractFault(code, error.message)


def translate(fault: BaseException) -> ContractFault:
    """Any fault spyne raised on its own becomes one of the contract's codes.

    Spyne has its own codes for schema errors, unknown operations and XML
    syntax (Client.SchemaValidationError, Client.ResourceNotFound, ...);
    generated clients only know the contract's table.
    """
    if isinstance(fault, ContractFault):
        return fault
    if isinstance(fault, errors.SoapsmsError):
        return to_fault(fault)
    if isinstance(fault, Fault):
        code = str(fault.faultcode or "")
        text = str(fault.faultstring or "")
        if code.split(":")[-1].startswith("Client"):
            return ContractFault(VALIDATION, _readable(code, text))
    logger.error("internal error answered as a SOAP fault: %r", fault)
    return ContractFault(INTERNAL, "internal error")


def _readable(code: str, text: str) -> str:
    if "ResourceNotFound" in code or "Requested resource" in text:
        return f"unknown operation: {text}".strip()
    return text or "the request does not match the schema"
