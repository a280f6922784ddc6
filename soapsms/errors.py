"""The one exception hierarchy of soapsms, free of any wire protocol's codes.

    SoapsmsError
     ├── ClientError                 the caller can fix it; a plain retry fails again
     │    ├── AuthenticationFailed    missing, unknown or wrong credentials
     │    │    ├── NoCredentials      nothing to check at all (HTTP adapters challenge)
     │    │    └── LoginThrottled     too many failures from the source or for the
     │    │                           account: refused unchecked (temporary)
     │    ├── AccessDenied            disabled account, source network not allowed
     │    ├── ValidationError         malformed request, field out of range
     │    │    ├── AccountNotFound    an operator named an account that does not exist
     │    │    ├── AccountExists      an operator created an account that exists
     │    │    ├── OperatorNotFound   no console operator by that name
     │    │    ├── OperatorExists     a console operator by that name exists already
     │    │    ├── BadUrl             a URL the gateway cannot call (also a ValueError)
     │    │    └── ParseError         a mail that cannot be read as an SMS request
     │    ├── InvalidRecipient        no recipient could be accepted
     │    ├── TooManyRecipients       more entries than the account may send at once
     │    ├── MessageTooLong          text needs more parts than allowed
     │    ├── InvalidSender           sender of the wrong form or not allowed
     │    ├── DuplicateReference      ClientReference reused with other content
     │    ├── InsufficientCredit      credits do not cover the parts
     │    ├── RateLimited             per-minute limit spent (temporary)
     │    ├── LineTooLong             a protocol line (SNPP) past its limit, thrown away
     │    └── CallbackRefused         a status-callback target that may not be called
     │                                (a bad URL, a non-public address)
     ├── ServerError                 our side failed; the caller may retry
     │    └── Unavailable             the store cannot be reached
     │         └── StaleAccount       the account changed after this call's login
     ├── ConnectorError              a carrier connector cannot take submissions now
     │    ├── ConnectorDown           not connected or bound; the dispatcher fails over
     │    └── SessionEnded            an SMPP session ended (unbound, keep-alive or
     │                                bind slot lost); its connector binds again
     ├── AnotherDispatcher           a dispatcher already runs on this SQLite store
     └── ConfigError                 the operator's settings are wrong
          └── StoreNotReady           the store is reachable but not usable as
                                      configured (no database, role or schema)

Adapters (SOAP, SMTP, dispatcher) translate these at their edge; nothing
below them knows fault codes or reply codes. The one exception class kept
elsewhere is the SOAP fast path's private signal to hand a request to Spyne
(`soapsms.soap.fast_path`): it is no error and never leaves that module.
"""

from __future__ import annotations


class SoapsmsError(Exception):
    """Base of every error soapsms raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(SoapsmsError):
    """The request is at fault."""


class AuthenticationFailed(ClientError):
    """Credentials are missing, unknown or wrong."""


class NoCredentials(AuthenticationFailed):
    """The request carried no credentials at all."""


class LoginThrottled(AuthenticationFailed):
    """Too many failed logins lately; the password was not, or will not be,
    checked until the window passes. SOAP answers it like any failed login; the
    SMTP ingress answers 4xx, since one sender's wrong password throttles
    everyone behind the same relay."""


class AccessDenied(ClientError):
    """The account may not make this request (disabled, network not allowed)."""


class ValidationError(ClientError):
    """The request does not match the schema or a field is out of range."""


class AccountNotFound(ValidationError):
    """The operator named an account that does not exist."""


class AccountExists(ValidationError):
    """The operator tried to create an account that already exists."""


class OperatorNotFound(ValidationError):
    """No console operator by that name."""


class OperatorExists(ValidationError):
    """A console operator by that name exists already."""


class BadUrl(ValidationError, ValueError):
    """The URL is not one the gateway can call; the text says why."""


class ParseError(ValidationError):
    """The mail cannot be read as an SMS request; the message says why."""


class InvalidRecipient(ClientError):
    """No recipient of a send could be accepted."""


class TooManyRecipients(ClientError):
    """More recipient entries than the account's per-request limit."""

    def __init__(self, message: str, *, given: int, limit: int) -> None:
        super().__init__(message)
        self.given = given
        self.limit = limit


class MessageTooLong(ClientError):
    """The text needs more SMS parts than allowed."""

    def __init__(self, message: str, *, parts: int, limit: int) -> None:
        super().__init__(message)
        self.parts = parts
        self.limit = limit


class InvalidSender(ClientError):
    """The sender is not of an allowed form or not allowed for the account."""


class DuplicateReference(ClientError):
    """A ClientReference was reused with different content."""

    def __init__(self, message: str, *, client_reference: str) -> None:
        super().__init__(message)
        self.client_reference = client_reference


class InsufficientCredit(ClientError):
    """The account's credits do not cover every part of the send."""

    def __init__(self, message: str, *, needed: int, balance: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.balance = balance


class RateLimited(ClientError):
    """The account's per-minute sending limit is spent; retry later."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class LineTooLong(ClientError):
    """A protocol line longer than its limit; it was thrown away."""


class CallbackRefused(ClientError):
    """A status-callback target the gateway may not call: a bad URL, or a host
    with a non-public address."""


class ServerError(SoapsmsError):
    """Something on our side failed; the request may be retried."""


class Unavailable(ServerError):
    """The store cannot be reached."""


class StaleAccount(Unavailable):
    """The account changed (password, settings, disabled) after the login this
    call relied on was checked. Callers check the login again and retry; one
    that cannot answers it as unavailable, to be retried."""


class ConnectorError(SoapsmsError):
    """A carrier connector cannot take submissions now."""


class ConnectorDown(ConnectorError):
    """Not connected or not bound; try the next route."""


class SessionEnded(ConnectorError):
    """An SMPP session ended: the SMSC unbound, a keep-alive went unanswered,
    the bind slot was lost or the stream broke."""


class AnotherDispatcher(SoapsmsError):
    """A dispatcher already runs on this SQLite store."""


class ConfigError(SoapsmsError):
    """The operator's configuration is invalid."""


class StoreNotReady(ConfigError):
    """The store answers but cannot serve as configured: its database, role or
    schema is missing. Permanent until the operator acts; the message says how."""
