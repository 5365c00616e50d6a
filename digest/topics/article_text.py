"""An article's normalized text, made once and scanned by every topic's patterns."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache

from digest.topics.rules import TermHit, TermPattern


@dataclass(slots=True)  # not frozen: built for every article, and a frozen __init__ costs more
class ArticleText:
    """The normalized text of an article, computed once and shared by every topic.

    Each topic's patterns scan the fields as one string, ``joined``: one call per pattern rather
    than one per field, for a call costs more than the few characters of a field. The separator
    is a character no term contains (``_separator``), so no match runs across it, and it is
    neither a word character nor a space, so a term at the edge of a field meets a word boundary
    as at the end of a string: each field has the hits it would have alone, at the same offsets.
    """

    title: str
    summary: str
    categories: tuple[str, ...]
    joined: str  # title, summary, then each category, separated
    starts: tuple[int, ...]  # where each field begins in ``joined``, in that order
    places: tuple[tuple[str, int], ...]  # each field's name and index, as a hit's key has them
    # Ignore patterns, some shared by several topics, and what each makes of ``joined``.
    masks: dict[TermPattern, tuple[str, list[TermHit]]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, separator: str, title: str, summary: str, categories: tuple[str, ...]
    ) -> ArticleText:
        fields = (title, summary, *categories)
        starts, start = [], 0
        for value in fields:
            starts.append(start)
            start += len(value) + len(separator)
        joined = separator.join(fields)
        return cls(title, summary, categories, joined, tuple(starts), _places(len(categories)), {})

    @property
    def head(self) -> str:
        """The title and summary, separated: what exclude terms look at."""
        return self.joined[: self.starts[1] + len(self.summary)]

    def masked(self, pattern: TermPattern) -> tuple[str, list[TermHit]]:
        """``joined`` with the hits of an ignore pattern masked, and the hits; once per pattern."""
        found = self.masks.get(pattern)
        if found is None:
            found = self.masks[pattern] = pattern.mask(self.joined)
        return found

    def slot(self, start: int) -> int:
        """Which field a position in ``joined`` falls in: an index into ``starts``."""
        return bisect_right(self.starts, start) - 1


@cache
def _places(categories: int) -> tuple[tuple[str, int], ...]:
    """``ArticleText.places`` for an article with that many categories: the same for most."""
    return (("title", 0), ("summary", 0), *(("category", i) for i in range(categories)))
