"""A loopback HTTP server whose answers a test scripts path by path, for fetch behaviours that
sample_server does not show (redirects, errors, compression, oversized and slow bodies)."""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    client_port: int = 0  # one per connection: requests on the same connection share it


@dataclass
class FeedServer:
    base_url: str
    requests: list[RecordedRequest] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer with a complete response; Content-Length is added unless a header says otherwise."""
    handler.send_response(status)
    headers = dict(headers or {})
    if "Content-Length" not in headers:
        headers["Content-Length"] = str(len(body))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(status: int, location: str) -> Route:
    return lambda handler: send(handler, status, headers={"Location": location})


def answer(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Route:
    return lambda handler: send(handler, status, body, headers)


def drip(chunk: bytes, every: float, count: int, *, headers_too: bool = False) -> Route:
    """Send ``chunk`` every ``every`` seconds, ``count`` times: a server that is slow on purpose.

    With ``headers_too`` even the status line and headers come a byte at a time.
    """

    def route(handler: BaseHTTPRequestHandler) -> None:
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/rss+xml\r\n"
            f"Content-Length: {len(chunk) * count}\r\n\r\n"
        ).encode()
        try:
            if headers_too:
                for byte in head:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(every)
            else:
                handler.wfile.write(head)
            for _ in range(count):
                handler.wfile.write(chunk)
                handler.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        handler.close_connection = True

    return route


def unsized(body: bytes) -> Route:
    """A 200 answer without Content-Length: the body ends when the connection closes."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Connection", "close")
        handler.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(body)
        handler.close_connection = True

    return route


def raw(data: bytes, *, hold: float = 0.0) -> Route:
    """Write ``data`` to the socket as it is, whatever it holds: a broken or hostile server.

    The connection is then closed, or with ``hold`` kept open for up to that many seconds (until
    the client hangs up), as a server that promised more than it sent would.
    """

    def route(handler: BaseHTTPRequestHandler) -> None:
        with suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(data)
            handler.wfile.flush()
            if hold:
                hang_on(handler.connection, hold)
        handler.close_connection = True

    return route


def hang_on(connection: socket.socket, seconds: float) -> None:
    """Wait up to ``seconds`` for the client to hang up, reading (and dropping) what it sends."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([connection], [], [], left)
        if readable and not connection.recv(65536):
            return


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def feed_server(routes: Mapping[str, Route], host: str = "127.0.0.1") -> Iterator[FeedServer]:
    """Serve ``routes`` (path -> what to answer) on ``host`` (a loopback address) at a free port;
    404 elsewhere."""
    server_state = FeedServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            server_state.requests.append(
                RecordedRequest(path, dict(self.headers.items()), self.client_address[1])
            )
            route = routes.get(path)
            if route is None:
                send(self, 404, b"not found\n")
            else:
                route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer((host, 0), Handler)
    server_state.base_url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
