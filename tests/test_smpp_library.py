"""What the SMPP connector takes from smpplib beyond its public API, held here:
these fail when smpplib changes one of them (session.Client wraps them all)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from smpplib import consts as smpp_consts

from soapsms.dispatch.connectors.smpp.session import Client


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server
    server.close()


def test_connect_makes_its_socket_through_create_socket(
    listener: socket.socket,
) -> None:
    host, port = listener.getsockname()
    client = Client(host, port, timeout=2, allow_unknown_opt_params=True)
    assert client.sock is None
    client.connect()
    try:
        sock = client.sock
        assert sock is not None
        # Our _create_socket override ran: smpplib still builds its socket there.
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted, _ = listener.accept()
        with accepted:
            assert sock.getpeername() == accepted.getsockname()
            # And it is the socket smpplib sends on.
            sock.sendall(b"ping")
            assert accepted.recv(4) == b"ping"
    finally:
        client.close_quietly()
    assert client.sock is None


def test_closing_a_bound_client_on_purpose_warns_nothing(
    listener: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = listener.getsockname()
    client = Client(host, port, timeout=2, allow_unknown_opt_params=True)
    client.connect()
    client.state = smpp_consts.SMPP_CLIENT_STATE_BOUND_TRX
    with caplog.at_level(logging.WARNING):
        client.close_quietly()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert client.state == smpp_consts.SMPP_CLIENT_STATE_CLOSED
    # Without the wrapper smpplib does warn: the state it checks is still `state`.
    other = Client(host, port, timeout=2, allow_unknown_opt_params=True)
    other.connect()
    other.state = smpp_consts.SMPP_CLIENT_STATE_BOUND_TRX
    with caplog.at_level(logging.WARNING):
        other.disconnect()
    assert "disconnecting in the bound state" in caplog.text
