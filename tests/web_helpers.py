"""The portal through Werkzeug's test client: log in, read the CSRF token, post forms."""

from __future__ import annotations

import html
import re
from typing import Any

from werkzeug.test import Client, TestResponse

from soapsms.usecases.runtime import Runtime
from soapsms.wsgi import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def text_of(response: TestResponse) -> str:
    """The page's visible text, tags dropped and spaces squeezed."""
    tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(tags))


class Portal:
    """One browser-like client of the gateway's WSGI app, with its cookies."""

    def __init__(self, rt: Runtime, **environ: Any) -> None:
        self.client = Client(create_app(runtime=rt))
        self.environ = {"REMOTE_ADDR": "127.0.0.1", **environ}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, environ_base=self.environ, **kwargs)

    def token(self, path: str = "/portal/login") -> str:
        found = _TOKEN.search(self.get(path).get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True
    ) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token())
        return self.client.post(path, data=form, environ_base=self.environ)

    def operator_log_in(
        self, name: str = "alice", password: str = "correct horse"
    ) -> TestResponse:
        """The console's login form, with its own page's token."""
        form = {"name": name, "password": password}
        return self.post(
            "/admin/login", {**form, "csrf_token": self.token("/admin/login")}
        )

    def log_in(
        self, account_id: str = "acme", password: str = "s3cret"
    ) -> TestResponse:
        return self.post(
            "/portal/login", {"account_id": account_id, "password": password}
        )


def signed_in(
    rt: Runtime, account_id: str = "acme", password: str = "s3cret"
) -> Portal:
    """A portal client with a live session of `account_id`."""
    portal = Portal(rt)
    assert portal.log_in(account_id, password).status_code == 302
    return portal
