"""Undo a body's Content-Encoding (gzip or deflate, one layer or two), within a size limit.

The fetcher inflates bodies itself rather than letting httpx do it, so that ``max_body_bytes``
bounds the decompressed size too: a compression bomb stops at the limit, layer by layer. A body
still gzip once the codings announced are undone (a ``.xml.gz`` file served as it is, a
Content-Encoding a proxy dropped, a body compressed twice and announced once) gets that layer
undone too, within the same limits: its first bytes, ``GZIP_MAGIC``, start no feed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, NoReturn

from digest.errors import FetchError
from digest.shown import brief

# Two layers of compression ("gzip, gzip") is a misconfigured server compressing twice; more is
# no real server's, and each layer costs a pass over up to max_body_bytes.
MAX_CONTENT_CODINGS = 2
GZIP_MAGIC = b"\x1f\x8b"
# How much of a body's start is kept to tell, should it fail to inflate, that it is plain text.
_OPENING_BYTES = 64


class Inflater:
    """Undo a Content-Encoding of gzip or deflate (one, or two stacked), never producing more than
    asked for at a time; ``too_large`` is called when an inner layer alone outgrows that."""

    def __init__(
        self, url: str, content_encoding: str | None, too_large: Callable[[], NoReturn]
    ) -> None:
        self._too_large = too_large
        header = brief(content_encoding or "")
        listed = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
        codings = [coding for coding in listed if coding not in ("", "identity")]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise FetchError(
                    url,
                    f"the server compressed the feed with {brief(coding)!r} (Content-Encoding: "
                    f"{header}), which we never ask for: we accept gzip and deflate",
                )
        if len(codings) > MAX_CONTENT_CODINGS:
            raise FetchError(
                url,
                f"the server compressed the feed {len(codings)} times over (Content-Encoding: "
                f"{header}); more than {MAX_CONTENT_CODINGS} layers is no real server's",
            )
        # The codings are listed in the order they were applied: the last is undone first.
        self._layers = [
            _Layer(url, coding, outermost=depth == 0)
            for depth, coding in enumerate(reversed(codings))
        ]
        self._url = url
        # Whether the body, the announced codings undone, was looked at for gzip (see _sniff);
        # with two layers announced already, a third is no real server's and is left alone.
        self._sniffed = len(self._layers) >= MAX_CONTENT_CODINGS
        self._head = b""  # the first bytes, until there are enough to tell

    def inflate(self, data: bytes, max_length: int) -> bytes:
        return self._undo(data, max_length, finish=False)

    def finish(self, max_length: int) -> bytes:
        return self._undo(b"", max_length, finish=True)

    def _undo(self, data: bytes, max_length: int, *, finish: bool) -> bytes:
        if not self._layers:
            data = self._sniff(data, finish=finish)
        depth = 0
        while depth < len(self._layers):  # _sniff may add a layer after the last
            layer = self._layers[depth]
            data = layer.inflate(data, max_length)
            if finish:
                data += layer.finish()
            if depth == len(self._layers) - 1:
                data = self._sniff(data, finish=finish)
            if len(data) >= max_length and depth < len(self._layers) - 1:
                self._too_large()
            depth += 1
        return data

    def _sniff(self, data: bytes, *, finish: bool) -> bytes:
        """``data`` (the body with the announced codings undone), once it is known whether it
        is gzip: then a layer that undoes it is added. b"" while its first bytes are too few."""
        if self._sniffed:
            return data
        self._head += data
        if len(self._head) < len(GZIP_MAGIC) and not finish:
            return b""
        self._sniffed = True
        head, self._head = self._head, b""
        if head.startswith(GZIP_MAGIC):
            self._layers.append(_Layer(self._url, "gzip"))
        return head


class _Layer:
    """One layer of gzip or deflate undone. A gzip body may hold several members one after the
    other (it decompresses to all of them, joined); bytes after the end of the compressed data are
    ignored, as browsers do; compressed data that stops short is an error, not a short feed."""

    def __init__(self, url: str, coding: str, *, outermost: bool = False) -> None:
        self._url = url
        self._coding = coding
        self._outermost = outermost  # fed the body as it came (see _corrupt)
        self._opening = b""  # the first bytes fed, which tell a body that was never compressed
        self._gzip = coding != "deflate"
        self._zlib = self._decompressor()
        self._fed = False  # an empty body is empty, whatever its Content-Encoding says
        self._started = False
        self._after_end = b""  # bytes after a gzip member, until there are enough to tell
        self._ignoring = False
        self._first = b""  # a deflate body's first byte, until the second comes (see inflate)

    def _decompressor(self, wbits: int = zlib.MAX_WBITS) -> Any:
        return zlib.decompressobj(wbits | 16 if self._gzip else wbits)

    def inflate(self, data: bytes, max_length: int) -> bytes:
        self._fed = self._fed or bool(data)
        if len(self._opening) < _OPENING_BYTES:
            self._opening += data[: _OPENING_BYTES - len(self._opening)]
        if not self._gzip and not self._started:
            # Whether a deflate body has the zlib header shows in its first two bytes: a first
            # piece of one byte (the network may hand the body over so) passes for a header's
            # start, and raw deflate would then be read as corrupt.
            data = self._first + data
            if len(data) < 2:
                self._first = data
                return b""
            self._first = b""
        output = bytearray()
        while data and not self._ignoring and len(output) < max_length:
            if self._zlib.eof:
                data = self._next_member(data)
                continue
            try:
                # A max_length of 0 would mean no limit: the loop stops before that.
                output += self._zlib.decompress(data, max_length - len(output))
            except zlib.error as error:
                if not self._gzip and not self._started:
                    # Some servers send raw deflate without the zlib header the RFC asks for.
                    self._zlib = self._decompressor(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise self._corrupt(error) from error
            self._started = True
            data = self._zlib.unused_data if self._zlib.eof else b""
        return bytes(output)

    def _next_member(self, data: bytes) -> bytes:
        """What to feed a new gzip member after the end of one (nothing while undecided)."""
        pending = self._after_end + data
        if len(pending) < 2:
            self._after_end = pending
            return b""
        self._after_end = b""
        if self._gzip and pending.startswith(b"\x1f\x8b"):
            self._zlib = self._decompressor()
            return pending
        self._ignoring = True
        return b""

    def finish(self) -> bytes:
        if not self._fed or self._ignoring or self._zlib.eof:
            return b""
        try:
            output: bytes = self._zlib.flush()
        except zlib.error as error:
            raise self._corrupt(error) from error
        if not self._zlib.eof:
            raise FetchError(
                self._url,
                f"the {self._coding} body is cut short: the compressed data stops before its end "
                "(the server or a proxy broke off the transfer)",
            )
        return output

    def _corrupt(self, error: zlib.error) -> FetchError:
        """The error for a body ``zlib`` cannot read; one that is plain text or JSON from its
        first byte, as the server sent it, was never compressed, and is said to be."""
        plain = ""
        opening = self._opening.lstrip(b"\xef\xbb\xbf\xff\xfe").lstrip()
        if self._outermost and opening.startswith((b"<", b"{")):
            plain = (
                "; it is plain text: the server compressed nothing, though it says it did "
                f"(Content-Encoding: {self._coding})"
            )
        return FetchError(self._url, f"the {self._coding} body is corrupt: {error}{plain}")
