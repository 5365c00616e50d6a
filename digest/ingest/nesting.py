"""Bound how deeply feed HTML nests before html5ever (the parser inside nh3) builds its tree.

html5ever's tree builder looks down its stack of open elements for many tokens: every ``<div>``,
``<ul>`` or ``<blockquote>`` asks whether a ``<p>`` is open "in button scope", every stray end
tag looks for its element. Each look costs the depth of the stack, so a description of tens of
thousands of nested elements costs the square of its length: 250 KB of ``<ul>`` held the poller
for seconds in the sanitizer alone. Real articles nest a few dozen levels at most.

``bound_nesting`` reads the fragment's tags once, in linear time, and keeps its own account of the
elements open; a start tag that would open more than ``MAX_DEPTH`` of them is left out, and so is
the end tag that closes it. Text is never left out, only tags.

The account only ever counts too many open elements, never too few, so html5ever's stack stays
within a small multiple of ``MAX_DEPTH`` (the elements it adds itself, ``<tbody>`` and ``<tr>``
in a table, the formatting elements it reopens, each stand for a start tag counted here):

- a start tag is counted wherever ``<`` and a letter stand outside what html5ever surely reads as
  text (a comment, a quoted attribute value, a ``<script>``), even where html5ever might read text;
- an end tag closes an element only when it is surely one (outside comments, attribute values and
  raw text), and only when the element it names is the current one, or is below nothing but
  elements an end tag closes implicitly (``<li>``, ``<p>``, ...). Any other end tag is taken to
  close nothing, whatever html5ever makes of it.
"""

from __future__ import annotations

import re
from collections import Counter

# Open elements allowed, as counted here; real articles stay far below it.
MAX_DEPTH = 200
# Elements an end tag may look below the current one for (html5ever's implied end tags).
_LOOK_DOWN = 8

_VOID = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
        "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip
# Elements whose content html5ever reads as text up to their end tag.
_RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"}
)
# Elements closed by the end tag of the element they are in (html5ever: "generate implied end
# tags").
_IMPLIED_END = frozenset({"p", "li", "dt", "dd", "option", "optgroup", "rb", "rp", "rt", "rtc"})
_CELLS = frozenset({"td", "th"})
_TABLE_PARTS = _IMPLIED_END | _CELLS | {"tr", "tbody", "thead", "tfoot", "caption", "colgroup"}
# The start tags that close an open element as html5ever does: the elements they close, and
# the elements they close on the way to one (what else is above it, html5ever leaves open or
# this account does not know: the start tag then only opens its own element).
_CLOSING_START = {
    "p": (frozenset({"p"}), frozenset()),
    "li": (frozenset({"li"}), frozenset({"p"})),
    "dt": (frozenset({"dt", "dd"}), frozenset({"p"})),
    "dd": (frozenset({"dt", "dd"}), frozenset({"p"})),
    "option": (frozenset({"option"}), frozenset()),
    "optgroup": (frozenset({"option"}), frozenset()),  # outside <select>, optgroups nest
    "td": (_CELLS, _IMPLIED_END),
    "th": (_CELLS, _IMPLIED_END),
    "tr": (frozenset({"tr"}), _IMPLIED_END | _CELLS),
}
# End tags that close the elements of a table left open inside them; others close only those
# of _IMPLIED_END.
_TABLE_ENDS = frozenset({"table", "tbody", "thead", "tfoot", "tr"})
_FOREIGN = frozenset({"svg", "math"})
# Start tags after which html5ever reads HTML again inside <svg> or <math>, where "<x/>" opened
# nothing: the elements that end foreign content, and its HTML integration points.
_HTML_AGAIN = frozenset(
    {
        "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
        "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing",
        "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong",
        "strike", "sub", "sup", "table", "tt", "u", "ul", "var", "font", "foreignobject",
        "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml",
    }
)  # fmt: skip

# A start or end tag from its "<" to its ">", as html5ever reads it: attribute values are skipped
# whole, quoted or not, and a quoted one that is never closed makes no tag. Each repeat is
# possessive and each alternative starts differently, so no input makes the match backtrack.
_SPACE = r"[\t\n\f\r ]"
_VALUE = rf"={_SPACE}*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>))"
_ATTRIBUTES = (
    rf"(?:{_SPACE}|/)*+"
    rf"(?:[^\t\n\f\r />][^\t\n\f\r /=>]*+{_SPACE}*+(?:{_VALUE}|(?!=))(?:{_SPACE}|/)*+)*+"
)
_START_TAG = re.compile(rf"<([a-zA-Z][^\t\n\f\r />]*+)({_ATTRIBUTES})>")
_END_TAG = re.compile(rf"</([a-zA-Z][^\t\n\f\r />]*+){_ATTRIBUTES}>")
_MARKUP_START = re.compile(r"<[a-zA-Z/!?]")
_LETTER_AFTER = re.compile(r"<[a-zA-Z]")
_END_TAG_START = re.compile(r"</[a-zA-Z]")


def bound_nesting(html: str, max_depth: int = MAX_DEPTH) -> str:
    """``html`` without the start tags (and their end tags) that would open more than
    ``max_depth`` elements at once (module docstring); ``html`` itself when none would."""
    if html.count("<") <= max_depth:  # too few tags to nest that deep: the common case
        return html
    return _Bounder(html, max_depth).run()


class _Bounder:
    """One pass over one fragment (``bound_nesting``)."""

    def __init__(self, html: str, max_depth: int) -> None:
        self.html = html
        self.max_depth = max_depth
        self.open: list[str] = []  # names of the open elements, as counted here
        self.foreign = 0  # open <svg> and <math> among them
        # Whether "<x/>" surely opens nothing here: in <svg> or <math>, and no tag since their
        # start that takes html5ever back to HTML.
        self.surely_foreign = False
        self.left_out: Counter[str] = Counter()  # start tags left out, by name, not yet closed
        self.kept: list[str] = []
        self.found: dict[str, tuple[int, int]] = {}  # see _find
        self.kept_from = 0  # where the text not yet copied to ``kept`` starts

    def run(self) -> str:
        html, position = self.html, 0
        while (found := _MARKUP_START.search(html, position)) is not None:
            start = found.start()
            second = html[start + 1]
            if second == "!":
                position = self._declaration(start)
            elif second == "?":
                position = _after_bogus_comment(html, start)
            elif second == "/":
                position = self._end_tag(start)
            else:
                position = self._start_tag(start)
        if not self.kept:
            return html
        self.kept.append(html[self.kept_from :])
        return "".join(self.kept)

    def _start_tag(self, start: int) -> int:
        tag = _START_TAG.match(self.html, start)
        if tag is None:
            # No ">" ends it, or a quoted value is never closed: html5ever reads the rest of the
            # fragment as this unfinished tag, and drops it.
            return len(self.html)
        name = tag.group(1).lower()
        if name == "plaintext" and not self.foreign:
            return len(self.html)  # everything after it is text
        if name in _RAW_TEXT:
            end = self._raw_text_end(name, tag.end())
            if self.foreign:
                # In <svg> or <math>, <style> or <title> hold markup, unless html5ever has left
                # the foreign element already: either way, as far as their end tag.
                return self._unsure(tag.end(), end)
            return end
        if name in _FOREIGN:
            # In a <select> html5ever ignores it, and after </select> reads "<x/>" as HTML.
            self.surely_foreign = "select" not in self.open
        elif name in _HTML_AGAIN:
            self.surely_foreign = False
        # In <svg> or <math> every element but those that lead back to HTML is a foreign one:
        # <keygen> or <td> there open an element like any other, and close none.
        html_rules = not self.foreign or name in _HTML_AGAIN
        if (name in _VOID and html_rules) or (self.surely_foreign and tag.group(2).endswith("/")):
            return tag.end()
        if name in _CLOSING_START and html_rules:
            targets, passed = _CLOSING_START[name]
            if self._close(targets, passed):
                self.open.append(name)  # in the place of the one it closed
                return tag.end()
        self._open(name, start, tag.end())
        return tag.end()

    def _close(self, targets: frozenset[str], passed: frozenset[str]) -> bool:
        """Close the nearest open element of ``targets`` with the elements above it, if that
        is the current element or only elements of ``passed`` (a few) are above it."""
        for depth in range(1, min(_LOOK_DOWN, len(self.open)) + 1):
            below = self.open[-depth]
            if below in targets:
                self.foreign -= sum(closed in _FOREIGN for closed in self.open[-depth:])
                del self.open[-depth:]
                return True
            if below not in passed:
                return False
        return False

    def _open(self, name: str, start: int, end: int) -> None:
        if len(self.open) >= self.max_depth:
            self.kept.append(self.html[self.kept_from : start])
            self.kept_from = end
            self.left_out[name] += 1
            return
        self.open.append(name)
        if name in _FOREIGN:
            self.foreign += 1

    def _end_tag(self, start: int) -> int:
        html = self.html
        if _END_TAG_START.match(html, start) is None:
            # "</>" is ignored, and "</" before anything but a letter starts a bogus comment.
            return start + 3 if html.startswith("</>", start) else _after_bogus_comment(html, start)
        tag = _END_TAG.match(html, start)
        if tag is None:  # an unfinished tag to the end, as for a start tag
            return len(html)
        name = tag.group(1).lower()
        if self.left_out[name]:
            self.left_out[name] -= 1
            self.kept.append(html[self.kept_from : start])
            self.kept_from = tag.end()
            return tag.end()
        # The element it closes: the current one, or one below elements it closes implicitly.
        self._close(frozenset({name}), _TABLE_PARTS if name in _TABLE_ENDS else _IMPLIED_END)
        return tag.end()

    def _declaration(self, start: int) -> int:
        """Where a comment, a doctype or a CDATA section ("<!") ends."""
        html = self.html
        if html.startswith("<!--", start):
            # html5ever ends a comment at once ("<!-->", "<!--->"), else at "-->" or "--!>".
            if html.startswith(">", start + 4) or html.startswith("->", start + 4):
                return html.index(">", start + 4) + 1
            ends = [
                found + len(close)
                for close in ("-->", "--!>")
                if (found := self._find(close, start + 4)) != -1
            ]
            return min(ends, default=len(html))
        end = _after_bogus_comment(html, start)
        if html.startswith("<![CDATA[", start):
            # In <svg> or <math> a CDATA section runs to "]]>", elsewhere to the first ">".
            close = html.find("]]>", start)
            return self._unsure(end, len(html) if close == -1 else close + 3)
        return end

    def _find(self, text: str, start: int) -> int:
        """``self.html.find(text, start)``, remembering the last answer for each ``text``, so
        that looking for a comment's end from each of many comments stays linear: a search
        that found nothing up to the end is not run again."""
        searched_from, found = self.found.get(text, (len(self.html) + 1, -1))
        if searched_from <= start and (found == -1 or found >= start):
            return found
        found = self.html.find(text, start)
        self.found[text] = (start, found)
        return found

    def _raw_text_end(self, name: str, content_start: int) -> int:
        """Where the text of a raw-text element (``<script>``, ``<style>``...) ends: at its end
        tag, which is then read as any end tag."""
        end = re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE).search(self.html, content_start)
        if end is None:
            return len(self.html)
        if name == "script":
            text = self.html[content_start : end.start()].lower()
            comment = text.find("<!--")
            if comment != -1 and "<script" in text[comment:]:
                # html5ever may read on past this end tag ("script data double escaped"): where
                # the script ends is not known.
                return self._unsure(content_start, len(self.html))
        return end.start()

    def _unsure(self, start: int, end: int) -> int:
        """Past ``start`` up to ``end``, where it is not known what html5ever reads as a tag:
        every "<" and a letter is counted as an element opened that stays open, and no end tag
        closes anything."""
        position = start
        while (found := _LETTER_AFTER.search(self.html, position, end)) is not None:
            tag = _START_TAG.match(self.html, found.start(), end)
            if tag is None:  # an unfinished tag up to the end: one element at most
                self._open("", found.start(), found.start())
                break
            # A "<" inside a tag's attribute values is no tag, whichever way the tag is read.
            self._open("", found.start(), tag.end())
            position = tag.end()
        return end


def _after_bogus_comment(html: str, start: int) -> int:
    """Where a bogus comment ("<?...>", "<!DOCTYPE ...>", "</ ...>") ends: its first ">"."""
    end = html.find(">", start + 2)
    return len(html) if end == -1 else end + 1
