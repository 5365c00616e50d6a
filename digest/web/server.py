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

The other way round, a client that asks for a large answer (a picture of /images/ runs to
megabytes) and never reads it held its connection, and the answer's bytes in memory, for ever:
neither bound runs once the request is in, and a connection closed with bytes still to send
waits for them to leave. A connection none of whose waiting bytes leaves within
WRITE_STALL_TIMEOUT is dropped; a slow reader, whose bytes keep leaving, is served to the end.

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
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

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
# Seconds an answer may wait with not a byte of it taken by the client: a phone on a poor line
# takes some every second; a client that reads nothing is holding the connection.
WRITE_STALL_TIMEOUT = 30.0


class _ClientFaultsAtDebug(logging.Logger):
    """uvicorn's logger, with its warning about a malformed request logged at debug: the client
    is told (400), and a warning would let any stranger write lines into the log at will. Its
    records go to uvicorn's logger, whose level and handlers decide, as uvicorn's own do."""

    def __init__(self, uvicorn: logging.Logger) -> None:
        super().__init__(uvicorn.name)
        self.parent = self._uvicorn = uvicorn

    def isEnabledFor(self, level: int) -> bool:
        # Asked of uvicorn's logger, whose answer follows its level as set now: this one is no
        # logger of the logging module's registry, whose cache of answers it would not clear.
        return self._uvicorn.isEnabledFor(level)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        if msg == "Invalid HTTP request received.":
            self.debug(msg, *args, **kwargs)
        else:
            super().warning(msg, *args, **kwargs)


_uvicorn_log = _ClientFaultsAtDebug(logging.getLogger("uvicorn.error"))


class _BoundedRequestProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request is not in within
    ``request_timeout`` seconds of its start or of the previous response's end, and dropping
    one whose answer stays waiting, not a byte of it taken, for ``write_stall_timeout``."""

    request_timeout = REQUEST_TIMEOUT
    write_stall_timeout = WRITE_STALL_TIMEOUT
    _request_deadline: asyncio.TimerHandle | None = None
    _write_watch: asyncio.TimerHandle | None = None
    _waiting_at_watch = 0  # bytes waiting to be sent when the watch was armed
    _drained_since_watch = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _uvicorn_log

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
        # The answer may still be waiting to leave, on a connection closed or kept alive.
        self._watch_writes()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._watch_writes()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._drained_since_watch = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_request_deadline()
        if self._write_watch is not None:
            self._write_watch.cancel()
            self._write_watch = None
        super().connection_lost(exc)

    def _arm_request_deadline(self) -> None:
        self._disarm_request_deadline()
        self._request_deadline = self.loop.call_later(self.request_timeout, self._request_late)

    def _disarm_request_deadline(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _watch_writes(self) -> None:
        """Check, every write_stall_timeout, that some of the bytes waiting left meanwhile."""
        if self._write_watch is not None or self.transport.get_write_buffer_size() == 0:
            return
        self._waiting_at_watch = self.transport.get_write_buffer_size()
        self._drained_since_watch = False
        self._write_watch = self.loop.call_later(self.write_stall_timeout, self._check_writes)

    def _check_writes(self) -> None:
        self._write_watch = None
        waiting = self.transport.get_write_buffer_size()
        if waiting == 0:
            return
        if waiting >= self._waiting_at_watch and not self._drained_since_watch:
            # Not closed: a close waits for the bytes to leave, which is what never happens.
            self.transport.abort()
            return
        self._watch_writes()

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


def server_for(
    app: ASGIApp,
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    write_stall_timeout: float = WRITE_STALL_TIMEOUT,
) -> uvicorn.Server:
    protocol = type(
        "BoundedRequestProtocol",
        (_BoundedRequestProtocol,),
        {"request_timeout": request_timeout, "write_stall_timeout": write_stall_timeout},
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
    """Serve ``app`` until interrupted: Ctrl-C, SIGTERM or SIGHUP (a closed terminal) end it
    gracefully, the requests in hand answered; after SIGTERM or SIGHUP this returns, so that
    the caller's own cleanup runs."""
    sock = bind(host, port, key)
    announce(address(sock))
    server = server_for(app)
    # uvicorn answers the signal, then sends it again to the handler it found, once it has
    # stopped: the default one ended the process there and then, before the caller closed
    # what it holds (the sign-ups answered but not yet mailed were lost).
    previous = signal.signal(signal.SIGTERM, _stop_serving)
    # uvicorn leaves SIGHUP alone, whose default ends the process at once: it is SIGTERM here.
    previous_hangup = signal.signal(signal.SIGHUP, _as_sigterm)
    try:
        server.run(sockets=[sock])
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hangup)
        sock.close()


class _Terminated(Exception):
    """SIGTERM, once the server has stopped: ``serve`` returns."""


def _stop_serving(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _as_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGTERM)


@contextmanager
def serving(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    key: str = KEY,
    request_timeout: float = REQUEST_TIMEOUT,
    write_stall_timeout: float = WRITE_STALL_TIMEOUT,
) -> Iterator[str]:
    """Serve ``app`` from a thread while the block runs; yields the address it answers at."""
    sock = bind(host, port, key)
    server = server_for(
        app, request_timeout=request_timeout, write_stall_timeout=write_stall_timeout
    )
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
