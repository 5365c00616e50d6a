"""A read-only loopback HTTP server for a folder of feed files: the offline example, the tests."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
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


def etag_for(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class _FolderHandler(BaseHTTPRequestHandler):
    folder: Path  # set on the subclass made for each server
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
        data = path.read_bytes()
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
    folder: Path, *, host: str = "127.0.0.1", port: int = 0, key: str = "sample_server.port"
) -> Iterator[str]:
    """Serve the files of ``folder`` read-only at the yielded base URL until the block ends.

    ``port=0`` picks a free port. Raises ListenError, naming the config ``key`` that set the
    port, if the address cannot be bound.
    """
    root = folder.resolve()
    if not root.is_dir():
        raise DigestError(f"cannot serve sample feeds from {folder}: not a folder")
    handler = type("FolderHandler", (_FolderHandler,), {"folder": root})
    try:
        server = _server_class(host)((host, port), handler)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ListenError("sample feeds", host, port, key, reason) from error
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
