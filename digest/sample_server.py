"""A read-only loopback HTTP server for a folder of feed files: the offline example, the tests."""

from __future__ import annotations

import hashlib
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from digest.errors import DigestError, ListenError

CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}


def content_type_for(path: Path, head: bytes) -> str:
    """The Content-Type to serve a feed file with: by extension, or by root element for ``.xml``."""
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    if suffix == ".xml":
        if b"<feed" in head:
            return "application/atom+xml"
        if b"<rdf:RDF" in head:
            return "application/rdf+xml"
        return "application/rss+xml"
    return "application/octet-stream"


# The elements whose text is a date in the feeds the server serves: RFC 822 in RSS, RFC 3339
# (W3CDTF) in Atom and RSS 1.0.
_DATE_ELEMENT = re.compile(rb"<(pubDate|lastBuildDate|dc:date|updated|published)>([^<]{1,64})</\1>")
_DAY = timedelta(days=1)


def _read_date(text: str) -> datetime | None:
    try:
        if text[:1].isdigit() and "-" in text[:8]:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def _write_date(moved: datetime, like: str) -> str:
    """``moved`` in the format of the date ``like`` it replaces."""
    if not (like[:1].isdigit() and "-" in like[:8]):
        return format_datetime(moved)
    written = moved.isoformat()
    return written.removesuffix("+00:00") + "Z" if like.endswith("Z") else written


def _feed_dates(data: bytes) -> Iterator[datetime]:
    for match in _DATE_ELEMENT.finditer(data):
        date = _read_date(match.group(2).decode("ascii", "replace").strip())
        if date is not None and date.tzinfo is not None:
            yield date


def replay_shift(folder: Path, until: datetime) -> timedelta:
    """The whole number of days that moves the newest date of ``folder``'s feeds into the day
    before ``until``: the sample feeds then read as the latest news whenever they are served,
    each report keeping its time of day and its place among the others."""
    newest = max(
        (
            date
            for path in folder.iterdir()
            if path.is_file()
            for date in _feed_dates(path.read_bytes())
        ),
        default=None,
    )
    if newest is None:
        return timedelta(0)
    return (until - newest) // _DAY * _DAY


def moved_dates(data: bytes, shift: timedelta) -> bytes:
    """A feed's bytes with every date of its date elements moved by ``shift``, each written in
    its own format; a date that cannot be read stays as it is."""

    def move(match: re.Match[bytes]) -> bytes:
        text = match.group(2).decode("ascii", "replace").strip()
        date = _read_date(text)
        if date is None:
            return match.group(0)
        name = match.group(1)
        return b"<%s>%s</%s>" % (name, _write_date(date + shift, text).encode(), name)

    return _DATE_ELEMENT.sub(move, data) if shift else data


def etag_for(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class _FolderHandler(BaseHTTPRequestHandler):
    folder: Path  # set on the subclass made for each server, with:
    shift: timedelta  # how far the feeds' dates are moved (replay_shift)
    server_version = "digest-sample"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = self._resolve()
        if path is None:
            self._send_status(HTTPStatus.NOT_FOUND)
            return
        data = moved_dates(path.read_bytes(), self.shift)
        mtime = path.stat().st_mtime
        etag = etag_for(data)
        last_modified = formatdate(mtime, usegmt=True)
        if self._not_modified(etag, mtime):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type_for(path, data[:1024]))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def _resolve(self) -> Path | None:
        """The file the request names, if it is a regular file inside the folder."""
        relative = unquote(urlsplit(self.path).path).lstrip("/")
        if not relative or "\x00" in relative or "\\" in relative:
            return None
        if any(part in ("", ".", "..") for part in relative.split("/")):
            return None
        candidate = (self.folder / relative).resolve()
        # Symbolic links could still point outside the folder: judge where the path really leads.
        if not candidate.is_relative_to(self.folder) or not candidate.is_file():
            return None
        return candidate

    def _not_modified(self, etag: str, mtime: float) -> bool:
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110, 13.2.2).
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            return int(mtime) <= since.timestamp()
        return False

    def _send_status(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the service logs what it fetched, the server need not


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer (a fetch cut off by its limits) is not worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def _server_class(host: str) -> type[ThreadingHTTPServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return type("SampleServer", (_QuietServer,), {"address_family": family})


@contextmanager
def serve_folder(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    key: str = "sample_server.port",
    replay_until: datetime | None = None,
) -> Iterator[str]:
    """Serve the files of ``folder`` read-only at the yielded base URL until the block ends;
    with ``replay_until``, their dates moved by whole days so the newest falls in the day
    before it (``replay_shift``).

    ``port=0`` picks a free port. Raises ListenError, naming the config ``key`` that set the
    port, if the address cannot be bound.
    """
    root = folder.resolve()
    if not root.is_dir():
        raise DigestError(f"cannot serve sample feeds from {folder}: not a folder")
    shift = timedelta(0) if replay_until is None else replay_shift(root, replay_until)
    handler = type("FolderHandler", (_FolderHandler,), {"folder": root, "shift": shift})
    try:
        server = _server_class(host)((host, port), handler)
    except OSError as error:
        raise ListenError.from_os_error("sample feeds", host, port, key, error) from error
    bound_port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sample-feeds-{bound_port}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
