"""The web app on uvicorn: in the foreground (``digest serve``) or beside the loop (``digest run``).

uvicorn runs on h11, the pure-Python HTTP/1.1 parser, with its limit on an incomplete request
head set to HEADER_LIMIT: a head not complete within that many bytes is refused with 400 (h11
has no 431) before the app sees it. A longer head that arrives whole in one read of the socket
is parsed, and the app refuses it with 431 (digest.web.security.RequestLimits); bodies are the
app's affair too.

uvicorn bounds the wait for a kept-alive connection's next request, but not the time a request
takes to arrive: a connection opened and left silent, or fed one header byte a second
(slowloris), was held for ever, and a few hundred of them took every file descriptor. The
protocol here closes a connection whose request (head and body) is not in within
REQUEST_TIMEOUT of the connection's start or of the previous response's end.

A request that asks to upgrade the connection (a WebSocket) is answered as a plain request:
the pages have no WebSocket. uvicorn also logged two warnings for each, the second telling the
operator to install a WebSocket library, for any stranger to write into the log at will; it is
a debug line here.

The listening socket is bound here, not by uvicorn, so that an address in use is a ListenError
naming the config key, as for the sample feeds, rather than a log line and an exit.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from digest.errors import DigestError, ListenError
from digest.web.security import HEADER_LIMIT

_log = logging.getLogger(__name__)

KEY = "web.port"
# Seconds a whole request may take to arrive: forms are a few hundred bytes, and even a phone on
# a poor line sends one in well under this.
REQUEST_TIMEOUT = 15.0


class _BoundedRequestProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request is not in within
    ``request_timeout`` seconds of its start or of the previous response's end."""

    request_timeout = REQUEST_TIMEOUT
    _request_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_request_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm_request_deadline()  # the whole request is in (or the connection ends)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_request_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_request_deadline()
        super().connection_lost(exc)

    def _arm_request_deadline(self) -> None:
        self._disarm_request_deadline()
        self._request_deadline = self.loop.call_later(self.request_timeout, self._request_late)

    def _disarm_request_deadline(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _unsupported_upgrade_warning(self) -> None:
        _log.debug("a request asked to upgrade the connection; answered as a plain request")

    def _request_late(self) -> None:
        self._request_deadline = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def bind(host: str, port: int, key: str = KEY) -> socket.socket:
    """A listening socket on (host, port); ``port`` 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said outright: asyncio turns Nagle's algorithm off only on sockets that say
    # so, and with it on, a kept-alive connection waits 40 ms for each response's body (the
    # headers go first, and the client delays its ACK). The option is set here as well, and
    # accepted connections inherit it.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ListenError.from_os_error("the web pages", host, port, key, error) from error
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """The http URL a bound socket answers at."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def server_for(app: ASGIApp, *, request_timeout: float = REQUEST_TIMEOUT) -> uvicorn.Server:
    protocol = type(
        "BoundedRequestProtocol", (_BoundedRequestProtocol,), {"request_timeout": request_timeout}
    )
    config = uvicorn.Config(
        app,
        http=protocol,
        h11_max_incomplete_event_size=HEADER_LIMIT,
        lifespan="off",
        server_header=False,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=5,
        # X-Forwarded-For is read by the app, from web.trusted_proxies only (digest.web.clients):
        # uvicorn would believe it from 127.0.0.1 without being asked.
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def serve(
    app: ASGIApp, host: str, port: int, *, announce: Callable[[str], None], key: str = KEY
) -> None:
    """Serve ``app`` until interrupted (Ctrl-C or SIGTERM end it gracefully)."""
    sock = bind(host, port, key)
    announce(address(sock))
    server = server_for(app)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def serving(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    key: str = KEY,
    request_timeout: float = REQUEST_TIMEOUT,
) -> Iterator[str]:
    """Serve ``app`` from a thread while the block runs; yields the address it answers at."""
    sock = bind(host, port, key)
    server = server_for(app, request_timeout=request_timeout)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="digest-web", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise DigestError(f"the web pages did not start on {address(sock)}")
        time.sleep(0.01)
    try:
        yield address(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
