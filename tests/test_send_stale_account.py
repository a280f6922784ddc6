"""An account changed between an ingress's login and its send: read again, sent once."""

from __future__ import annotations

from typing import Any

from soapsms.usecases import accounts, auth
from tests.smtp_helpers import example, ingress, send


def test_smtp_mail_is_sent_after_its_account_changed_mid_call(
    runtime, account, client, monkeypatch
):
    real = auth.authenticate
    logins: list[int] = []

    def then_changed(*args: Any, **kwargs: Any) -> Any:
        view = real(*args, **kwargs)
        logins.append(view.version)
        if len(logins) == 1:
            # Another worker edits the account before this send is stored.
            accounts.set_rate_limit(runtime, "acme", None)
        return view

    monkeypatch.setattr(auth, "authenticate", then_changed)
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, example())
    assert code == 250, text
    assert logins == [logins[0], logins[0] + 1]  # the second read saw the change
    statuses = client.service.ListMessages(
        Auth={"AccountId": "acme", "Password": "s3cret"}
    )
    assert len(statuses.Messages.MessageStatus) == 2
