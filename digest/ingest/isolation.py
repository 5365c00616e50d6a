"""Parse a large feed document in a child process, bounded in time and in memory.

feedparser is pure Python, and some documents cost it far more than their size suggests: 4 MB of
unclosed tags keep its lenient parser busy for twenty seconds. In the poller such a parse would
hold the CPU turn (``digest.concurrency.cpu_turn``) and stall every other feed meanwhile. So:

    document <= ingest.parse_apart_above_bytes ─► parse_feed here: its size bounds its time
                                                  (the worst measured: ~5 µs a byte); not read
                                                  within ingest.parse_in_poller_seconds ─┐
    larger ─► parse_feed in a parser process, killed after ingest.parse_timeout_seconds, with ◄┘
              ingest.parse_memory_mb of memory beyond what the interpreter holds at start

A parser process is a plain subprocess of this Python (not one of multiprocessing's, which a
Celery worker's own pool processes may not have). Starting one costs about half a second, more
than parsing most documents it is for, so each is kept for the next document: one is started
when none is free, at most ``KEPT_IDLE`` wait between documents, and one that was stopped, failed
a document (ran out of memory, say), died or read ``DOCUMENTS_PER_PROCESS`` documents is replaced
by a new one at the next document.

    parent ─► [length][pickle: content, url, content type, now] ─► parser process
           ◄─ [length][pickle: ("ok", ParsedFeed) | ("error", reason)] ◄─
"""

from __future__ import annotations

import atexit
import os
import pickle
import resource
import selectors
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO

import digest
from digest.errors import ParseError
from digest.ingest.parse import parse_feed
from digest.records import ParsedFeed

_MB = 1 << 20
# Parser processes kept waiting for the next document; more are started when polls need them.
KEPT_IDLE = 2
# Documents one parser process reads before a new one takes over: what parses leave behind
# (fragmented memory counts against its limit) never builds up.
DOCUMENTS_PER_PROCESS = 100
# Where this digest package lives, so that the child imports the very same code.
_PACKAGE_ROOT = str(Path(digest.__file__).resolve().parents[1])
_LENGTH = struct.Struct("!Q")


class _ParserGone(Exception):
    """The parser process ended, or stopped answering in time. Internal to this module."""


def parse_apart(
    content: bytes,
    *,
    url: str,
    content_type: str | None,
    now: datetime,
    timeout: float,
    memory_bytes: int,
) -> ParsedFeed:
    """``parse_feed`` in a parser process; ParseError when it fails, runs out of time or memory."""
    request = pickle.dumps((content, url, content_type, now))
    deadline = time.monotonic() + timeout
    parser = _parsers.take(memory_bytes)
    try:
        answer = parser.ask(request, deadline)
    except TimeoutError:
        parser.stop()
        raise ParseError(
            url,
            f"parsing took longer than {timeout:g} s and was stopped "
            f"({len(content):,} bytes; ingest.parse_timeout_seconds)",
        ) from None
    except _ParserGone:
        raise ParseError(url, parser.stop()) from None
    # Pickles pass only between this process and its own child, over the child's stdin/stdout.
    outcome, value = pickle.loads(answer)  # noqa: S301
    if outcome == "error":
        # Not kept: after running out of memory, what the parse left behind would crowd the next.
        parser.close()
        raise ParseError(url, str(value))
    _parsers.give_back(parser)
    assert isinstance(value, ParsedFeed)
    return value


class _Parser:
    """One parser process and its pipes."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self.documents = 0
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_ROOT, *filter(None, [environment.get("PYTHONPATH")])]
        )
        # This very interpreter and module: nothing from a feed reaches the command line. -P:
        # the working directory is not put first on the path, where a `digest/` folder of its
        # own (a checkout of another release) would be imported in place of this one.
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-P", "-m", "digest.ingest.isolation", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Read only once the process has ended, to say why; a traceback fits the pipe.
            stderr=subprocess.PIPE,
            env=environment,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: bytes, deadline: float) -> bytes:
        """Send one request and wait for its answer until ``deadline`` (time.monotonic()).
        Raises TimeoutError, or _ParserGone when the process ended."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        self.documents += 1
        try:
            # The process is idle, reading: the request goes straight into it.
            stdin.write(_LENGTH.pack(len(request)) + request)
            stdin.flush()
        except (BrokenPipeError, ValueError):
            raise _ParserGone from None
        (length,) = _LENGTH.unpack(_read_exactly(stdout, _LENGTH.size, deadline))
        return _read_exactly(stdout, length, deadline)

    def stop(self) -> str:
        """End the process (if it has not ended) and say how it ended, for the operator."""
        if self.alive:
            self.process.kill()
        try:
            _, said_bytes = self.process.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            said_bytes = b""
        said = (said_bytes or b"").decode("utf-8", "replace").strip().splitlines()
        last = f": {said[-1][:200]}" if said else ""
        code = self.process.returncode
        return f"the parser's process ended without an answer (exit code {code}){last}"

    def close(self) -> None:
        """Let an idle process end on its own: it stops at the end of its input."""
        if self.process.stdin is not None:
            self.process.stdin.close()


def _read_exactly(stream: IO[bytes], size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    missing = size
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while missing:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError
            chunk = os.read(stream.fileno(), min(missing, 1 << 20))
            if not chunk:
                raise _ParserGone
            chunks.append(chunk)
            missing -= len(chunk)
    return b"".join(chunks)


class _Parsers:
    """The parser processes of this process: taken by one parse at a time, kept for the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Parser] = []
        self._owner = os.getpid()

    def take(self, memory_bytes: int) -> _Parser:
        with self._lock:
            if self._owner != os.getpid():
                # A forked copy of this process: the pipes are its parent's, not ours to use.
                self._idle, self._owner = [], os.getpid()
            while self._idle:
                parser = self._idle.pop()
                if parser.alive and parser.memory_bytes == memory_bytes:
                    return parser
                parser.close()
        return _Parser(memory_bytes)

    def give_back(self, parser: _Parser) -> None:
        with self._lock:
            if (
                parser.alive
                and parser.documents < DOCUMENTS_PER_PROCESS
                and len(self._idle) < KEPT_IDLE
                and self._owner == os.getpid()
            ):
                self._idle.append(parser)
                return
        parser.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for parser in idle:
            parser.close()


_parsers = _Parsers()
atexit.register(_parsers.close)


# ----------------------------------------------------------------------------------------------
# The parser process


def main() -> None:
    """Answer parse requests from stdin on stdout, within the memory allowed, until stdin ends."""
    memory_bytes = int(sys.argv[1])
    limit = _address_space() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while header := requests.read(_LENGTH.size):
        (length,) = _LENGTH.unpack(header)
        content, url, content_type, now = pickle.loads(requests.read(length))  # noqa: S301
        result: tuple[str, object]
        try:
            result = ("ok", parse_feed(content, url=url, content_type=content_type, now=now))
        except ParseError as error:
            result = ("error", error.reason)
        except MemoryError:
            result = (
                "error",
                f"parsing needed more than {memory_bytes // _MB} MB of memory and was stopped "
                f"({len(content):,} bytes; ingest.parse_memory_mb)",
            )
        del content  # room to write the answer in
        answer = pickle.dumps(result)
        answers.write(_LENGTH.pack(len(answer)) + answer)
        answers.flush()


def _address_space() -> int:
    """The bytes of address space this process holds now (VmSize)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * resource.getpagesize()


if __name__ == "__main__":
    main()
