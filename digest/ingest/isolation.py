"""Parse a large feed document in a child process, bounded in time and in memory.

feedparser is pure Python, and some documents cost it far more than their size suggests: 4 MB of
unclosed tags keep its lenient parser busy for twenty seconds. In the poller such a parse would
hold the CPU turn (``digest.concurrency.cpu_turn``) and stall every other feed meanwhile. So:

    document <= ingest.parse_apart_above_bytes ─► parse_feed here: its size bounds its time
                                                  (the worst measured: ~5 µs a byte)
    larger ─► parse_feed in a child process, killed after ingest.parse_timeout_seconds, with
              ingest.parse_memory_mb of memory beyond what the interpreter holds at start

A child is started for each such document, as a plain subprocess of this Python (not through
multiprocessing, whose children a Celery worker's own pool processes may not have), which costs
about half a second; real feeds this large are rare.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import digest
from digest.errors import ParseError
from digest.ingest.parse import parse_feed
from digest.records import ParsedFeed

_MB = 1 << 20
# Where this digest package lives, so that the child imports the very same code.
_PACKAGE_ROOT = str(Path(digest.__file__).resolve().parents[1])


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
    request = pickle.dumps((content, url, content_type, now, memory_bytes))
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [_PACKAGE_ROOT, *filter(None, [environment.get("PYTHONPATH")])]
    )
    try:
        # On a timeout, run() kills the child before it raises.
        child = subprocess.run(
            [sys.executable, "-m", "digest.ingest.isolation"],
            input=request,
            capture_output=True,
            timeout=timeout,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ParseError(
            url,
            f"parsing took longer than {timeout:g} s and was stopped "
            f"({len(content):,} bytes; ingest.parse_timeout_seconds)",
        ) from None
    if child.returncode != 0 or not child.stdout:
        said = child.stderr.decode("utf-8", "replace").strip().splitlines()
        last = f": {said[-1][:200]}" if said else ""
        ended = f"the parser's process ended without an answer (exit code {child.returncode})"
        raise ParseError(url, ended + last)
    # Pickles pass only between this process and its own child, over the child's stdin/stdout.
    outcome, value = pickle.loads(child.stdout)  # noqa: S301
    if outcome == "error":
        raise ParseError(url, str(value))
    assert isinstance(value, ParsedFeed)
    return value


def main() -> None:
    """The child: read the request from stdin, parse within the memory allowed, answer on stdout."""
    content, url, content_type, now, memory_bytes = pickle.load(sys.stdin.buffer)  # noqa: S301
    limit = _address_space() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
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
    pickle.dump(result, sys.stdout.buffer)
    sys.stdout.flush()


def _address_space() -> int:
    """The bytes of address space this process holds now (VmSize)."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    return pages * resource.getpagesize()


if __name__ == "__main__":
    main()
