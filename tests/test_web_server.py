"""digest.web.server: the listening socket and the app served from a thread."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from digest.errors import ListenError
from digest.web.server import bind, serving


def test_the_listening_socket_is_tcp_without_nagle() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


def test_a_taken_port_names_the_key_that_set_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as caught:
            bind("127.0.0.1", port, "web.port")
    assert f"(web.port = {port})" in str(caught.value)
    assert "set web.port to a free port" in str(caught.value)


def test_serving_from_a_thread_answers_and_stops() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("here"))])
    with serving(app, "127.0.0.1", 0) as address:
        assert httpx.get(address).text == "here"
    with pytest.raises(httpx.ConnectError):
        httpx.get(address, timeout=2)
