"""The one exception hierarchy of soapsms, free of any wire protocol's codes.

    SoapsmsError
     ├── ClientError                 the caller can fix it; a plain retry fails again
     │    ├── AuthenticationFailed    missing, unknown or wrong credentials
     │    │    ├── NoCredentials      nothing to check at all (HTTP adapters challenge)
     │    │    └── LoginThrottled     too many failures from the source or for the
     │    │                           account: refused unchecked (temporary)
     │    ├── AccessDenied            disabled account, source network not allowed
     │    ├── ValidationError         malformed request, field out of range
     │    ├── InvalidRecipient        no recipient could be accepted
     │    ├── TooManyRecipients       more entries than the account may send at once
     │    ├── MessageTooLong          text needs more parts than allowed
     │    ├── InvalidSender           sender of the wrong form or not allowed
     │    ├── DuplicateReference      ClientReference reused with other content
     │    ├── InsufficientCredit      credits do not cover the parts
     │    └── RateLimited             per-minute limit spent (temporary)
     ├── ServerError                 our side failed; the caller may retry
     │    └── Unavailable             the store cannot be reached
     └── ConfigError                 the operator's settings are wrong

Adapters (SOAP, SMTP, dispatcher) translate these at their edge; nothing
below them knows fault codes or reply codes.
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


class ServerError(SoapsmsError):
    """Something on our side failed; the request may be retried."""


class Unavailable(ServerError):
    """The store cannot be reached."""


class StaleAccount(Unavailable):
    """The account changed (password, settings, disabled) after the login this
    call relied on was checked. Callers check the login again and retry; one
    that cannot answers it as unavailable, to be retried."""


class ConfigError(SoapsmsError):
    """The operator's configuration is invalid."""
