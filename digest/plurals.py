"""Counts written in the plural form their language gives them: "1 day", "2 days", "يومين".

Which form a count takes is CLDR's rule for the language, read from Babel (English and Persian
tell one from other; Hebrew adds two; Arabic has zero, one, two, few for 3 to 10, many for 11
to 99, and other for 100 and fractions). The words of each form are ours (``digest.wording``,
``digest.web.words``). A count is ruled on as it is written ("1.5", "1"), so a whole number
of days held as a float (1.0) is one day, and 1.5 days takes the form CLDR gives a fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError


@dataclass(frozen=True, slots=True)
class Forms:
    """A counted phrase ("{count} days") in each plural form its language tells apart; a form
    left out is written as ``other``. ``exact`` words a count of its own, as ICU's "=1" does:
    Hebrew says "יום אחד" for 1, but "0.5 יום" for the fraction CLDR files with it."""

    other: str
    one: str | None = None
    two: str | None = None
    few: str | None = None
    many: str | None = None
    zero: str | None = None
    exact: tuple[tuple[str, str], ...] = ()

    def pick(self, language: str, written: str) -> str:
        """The form for the count ``written`` in Latin digits ("1.5"), in ``language``."""
        for count, form in self.exact:
            if count == written:
                return form
        chosen: str | None = getattr(self, category(language, written))
        return self.other if chosen is None else chosen


def category(language: str, written: str) -> str:
    """CLDR's plural category ("one", "few"…) of the count ``written`` in ``language`` (a
    primary subtag); English's rule for a language Babel does not know."""
    return _rule(language)(Decimal(written))


def counted(forms: Forms, language: str, count: float, number: Callable[[str], str] = str) -> str:
    """``forms`` for ``count``, the count written as ``number`` writes it (Persian digits)."""
    written = f"{count:g}"
    return forms.pick(language, written).replace("{count}", number(written))


def english_count(count: int, noun: str, nouns: str) -> str:
    """ "1 feed", "2 feeds", "1,200 feeds": a count in operator output, which is in English."""
    return f"{count:,} {noun if count == 1 else nouns}"


@cache
def _rule(language: str) -> Callable[[Decimal], str]:
    try:
        return Locale.parse(language or "en").plural_form
    except (UnknownLocaleError, ValueError):
        return Locale("en").plural_form
