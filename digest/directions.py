"""Direction controls a text opens and never closes, left out: what feed, operator and reader
text goes through before it stands inside a line of ours (a byline, a subject, a header)."""

from __future__ import annotations

import re

# Explicit direction controls: each embedding (LRE, RLE) or override (LRO, RLO) lasts until a PDF,
# each isolate (LRI, RLI, FSI) until a PDI, or else to the end of the paragraph. Feed text is
# printed inside a line of ours (a byline, a subject, the preheader), where one left open turns
# what follows it around: "Sam <RLO>Rana · Wire · 5 Dec, 09:14" shows the outlet and the time
# backwards, "<RLO>Talks resume | Daily Brief" the list's name.
_OPENS_EMBEDDING = frozenset("\u202a\u202b\u202d\u202e")
_CLOSES_EMBEDDING = "\u202c"
_OPENS_ISOLATE = frozenset("\u2066\u2067\u2068")
_CLOSES_ISOLATE = "\u2069"
_DIRECTION_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def closed_directions(text: str) -> str:
    """``text`` without the embeddings, overrides and isolates it opens and never closes, nor the
    closers that close nothing, so that it cannot turn the text printed after it around. Pairs,
    as Arabic and Hebrew publishers write them, are kept; the text is never made longer."""
    if _DIRECTION_CONTROL.search(text) is None:  # the common case: one scan
        return text
    dropped: set[int] = set()
    open_: list[tuple[int, str]] = []  # (where, the closer it waits for), innermost last
    isolates = 0  # how many of them are isolates: a count keeps each step constant
    for index, char in enumerate(text):
        if char in _OPENS_EMBEDDING:
            open_.append((index, _CLOSES_EMBEDDING))
        elif char in _OPENS_ISOLATE:
            open_.append((index, _CLOSES_ISOLATE))
            isolates += 1
        elif char == _CLOSES_EMBEDDING:
            # A PDF closes an embedding opened inside the innermost isolate only (UAX #9).
            if open_ and open_[-1][1] == _CLOSES_EMBEDDING:
                open_.pop()
            else:
                dropped.add(index)
        elif char == _CLOSES_ISOLATE:
            # A PDI closes the innermost isolate, and every embedding opened inside it.
            if isolates:
                while open_.pop()[1] != _CLOSES_ISOLATE:
                    pass
                isolates -= 1
            else:
                dropped.add(index)
    dropped.update(index for index, _ in open_)
    if not dropped:
        return text
    return "".join(char for index, char in enumerate(text) if index not in dropped)
