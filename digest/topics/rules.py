"""Topic rules compiled for matching: one pattern per kind of rule, clitic prefixes included.

Terms match whole words on normalized text (``normalize.normalize_text``). ``(?<!\\w)`` and
``(?!\\w)`` are Unicode-aware word boundaries that work for Arabic and Hebrew letters and for
terms that begin or end with punctuation ("Jordan's"). Longer terms come first, so "Saudi Arabia"
is one hit rather than "Saudi" and nothing.

Arabic and Hebrew attach short words to the next one: "بغزة" is "in Gaza", "والسعودية" "and
Saudi Arabia", "בירושלים" "in Jerusalem". With ``clitic_prefixes`` on (the default), a term
written in those scripts also matches behind the prefixes the grammar allows, and only those:

    Arabic   [و|ف] then one of ال, بال, كال, لل, ب, ك, ل    (or و / ف alone)
             a term written with its article ("السعودية") also matches without it ("سعودية")
    Hebrew   [ו] then [ש|כש] then one of ב, ל, כ, מ          (up to four letters, in that order)
             ה (the article) only for a term the editor wrote with it ("הכנסת" -> "בכנסת",
             "מהכנסת", "והכנסת"); never before a name, so "עזה" (Gaza) does not match "העזה"
             (daring)

A term of fewer than three letters (after the article) never takes a prefix: a short word and a
prefix letter too often spell another word.

A Persian term takes none of these: it matches joined, with a ZWNJ or apart, and with its plural
(``topics.persian``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from digest.topics.normalize import normalize_text, script_of
from digest.topics.persian import OPTIONAL_SPACE, PLURAL_PATTERN, is_persian, persian_spellings

_ARABIC_ARTICLE = "ال"
_HEBREW_ARTICLE = "ה"
_MIN_CORE_LETTERS = 3
_ARABIC_PREFIX = "(?:[وف]?(?:ال|بال|كال|لل|[بكل])|[وف])?"
_HEBREW_PREFIX = "(?:ו?(?:ש|כש)?[בלכמ]|ו?(?:ש|כש)|ו)?"
_HEBREW_ARTICLE_PREFIX = "(?:ו?(?:ש|כש)?(?:ה|[בלכ]|מה?))?"
# A masked span (see ``mask``) is neither a letter nor a space: no term or phrase runs across it.
MASK = "\x00"


@dataclass(frozen=True, slots=True)
class Term:
    """A configured term, as the editor wrote it, and the kind of rule it belongs to."""

    text: str
    kind: str  # include, place, person, group, ambiguous, exclude or ignore


@dataclass(frozen=True, slots=True)
class TermHit:
    term: Term
    start: int
    end: int
    # Matched only through a clitic prefix, on a one-word term: "بقطر" is "in Qatar" or "with a
    # diameter of", "מעזה" is "from Gaza" or "she dares". Such a hit needs supporting evidence.
    prefixed: bool = False


# A hit as (term, start, end, prefixed), the fields of a ``TermHit``.
Span = tuple[Term, int, int, bool]


class TermPattern:
    """Finds the configured terms of one or more kinds in normalized text."""

    def __init__(self, terms: Iterable[Term], *, clitic_prefixes: bool) -> None:
        # (group, core) -> the term, as normalized, and whether it is one word
        self._by_core: dict[tuple[str, str], tuple[Term, str, bool]] = {}
        groups: dict[str, set[str]] = {group: set() for group in ("ar", "he", "hea", "fa", "plain")}
        for term in terms:
            normalized = normalize_text(term.text)
            if not normalized:
                continue
            if is_persian(term.text):
                group, spellings = "fa", persian_spellings(term.text)
            else:
                group, core = _group_and_core(normalized, clitic_prefixes)
                spellings = (core,)
            for core in spellings:
                self._by_core.setdefault((group, _key(core)), (term, normalized, " " not in core))
                groups[group].add(core)
        alternatives = []
        prefixes, cores = "", set[str]()  # those of the terms that take a prefix
        for group, prefix in (
            ("ar", _ARABIC_PREFIX),
            ("he", _HEBREW_PREFIX),
            ("hea", _HEBREW_ARTICLE_PREFIX),
        ):
            if groups[group]:
                alternatives.append(
                    _first_letters(prefix, groups[group])
                    + f"{prefix}(?P<{group}>{_alternation(groups[group])})"
                )
                prefixes += prefix
                cores |= groups[group]
        if len(alternatives) > 1:
            # One look-ahead in front of theirs, which passes wherever one of theirs does: the
            # same matches, and a Latin word fails one look-ahead instead of two or three.
            alternatives = [_first_letters(prefixes, cores) + f"(?:{'|'.join(alternatives)})"]
        if groups["fa"]:
            alternatives.append(f"(?P<fa>{_alternation(groups['fa'])}){PLURAL_PATTERN}")
        if groups["plain"]:
            alternatives.append(f"(?P<plain>{_alternation(groups['plain'])})")
        self._pattern = (
            re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)") if alternatives else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def finditer(self, text: str) -> Iterator[TermHit]:
        for term, start, end, prefixed in self.spans(text):
            yield TermHit(term, start, end, prefixed=prefixed)

    def spans(self, text: str) -> list[Span]:
        """The hits ``finditer`` yields, as plain tuples: the classifier runs every pattern on
        every article and needs no ``TermHit`` record, nor a generator, for each."""
        spans: list[Span] = []
        if self._pattern is None:
            return spans
        by_core = self._by_core
        for match in self._pattern.finditer(text):
            group = match.lastgroup
            assert group is not None  # every alternative ends in a named group
            found = by_core.get((group, _key(match.group(group))))
            if found is not None:
                term, written, one_word = found
                start, end = match.span()
                # The article the editor wrote ("السعودية") is no prefix of ours.
                prefixed = one_word and match.start(group) > start and match.group() != written
                spans.append((term, start, end, prefixed))
        return spans

    def mask(self, text: str) -> tuple[str, list[TermHit]]:
        """The text with every hit blanked out (same length, offsets kept), and the hits."""
        spans = self.spans(text)
        if not spans:
            return text, []
        pieces, last = [], 0
        for _, start, end, _ in spans:
            pieces += [text[last:start], MASK * (end - start)]
            last = end
        pieces.append(text[last:])
        return "".join(pieces), [TermHit(*span) for span in spans]


def _group_and_core(normalized: str, clitic_prefixes: bool) -> tuple[str, str]:
    if not clitic_prefixes:
        return "plain", normalized
    script = script_of(normalized)
    if script == "arabic":
        core = normalized
        if core.startswith(_ARABIC_ARTICLE) and _letters(core[2:]) >= _MIN_CORE_LETTERS:
            core = core[2:]
        if _letters(core) >= _MIN_CORE_LETTERS:
            return "ar", core
    elif script == "hebrew":
        if normalized.startswith(_HEBREW_ARTICLE) and _letters(normalized[1:]) >= _MIN_CORE_LETTERS:
            return "hea", normalized[1:]
        if _letters(normalized) >= _MIN_CORE_LETTERS:
            return "he", normalized
    return "plain", normalized


def _key(spelling: str) -> str:
    """A term's spelling, or the text a match of it found, with no space: what finds the term.
    A phrase matches across any whitespace, and a Persian word with or without its spaces."""
    return "".join(spelling.replace(OPTIONAL_SPACE, "").split())


def _first_letters(prefix: str, cores: Iterable[str]) -> str:
    """A look-ahead for the characters a match of ``prefix`` and one of ``cores`` can begin with.

    The pattern is tried at every word start; without the look-ahead a Latin word goes through
    each way the Arabic and Hebrew prefixes can fail before the terms are reached, which was
    about half the time a scan took. The prefixes spell every letter out (no class such as
    ``\\w``), so their letters and the terms' first characters are all a match can begin with.
    """
    if not prefix:
        return ""  # the trie alone fails at its first character: a look-ahead saves nothing
    first = {char for char in prefix if char.isalpha()} | {core[0] for core in cores}
    return "(?=[" + "".join(re.escape(char) for char in sorted(first)) + "])"


def _letters(text: str) -> int:
    return sum(1 for char in text if char.isalpha())


def _alternation(terms: Iterable[str]) -> str:
    """One regular expression matching any of ``terms``, the longest first where several match.

    The terms are laid out as a trie ("saudi arabia|saudia" -> "saudi(?:a| arabia)"), so a match
    attempt costs one test per character instead of one per term: with hundreds of terms that is
    what classification spends its time on. At each branching point at most one way on can match
    the next character, and a term that ends there is tried last (a greedy ``?``), which gives
    the same match as trying the terms one by one, longest first.
    """
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[_END] = {}
    return _trie_pattern(trie)


_SPACES = {" ": r"\s+", OPTIONAL_SPACE: r"\s*"}
_END = ""  # the key that marks a term ending at a trie node (no term character is "")


def _trie_pattern(root: dict[str, Any]) -> str:
    """The pattern of a trie, built from the leaves up without recursion: a node is as deep as
    its term is long, and one long term (a sentence pasted into a rule) went past Python's
    recursion limit, so that no classifier could be built for the config and every cycle
    failed."""
    patterns: dict[int, str] = {}  # id of a node -> its pattern, once its children have theirs
    pending: list[tuple[dict[str, Any], bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        keys = sorted(node.keys() - {_END})
        if not children_done:
            pending.append((node, True))
            pending.extend((node[char], False) for char in keys)
            continue
        branches = []
        for char in keys:
            # A space in a phrase matches any run of whitespace in the (already collapsed) text.
            # A Persian word's optional space (topics.persian) matches whitespace or none.
            pattern = _SPACES.get(char) or re.escape(char)
            branches.append(pattern + patterns.pop(id(node[char])))
        if not branches:
            patterns[id(node)] = ""
            continue
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        patterns[id(node)] = f"(?:{body})?" if _END in node else body
    return patterns[id(root)]
