"""The five operations: wire types in, use cases called, wire types out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from spyne import ServiceBase, Unicode, rpc
from spyne.model.primitive import Integer32

from soapsms import errors, metrics
from soapsms.soap import faults, writer
from soapsms.soap import types as t
from soapsms.soap.protocol import ENV_KEY_TOKENS
from soapsms.usecases import auth, query, send
from soapsms.usecases import results as r
from soapsms.usecases.requests import Credentials, ListQuery, Selector, SendRequest
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

ENV_RUNTIME = "soapsms.runtime"
ENV_CLIENT_IP = "soapsms.client_ip"
ENV_BASIC = "soapsms.basic"
ENV_CHALLENGE = "soapsms.challenge"

HTTP_401 = "401 Unauthorized"


def _text(value: str | None) -> str | None:
    """Empty strings count as absent, as help-desk tools send every field."""
    if value is None:
        return None
    return value if value.strip() else None


def _count(value: int | None) -> int | None:
    """0 for an optional int whose range starts at 1 means absent: strongly
    typed proxies (Mono svcutil data contracts, WCF) cannot leave it out."""
    return None if value == 0 else value


def _time(value: datetime | None) -> datetime | None:
    """.NET's DateTime.MinValue (0001-01-01T00:00:00, with or without a zone)
    is an unset DateTime that a proxy could not leave out: absent."""
    if value is not None and value.replace(tzinfo=None) == datetime.min:
        return None
    return value


def _credentials(env: dict[str, Any], body_auth: Any) -> list[Credentials]:
    found: list[Credentials] = []
    if body_auth is not None and body_auth.AccountId and body_auth.Password:
        account_id = body_auth.AccountId.strip()
        if len(account_id) > 64 or len(body_auth.Password) > 128:
            raise errors.ValidationError(
                "Auth: AccountId is 1 to 64 characters, Password 1 to 128"
            )
        found.append(Credentials(account_id, body_auth.Password, "body"))
    for token in env.get(ENV_KEY_TOKENS) or []:
        if token.digest:
            raise errors.AuthenticationFailed(
                "WS-Security PasswordDigest cannot be checked against hashed "
                "passwords; send PasswordText (over TLS)"
            )
        if token.username and token.password:
            found.append(
                Credentials(
                    token.username,
                    token.password,
                    "wsse",
                    _wsse_created(token.created),
                    token.nonce or None,
                )
            )
    basic = env.get(ENV_BASIC)
    if basic is not None:
        found.append(Credentials(basic[0], basic[1], "basic"))
    return found


def _wsse_created(value: str | None) -> datetime | None:
    """A UsernameToken's Created as naive UTC; one that is no time is refused."""
    if not value:
        return None
    try:
        created = datetime.fromisoformat(value)
    except ValueError as exc:
        raise errors.AuthenticationFailed(
            "WS-Security Created is not an xs:dateTime"
        ) from exc
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    return created


def _login(ctx: Any, body_auth: Any, *, unconfirmed: bool = False) -> r.AccountView:
    env = ctx.transport.req_env
    return auth.authenticate(
        env[ENV_RUNTIME],
        _credentials(env, body_auth),
        env.get(ENV_CLIENT_IP, ""),
        unconfirmed=unconfirmed,
    )


@contextmanager
def _call(
    ctx: Any, operation: str, body_auth: Any, *, unconfirmed: bool = False
) -> Iterator[tuple[Runtime, r.AccountView]]:
    """Authenticate, run the operation, translate errors, log one line.

    `unconfirmed`: the operation confirms the account's version itself (see
    auth.authenticate)."""
    env = ctx.transport.req_env
    rt: Runtime = env[ENV_RUNTIME]
    client_ip = env.get(ENV_CLIENT_IP, "")
    started = time.perf_counter()
    account_id = "-"
    outcome = "ok"
    try:
        account = _login(ctx, body_auth, unconfirmed=unconfirmed)
        account_id = account.account_id
        yield rt, account
    except errors.SoapsmsError as exc:
        outcome = faults.fault_code(exc)
        if isinstance(exc, errors.NoCredentials):
            env[ENV_CHALLENGE] = True
            ctx.transport.resp_code = HTTP_401
            ctx.transport.resp_headers["WWW-Authenticate"] = 'Basic realm="soapsms"'
        raise faults.to_fault(exc) from exc
    finally:
        elapsed = time.perf_counter() - started
        logger.info(
            "soap call account=%s source=%s operation=%s outcome=%s duration_ms=%.1f",
            account_id,
            client_ip,
            operation,
            outcome,
            elapsed * 1000,
        )
        counters = metrics.get()
        counters.soap_requests.labels(operation, outcome).inc()
        counters.soap_duration.labels(operation).observe(elapsed)
        if outcome != "ok":
            counters.soap_faults.labels(outcome).inc()


def _ids(wire: Any) -> tuple[str, ...]:
    if wire is None or not wire.MessageId:
        return ()
    return tuple(i for i in wire.MessageId if i and i.strip())


def _selector(
    message_ids: Any, batch_id: str | None, reference: str | None
) -> Selector:
    return Selector(_ids(message_ids), _text(batch_id), _text(reference))


def _recipients(message: Any) -> list[str]:
    if message.Recipients is None or message.Recipients.Recipient is None:
        return []
    return [x for x in message.Recipients.Recipient if x is not None]


def send_message(ctx: Any, body_auth: Any, message: Any) -> writer.Rendered:
    """SendMessage, for Spyne's pipeline and for soap.direct alike: `ctx` has
    Spyne's `transport`, `body_auth` and `message` the attributes of the wire
    types Auth and OutboundMessage."""
    request = SendRequest(
        text=message.Text or "",
        recipients=tuple(_recipients(message)),
        recipients_text=_text(message.RecipientsText),
        sender=_text(message.Sender),
        client_reference=_text(message.ClientReference),
        scheduled_for=_time(message.ScheduledFor),
        validity_minutes=_count(message.ValidityMinutes),
        encoding=_text(message.Encoding),
        status_callback_url=_text(message.StatusCallbackUrl),
    )
    # The login cached by an earlier call is confirmed by the send's own
    # transaction: one transaction a send, not two.
    with _call(ctx, "SendMessage", body_auth, unconfirmed=True) as (rt, account):
        # Changed since that login: checked against the store, then sent again.
        result = send.submit_message(
            rt, account, request, login_again=lambda: _login(ctx, body_auth)
        )
        return writer.send_result("SendMessage", result)


def get_status(
    ctx: Any, body_auth: Any, message_ids: Any, batch_id: Any, reference: Any
) -> writer.Rendered:
    """GetStatus, for Spyne's pipeline and for soap.direct alike (as
    send_message): `message_ids` has the attributes of MessageIdList."""
    with _call(ctx, "GetStatus", body_auth) as (rt, account):
        selector = _selector(message_ids, batch_id, reference)
        return writer.status_list("GetStatus", query.get_status(rt, account, selector))


OptionalString = t.optional(Unicode)
OptionalInt = t.optional(Integer32)
OptionalTime = t.optional(t.DateTime)
OptionalAuth = t.optional(t.Auth)
OptionalIds = t.optional(t.MessageIdList)

# GetStatus and CancelMessage: Auth?, MessageIds?, BatchId?, ClientReference?
SELECTOR_PARAMS = (OptionalAuth, OptionalIds, OptionalString, OptionalString)

_decorate: Callable[..., Any] = rpc


class SmsService(ServiceBase):  # type: ignore[misc]
    """soapsms v1: SendMessage, GetStatus, ListMessages, CancelMessage, GetAccount."""

    @_decorate(
        OptionalAuth,
        t.required(t.OutboundMessage),
        _returns=t.required(t.SendMessageResult),
        _out_variable_name="SendMessageResult",
    )
    def SendMessage(ctx: Any, Auth: Any, Message: Any) -> Any:  # noqa: N802,N803
        return send_message(ctx, Auth, Message)

    @_decorate(
        *SELECTOR_PARAMS,
        _returns=t.required(t.MessageStatusList),
        _out_variable_name="GetStatusResult",
    )
    def GetStatus(
        ctx: Any, Auth: Any, MessageIds: Any, BatchId: Any, ClientReference: Any
    ) -> Any:  # noqa: N802,N803
        return get_status(ctx, Auth, MessageIds, BatchId, ClientReference)

    @_decorate(
        OptionalAuth,
        OptionalTime,
        OptionalTime,
        OptionalString,
        OptionalString,
        OptionalString,
        OptionalString,
        OptionalInt,
        _returns=t.required(t.MessagePage),
        _out_variable_name="ListMessagesResult",
    )
    def ListMessages(  # noqa: N802
        ctx: Any,
        Auth: Any,  # noqa: N803
        Since: datetime | None,  # noqa: N803
        Until: datetime | None,  # noqa: N803
        Status: str | None,  # noqa: N803
        Recipient: str | None,  # noqa: N803
        BatchId: str | None,  # noqa: N803
        Cursor: str | None,  # noqa: N803
        Limit: int | None,  # noqa: N803
    ) -> Any:
        with _call(ctx, "ListMessages", Auth) as (rt, account):
            page = query.list_messages(
                rt,
                account,
                ListQuery(
                    since=_time(Since),
                    until=_time(Until),
                    status=_text(Status),
                    recipient=_text(Recipient),
                    batch_id=_text(BatchId),
                    cursor=_text(Cursor),
                    limit=_count(Limit),
                ),
            )
            return writer.message_page("ListMessages", page)

    @_decorate(
        *SELECTOR_PARAMS,
        _returns=t.required(t.MessageStatusList),
        _out_variable_name="CancelMessageResult",
    )
    def CancelMessage(
        ctx: Any, Auth: Any, MessageIds: Any, BatchId: Any, ClientReference: Any
    ) -> Any:  # noqa: N802,N803
        with _call(ctx, "CancelMessage", Auth) as (rt, account):
            selector = _selector(MessageIds, BatchId, ClientReference)
            return writer.status_list(
                "CancelMessage", query.cancel_messages(rt, account, selector)
            )

    @_decorate(
        OptionalAuth,
        _returns=t.required(t.AccountInfo),
        _out_variable_name="GetAccountResult",
    )
    def GetAccount(ctx: Any, Auth: Any) -> Any:  # noqa: N802,N803
        with _call(ctx, "GetAccount", Auth) as (rt, account):
            info = query.get_account(rt, account)
            return t.AccountInfo(
                AccountId=info.account_id,
                Name=info.name,
                Credits=info.credits,
                DefaultSender=info.default_sender,
                MaxRecipientsPerRequest=info.max_recipients,
                RateLimitPerMinute=info.rate_limit_per_minute,
            )
