"""Names and phrases an editor might add to a topic's rules: news vocabulary moves.

    articles of the last days ─► each one's verdict under the topic: filed, a near miss (some
    evidence, under the threshold) or neither ─► the words and runs of two or three words of
    each title and summary ─► those that recur in the topic's articles and near misses far more
    than in the others, and that its rules do not name yet

A phrase is ranked by how much it tells the topic's articles (filed and near misses) from the
rest: a smoothed log-odds ratio of the share of each side that uses it, then by the near misses
it would file. Stop words of the languages the project writes (English, Arabic, Hebrew,
Persian, Turkish), the names of days and months, numbers (and the unit of a figure, "$5bn") and
phrases that begin or end with a stop word are left out, and so are outlets' names (the
window's feeds and the wires); so is a phrase when a longer one appears in exactly the same
articles (the name "Dawn Shield", not also "Dawn" and "Shield"). Each suggestion carries the
near misses it would file: what an editor reads before accepting it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from digest.byline_words import WIRE_SERVICES
from digest.config import TopicSettings
from digest.records import Article
from digest.topics.classify import TopicClassifier
from digest.topics.normalize import normalize_text
from digest.topics.rules import Term, TermPattern

MAX_WORDS = 3
# A word opens with a letter that no letter or digit comes before: "bn" of "$5bn", "km" of "10km"
# and "st" of "21st" are a figure's unit, no word of their own.
_WORD = re.compile(r"(?<!\w)[^\W\d_][\w'\u200c-]*", re.UNICODE)
# An English possessive: the rules' word boundaries match "Iran" in "Iran's" and "ministers'",
# so the word is the name without it, never a phrase of its own.
_POSSESSIVE = re.compile(r"'s?$")

# The commonest function words of the languages the project writes: never a topic's evidence.
_STOP_TEXT = (
    # English
    "a an and are as at be been but by for from has have he her his how in into is it its new "
    "of on or over says said she than that the their them they this to up was were what when "
    "where which who will with after amid before between more most not no out about against "
    "could would should can may also one two three first last year years day days week month "
    "today yesterday tomorrow us we our you your why while all any some other such then there "
    "these those under again back off just now only very still even toward towards during "
    "since until without within had did does do done being per via told say saying made make "
    "set get got took take like many much well own both each every several another here",
    # Arabic
    "في من على إلى الى عن مع أن ان إن هذا هذه التي الذي بعد قبل بين كان كانت قد لا ما و أو ثم "
    "عند حول خلال",
    # Hebrew
    "של את על עם אל כי לא גם זה זו הוא היא אשר או כל אחרי לפני בין",
    # Persian
    "در از به با که این آن را برای تا و یا هم بر پس پیش بین",
    # Turkish
    "ve ile bir bu da de için gibi daha en çok ama veya olarak sonra önce",
)
# The names of days and months: a report says when ("on Monday", "يوم الاثنين"), so a week's
# reports of any topic share them, and they file nothing of it.
_DATE_TEXT = (
    # English
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december jan feb apr jun jul aug sept oct nov "
    "dec",
    # Arabic: the days, the months as Egypt and the Gulf write them and as the Levant and Iraq do
    "الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت يناير فبراير مارس أبريل إبريل "
    "مايو يونيو يونيه يوليو يوليه أغسطس سبتمبر أكتوبر نوفمبر ديسمبر كانون شباط آذار نيسان أيار "
    "حزيران تموز آب أيلول تشرين",
    # Hebrew
    "ראשון שני שלישי רביעי חמישי שישי שבת ינואר פברואר מרץ אפריל מאי יוני יולי אוגוסט ספטמבר "
    "אוקטובר נובמבר דצמבר",
    # Persian: the days, the Gregorian months and those of the Iranian calendar
    "شنبه یکشنبه دوشنبه سه‌شنبه چهارشنبه پنجشنبه پنج‌شنبه جمعه ژانویه فوریه آوریل مه ژوئن "
    "ژوئیه اوت سپتامبر اکتبر نوامبر دسامبر فروردین اردیبهشت خرداد تیر مرداد شهریور مهر آبان "
    "آذر دی بهمن اسفند",
    # Turkish
    "pazartesi salı çarşamba perşembe cuma cumartesi pazar ocak şubat mart nisan mayıs haziran "
    "temmuz ağustos eylül ekim kasım aralık",
)
STOP_WORDS = frozenset(
    normalize_text(word) for text in (*_STOP_TEXT, *_DATE_TEXT) for word in text.split()
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    phrase: str  # as the articles write it (the first spelling met)
    weight: float  # how much it tells the topic's articles from the rest (log-odds)
    filed: int  # articles of the topic that use it
    near_misses: tuple[tuple[int, str], ...]  # (id, title) of near misses it would help file
    elsewhere: int  # other articles that use it


@dataclass(frozen=True, slots=True)
class _Side:
    filed: bool
    near: bool


def suggest(
    articles: Sequence[Article],
    classifier: TopicClassifier,
    topic: TopicSettings,
    *,
    limit: int = 20,
    min_articles: int = 2,
) -> list[Suggestion]:
    """The phrases of ``articles`` worth adding to ``topic``'s rules, best first."""
    sides: dict[int, _Side] = {}
    for article in articles:
        # The verdict alone: writing every topic's explanation cost a third of the reading.
        filed, score = classifier.standing(article, topic.slug)
        sides[article.id] = _Side(filed, not filed and score > 0)
    inside = {aid for aid, side in sides.items() if side.filed or side.near}
    outside = len(articles) - len(inside)
    if not inside:
        return []
    outlets = _Outlets({article.feed_name for article in articles})
    named = _RulesNaming(
        classifier.counting_for(topic.slug) or (topic,), classifier.above(topic.slug)
    )
    uses, spelling = _candidates(articles, inside, named, outlets, min_articles)
    # The other articles are read for the candidates alone: a phrase is looked up only where a
    # candidate's first word opens it, and only as long as a candidate goes on with it.
    openings = {prefix for key in uses for prefix in _prefixes(key)}
    for index, article in enumerate(articles):
        if article.id in inside:
            continue  # read already, for the candidates themselves
        text = f"{article.title}\n{article.summary_text}"
        for key, written in _phrases(text, outlets, openings):
            if key in uses:
                uses[key].add(article.id)
                if index < spelling[key][0]:
                    spelling[key] = (index, written)
    titles = {article.id: article.title for article in articles}
    found: list[tuple[str, frozenset[int], Suggestion]] = []
    for key, ids in uses.items():
        ours = ids & inside
        theirs = len(ids) - len(ours)
        weight = math.log((len(ours) + 0.5) / (len(inside) - len(ours) + 0.5)) - math.log(
            (theirs + 0.5) / (outside - theirs + 0.5)
        )
        if weight <= 0:
            continue
        missed = tuple(sorted((aid, titles[aid]) for aid in ours if sides[aid].near))
        in_topic = sum(1 for aid in ours if sides[aid].filed)
        suggestion = Suggestion(spelling[key][1], weight, in_topic, missed, theirs)
        found.append((key, frozenset(ids), suggestion))
    kept = _longest(found)
    kept.sort(key=lambda s: (-s.weight, -len(s.near_misses), s.phrase))
    return kept[:limit]


def _candidates(
    articles: Sequence[Article],
    inside: set[int],
    named: _RulesNaming,
    outlets: _Outlets,
    min_articles: int,
) -> tuple[dict[str, set[int]], dict[str, tuple[int, str]]]:
    """The phrases of at least ``min_articles`` of the ``inside`` articles (the topic's and its
    near misses) that the rules do not name, each with those articles; and each one's first
    spelling met, with the index of its article in ``articles``.

    Only these can be proposed, so the other articles are then read for them alone: every
    phrase of every article of the window, each with the set of its articles, took gigabytes
    for 50,000 articles."""
    ours: dict[str, set[int]] = defaultdict(set)
    spelling: dict[str, tuple[int, str]] = {}
    for index, article in enumerate(articles):
        if article.id in inside:
            for key, written in _phrases(f"{article.title}\n{article.summary_text}", outlets):
                ours[key].add(article.id)
                spelling.setdefault(key, (index, written))
    kept = {key: ids for key, ids in ours.items() if len(ids) >= min_articles and not named(key)}
    return kept, {key: spelling[key] for key in kept}


def _prefixes(key: str) -> Iterable[str]:
    """The runs of words a phrase opens with, itself included: "dawn shield talks" opens with
    "dawn", "dawn shield" and "dawn shield talks"."""
    words = key.split(" ")
    return (" ".join(words[:size]) for size in range(1, len(words) + 1))


def _phrases(
    text: str, outlets: _Outlets, openings: Collection[str] | None = None
) -> Iterable[tuple[str, str]]:
    """(normalized, as written) of each word and run of up to MAX_WORDS words of ``text``,
    line by line, none beginning or ending with a stop word, none holding a word of an
    outlet's name; with ``openings``, only the runs that each of their shorter runs from the
    same word is one of (the others cannot be a phrase sought)."""
    for line in text.splitlines():
        words = [_POSSESSIVE.sub("", word) for word in _WORD.findall(line)]
        folded = [normalize_text(word) for word in words]
        credited = outlets.credited(folded)
        for start in range(len(words)):
            for size in range(1, MAX_WORDS + 1):
                end = start + size
                if end > len(words) or (credited and credited[end - 1]):
                    break
                key = " ".join(folded[start:end])
                if openings is not None and key not in openings:
                    break  # no phrase sought opens so, nor goes on from it
                first, last = folded[start], folded[end - 1]
                if first in STOP_WORDS or last in STOP_WORDS or len(first) < 2 or len(last) < 2:
                    continue
                yield key, " ".join(words[start:end])


class _RulesNaming:
    """Whether the rules of a topic, or of a topic below it (whose evidence counts for it), or
    the ignore phrases of a topic above it, already name a phrase: match a term inside it as
    the classifier reads an article (behind an Arabic or Hebrew prefix, "والسعودية"; within a
    hyphenated word, "Iran-US"), or hold it inside a longer term ("Muscat" of "Muscat
    channel")."""

    def __init__(self, topics: Sequence[TopicSettings], above: Sequence[TopicSettings]) -> None:
        """``topics``: the topic and those below it; ``above``: the topics above it, whose ignore
        phrases hold for its tree (read, as the classifier does, with its clitic_prefixes)."""
        by_prefixes: dict[bool, list[Term]] = defaultdict(list)
        self._padded: list[str] = []
        inherited = [term for topic in above for term in topic.rules.ignore]
        for index, topic in enumerate(topics):
            rules = topic.rules
            columns = (
                rules.include,
                rules.places,
                rules.people,
                rules.groups,
                rules.ambiguous,
                rules.exclude,
                rules.ignore,
                rules.categories,
                inherited if index == 0 else (),
            )
            terms = [term for column in columns for term in column if term.strip()]
            by_prefixes[rules.clitic_prefixes] += [Term(term, "include") for term in terms]
            self._padded += [f" {normalize_text(term)} " for term in terms]
        # One pattern per way of reading prefixes: a topic may turn them off for its terms.
        self._patterns = [
            TermPattern(terms, clitic_prefixes=prefixes) for prefixes, terms in by_prefixes.items()
        ]

    def __call__(self, key: str) -> bool:
        """``key``: a phrase as ``_phrases`` folds it."""
        if any(pattern.spans(key) for pattern in self._patterns):
            return True
        padded = f" {key} "
        return any(padded in term for term in self._padded)


class _Outlets:
    """The names of the outlets that write reports: the window's feeds' ("Harbour Post
    reported") and the wires' ("(Reuters)"). A name says who wrote a report, not what it is
    about, so no phrase holds a word of one, as no rule's term runs across an ignore phrase."""

    def __init__(self, feed_names: Iterable[str]) -> None:
        # Read into words as the reports are: "Times of Israel | World" names its words.
        names = {tuple(normalize_text(w) for w in _WORD.findall(name)) for name in feed_names}
        names |= {(name,) for name in WIRE_SERVICES}
        self._by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for name in names:
            if name:
                self._by_first[name[0]].append(name)

    def credited(self, folded: Sequence[str]) -> list[bool] | None:
        """Which of the ``folded`` words of a line belong to an outlet's name (None: none)."""
        marks: list[bool] | None = None
        for start, word in enumerate(folded):
            for name in self._by_first.get(word, ()):
                if tuple(folded[start : start + len(name)]) == name:
                    marks = marks or [False] * len(folded)
                    marks[start : start + len(name)] = [True] * len(name)
        return marks


def _longest(found: list[tuple[str, frozenset[int], Suggestion]]) -> list[Suggestion]:
    """Leave out a phrase when a longer one holding it is used by exactly the same articles."""
    by_articles: dict[frozenset[int], list[str]] = defaultdict(list)
    for key, ids, _ in found:
        by_articles[ids].append(key)
    kept = []
    for key, ids, suggestion in found:
        longer = [
            other for other in by_articles[ids] if other != key and f" {key} " in f" {other} "
        ]
        if not longer:
            kept.append(suggestion)
    return kept
