"""digest.web.server: the listening socket and the app served from a thread."""

from __future__ import annotations

import errno
import logging
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from digest.errors import ListenError
from digest.web import create_app
from digest.web.server import bind, serving
from tests.servers import free_port
from tests.webtools import newsroom


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


def test_a_host_that_is_not_this_machines_is_said_so_not_called_a_taken_port() -> None:
    # 192.0.2.1 is a documentation address (TEST-NET-1): no machine of the tests holds it.
    with pytest.raises(ListenError) as caught:
        bind("192.0.2.1", free_port(), "web.port")
    message = str(caught.value)
    assert "'192.0.2.1' is not an address of this machine" in message
    assert "free port" not in message


@pytest.mark.parametrize(
    ("error", "port", "advice"),
    [
        (OSError(errno.EADDRINUSE, "Address already in use"), 8080, "set web.port to a free port"),
        (OSError(errno.EACCES, "Permission denied"), 80, "set web.port to a port above 1023"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), 8080, "not an address"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), 8080, "not an address of this machine"),
    ],
)
def test_a_failed_bind_gets_the_advice_that_fits_its_cause(
    error: OSError, port: int, advice: str
) -> None:
    message = str(
        ListenError.from_os_error("the web pages", "web.example", port, "web.port", error)
    )
    assert message.startswith(
        f"cannot serve the web pages on web.example:{port} (web.port = {port}): "
    )
    assert error.strerror in message and advice in message


def test_serving_from_a_thread_answers_and_stops() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("here"))])
    with serving(app, "127.0.0.1", 0) as address:
        assert httpx.get(address).text == "here"
    with pytest.raises(httpx.ConnectError):
        httpx.get(address, timeout=2)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds``, reading whatever it sends."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_connection_that_sends_nothing_or_dribbles_its_request_is_closed() -> None:
    """Slowloris: without a bound on the time a request takes to arrive, a client holds a
    connection for ever by opening it and saying nothing, or by sending a byte at a time."""
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("here"))])
    with serving(app, "127.0.0.1", 0, request_timeout=1.0) as address:
        host, port = address.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as silent:
            assert _closed_within(silent, 20)
        with socket.create_connection((host, int(port))) as dribbler:
            dribbler.settimeout(20)
            closed = False
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                try:
                    dribbler.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                time.sleep(0.1)  # 20 s in all, were it never closed
            assert closed or _closed_within(dribbler, 5)
        # A client that sends its request in time is answered, and again on the same
        # connection after a pause shorter than the bound.
        with httpx.Client() as client:
            assert client.get(address).text == "here"
            time.sleep(0.5)
            assert client.get(address).text == "here"


def _bytes_until_closed(sock: socket.socket, seconds: float, pause: float = 0.0) -> int:
    """How many bytes ``sock`` reads until the server ends the connection (or ``seconds``
    pass), sleeping ``pause`` between reads."""
    sock.settimeout(seconds)
    received = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
            time.sleep(pause)
    except (TimeoutError, ConnectionResetError):
        pass
    return received


def test_a_client_that_reads_nothing_of_its_answer_is_dropped_and_a_slow_reader_is_served() -> None:
    """Slow read: a client that asked for a large answer (a picture of /images/ runs to
    megabytes) and read none of it held the connection, and the answer in memory, for ever:
    a few hundred of them took the server's memory and file descriptors."""
    large = "x" * 20_000_000
    app = Starlette(
        routes=[
            Route("/large", lambda request: PlainTextResponse(large)),
            Route("/medium", lambda request: PlainTextResponse(large[:8_000_000])),
        ]
    )
    with serving(app, "127.0.0.1", 0, write_stall_timeout=1.0) as address:
        host, port = address.removeprefix("http://").split(":")
        with socket.socket() as idle:
            idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            idle.connect((host, int(port)))
            idle.sendall(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(5)  # reads nothing, past the bound
            assert _bytes_until_closed(idle, 20) < len(large)
        # A reader that keeps taking the bytes, slowly, gets the whole answer.
        with socket.socket() as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            slow.connect((host, int(port)))
            slow.sendall(b"GET /medium HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            started = time.monotonic()
            received = _bytes_until_closed(slow, 60, pause=0.02)
            assert received > 8_000_000 and time.monotonic() - started > 2


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@contextmanager
def _serving_logged() -> Iterator[tuple[str, _Lines]]:
    """A page at "/" ("here"), and what uvicorn logs meanwhile, debug lines included."""
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("here"))])
    lines = _Lines()
    uvicorn_log = logging.getLogger("uvicorn.error")
    level = uvicorn_log.level
    with serving(app, "127.0.0.1", 0) as address:
        uvicorn_log.addHandler(lines)
        uvicorn_log.setLevel(logging.DEBUG)
        try:
            yield address, lines
        finally:
            uvicorn_log.removeHandler(lines)
            uvicorn_log.setLevel(level)


def test_a_websocket_upgrade_is_answered_as_a_plain_request_without_a_warning() -> None:
    # uvicorn logged two warnings for each, one telling the operator to install a WebSocket
    # library: anyone could write them into the log, and the advice was wrong (no page has one).
    with _serving_logged() as (address, lines):
        upgrade = {"connection": "Upgrade", "upgrade": "websocket"}
        for _ in range(3):
            answer = httpx.get(address, headers={**upgrade, "sec-websocket-version": "13"})
            assert (answer.status_code, answer.text) == (200, "here")
    assert [line for line in lines.lines if not line.startswith("DEBUG")] == []


def test_a_malformed_request_gets_a_400_without_a_warning() -> None:
    # uvicorn logged a warning for each: any stranger could write lines into the log at will.
    with _serving_logged() as (address, lines):
        host, port = address.removeprefix("http://").rsplit(":", 1)
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=10) as client:
                client.sendall(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 400 ")
        assert httpx.get(address).text == "here"  # and the server serves on
    assert [line for line in lines.lines if not line.startswith("DEBUG")] == []
    assert "DEBUG Invalid HTTP request received." in lines.lines  # kept, at debug


def test_a_client_gone_before_its_body_is_in_writes_no_error_into_the_log(
    tmp_path: Path,
) -> None:
    """A post whose body never comes whole (the client closes, or dribbles it past the bound
    on a request's arrival) logged "Exception in ASGI application" and a traceback at ERROR,
    for each: any stranger could fill the log with what reads as a bug of the pages."""
    lines = _Lines()
    uvicorn_log = logging.getLogger("uvicorn.error")
    with (
        newsroom(tmp_path, editions=1) as room,
        serving(create_app(room.services), "127.0.0.1", 0, request_timeout=1.0) as address,
    ):
        host, port = address.removeprefix("http://").rsplit(":", 1)
        sam = room.services.store.subscriber_by_email("sam@example.org")
        assert sam is not None
        signer = room.services.signer
        paths = [
            "/subscribe/daily",
            f"/unsubscribe/{signer.unsubscribe_token(sam.id, 'daily')}",
            f"/preferences/{signer.preferences_token(sam.id, 'daily')}",
            "/confirm/not-a-token",
        ]
        uvicorn_log.addHandler(lines)
        try:
            for path in paths:
                for wait in (0.2, 2.0):  # closed by the client, then by the bound
                    with socket.create_connection((host, int(port)), timeout=10) as client:
                        client.sendall(
                            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                            "email=half".encode()
                        )
                        time.sleep(wait)
            assert httpx.get(f"{address}/").status_code == 200  # and the server serves on
        finally:
            uvicorn_log.removeHandler(lines)
        assert room.is_member("daily", "Sam")
    assert [line for line in lines.lines if not line.startswith(("DEBUG", "INFO"))] == []


@pytest.mark.parametrize("root", ["/newsletters", "/editions"])  # the second reads as a route
def test_the_pages_answer_under_base_urls_path_whether_the_proxy_strips_it_or_passes_it_on(
    tmp_path: Path, root: str
) -> None:
    # The mail's links are base_url/unsubscribe/TOKEN: behind a proxy that passes base_url's
    # path on (nginx's proxy_pass with no URI), the server sees "/newsletters/unsubscribe/…".
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    base_url = f"{server}{root}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    with (
        newsroom(tmp_path, editions=1, base_url=base_url) as room,
        serving(create_app(room.services), "127.0.0.1", port),
        httpx.Client(follow_redirects=False) as http,
    ):
        sam, rana = (room.unsubscribe_token("daily", name) for name in ("Sam", "Rana"))
        for front in (base_url, server):  # passed on, stripped
            assert http.get(f"{front}/").status_code == 200
            assert http.get(f"{front}/editions/daily").status_code == 200
            assert http.get(f"{front}/static/site.css").status_code == 200
            assert http.get(f"{front}/editions/nope").status_code == 404
            slash = http.get(f"{front}/editions/daily/")
            assert slash.status_code == 307
            assert slash.headers["location"] == f"{root}/editions/daily"
        # The unsubscribe page's button, its form posted where the page says.
        page = http.get(f"{base_url}/unsubscribe/{sam}")
        assert page.status_code == 200
        action = re.search(r'action="([^"]+)"', page.text)
        token = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert action is not None and token is not None
        assert action[1] == f"{root}/unsubscribe/{sam}"
        done = http.post(
            f"{server}{action[1]}", data={"form_token": token[1]}, headers={"origin": server}
        )
        assert done.status_code == 200, done.text
        assert not room.is_member("daily", "Sam")
        # The one-click POST, as a mailbox provider sends it to the List-Unsubscribe URL.
        click = http.post(
            f"{base_url}/unsubscribe/{rana}", content=b"List-Unsubscribe=One-Click", headers=form
        )
        assert (click.status_code, click.text) == (200, "Unsubscribed.\n")
        assert not room.is_member("daily", "Rana")
