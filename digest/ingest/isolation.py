"""Parse a large feed document in a child process, bounded in time and in memory.

feedparser is pure Python, and some documents cost it far more than their size suggests: 4 MB of
unclosed tags keep its lenient parser busy for twenty seconds. In the poller such a parse would
hold the CPU turn (``digest.concurrency.cpu_turn``) and stall every other feed meanwhile. So:

    document <= ingest.parse_apart_above_bytes ─► parse_feed here: its size bounds its time
                                                  (the worst measured: ~5 µs a byte)
    larger ─► parse_feed in a child process, killed after ingest.parse_timeout_seconds, with
              ingest.parse_memory_mb of memory beyond what the interpreter holds at start

A child is started for each such document ("spawn": a fork of a threaded poller could inherit
a lock held by another thread), which costs about half a second; real feeds this large are rare.
"""

from __future__ import annotations

import multiprocessing
import resource
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

from digest.errors import ParseError
from digest.ingest.parse import parse_feed
from digest.records import ParsedFeed

_MB = 1 << 20


def parse_apart(
    content: bytes,
    *,
    url: str,
    content_type: str | None,
    now: datetime,
    timeout: float,
    memory_bytes: int,
) -> ParsedFeed:
    """``parse_feed`` in a child process; ParseError when it fails, runs out of time or memory."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_parse_in_child,
        args=(send, content, url, content_type, now, memory_bytes),
        name="digest-parse",
        daemon=True,
    )
    child.start()
    send.close()  # the child holds the only writing end: its death ends the pipe
    try:
        if not receive.poll(timeout):
            raise ParseError(
                url,
                f"parsing took longer than {timeout:g} s and was stopped "
                f"({len(content):,} bytes; ingest.parse_timeout_seconds)",
            )
        try:
            outcome, value = receive.recv()
        except EOFError:
            child.join(1)
            raise ParseError(
                url, f"the parser's process ended without an answer (exit code {child.exitcode})"
            ) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome == "error":
        raise ParseError(url, value)
    assert isinstance(value, ParsedFeed)
    return value


def _parse_in_child(
    send: Connection,
    content: bytes,
    url: str,
    content_type: str | None,
    now: datetime,
    memory_bytes: int,
) -> None:
    try:
        limit = _address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            result: tuple[str, object] = (
                "ok",
                parse_feed(content, url=url, content_type=content_type, now=now),
            )
        except ParseError as error:
            result = ("error", error.reason)
        except MemoryError:
            result = (
                "error",
                f"parsing needed more than {memory_bytes // _MB} MB of memory and was stopped "
                f"({len(content):,} bytes; ingest.parse_memory_mb)",
            )
        send.send(result)
    finally:
        send.close()


def _address_space() -> int:
    """The bytes of address space this process holds now (VmSize)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * resource.getpagesize()
