"""Counts in each language's plural forms (digest.plurals): CLDR's categories, our words."""

from __future__ import annotations

import pytest

from digest.plurals import Forms, category, counted, english_count
from digest.web.words import words_for
from digest.wording import PERSIAN_SOLAR, wording_for

COUNTS = ("0", "1", "2", "3", "11", "100", "1.5")


@pytest.mark.parametrize(
    ("language", "categories"),
    [
        ("en", ["other", "one", "other", "other", "other", "other", "other"]),
        ("ar", ["zero", "one", "two", "few", "many", "other", "other"]),
        ("he", ["other", "one", "two", "other", "other", "other", "other"]),
        ("fa", ["one", "one", "other", "other", "other", "other", "other"]),
    ],
)
def test_each_language_files_a_count_under_cldrs_category(
    language: str, categories: list[str]
) -> None:
    assert [category(language, written) for written in COUNTS] == categories


@pytest.mark.parametrize(
    ("language", "days"),
    [
        ("en", ["0 days", "1 day", "2 days", "3 days", "11 days", "100 days", "1.5 days"]),
        # As Al Jazeera writes them, after "لمدة": the two in the genitive ("يومين").
        ("ar", ["0 يوم", "يوم واحد", "يومين", "3 أيام", "11 يومًا", "100 يوم", "1.5 يوم"]),
        # As Haaretz: "יום אחד", "יומיים"; a fraction takes the plural.
        ("he", ["0 ימים", "יום אחד", "יומיים", "3 ימים", "11 ימים", "100 ימים", "1.5 ימים"]),
        # Persian's noun stays singular after any number, as BBC Persian writes it.
        ("fa", ["0 روز", "1 روز", "2 روز", "3 روز", "11 روز", "100 روز", "1.5 روز"]),
    ],
)
def test_each_language_counts_days_in_its_own_forms(language: str, days: list[str]) -> None:
    wording = wording_for(language, "gregorian")
    assert [wording.counted(wording.days, float(written)) for written in COUNTS] == days


def test_persian_counts_keep_persian_digits() -> None:
    # Wording.number still applies: the count's digits, and the decimal separator "٫".
    assert PERSIAN_SOLAR.counted(PERSIAN_SOLAR.days, 1.5) == "۱٫۵ روز"
    assert PERSIAN_SOLAR.counted(PERSIAN_SOLAR.days, 11) == "۱۱ روز"


def test_a_whole_number_held_as_a_float_is_counted_as_written() -> None:
    # web.confirm_days is a float: 1.0 is written "1", and is one day, not "1 days".
    english = wording_for("en")
    assert english.counted(english.days, 1.0) == "1 day"
    # Hebrew files a fraction under one with 1 ("one"), but says "יום אחד" only for 1 itself.
    hebrew = wording_for("he")
    assert hebrew.counted(hebrew.days, 0.5) == "0.5 יום"


@pytest.mark.parametrize(
    ("language", "minutes", "hours"),
    [
        ("en", ["1 minute", "2 minutes", "11 minutes"], ["1 hour", "2 hours", "11 hours"]),
        ("ar", ["دقيقة واحدة", "دقيقتين", "11 دقيقة"], ["ساعة واحدة", "ساعتين", "11 ساعة"]),
        ("he", ["דקה אחת", "2 דקות", "11 דקות"], ["שעה אחת", "שעתיים", "11 שעות"]),
        ("fa", ["1 دقیقه", "2 دقیقه", "11 دقیقه"], ["1 ساعت", "2 ساعت", "11 ساعت"]),
    ],
)
def test_the_pages_count_a_wait_in_the_lists_forms(
    language: str, minutes: list[str], hours: list[str]
) -> None:
    words = words_for(language)
    assert [counted(words.minutes, language, count) for count in (1, 2, 11)] == minutes
    assert [counted(words.hours, language, count) for count in (1, 2, 11)] == hours
    assert counted(words_for("ar").minutes, "ar", 3) == "3 دقائق"


def test_a_form_left_out_is_written_as_other_and_an_unknown_language_as_english() -> None:
    forms = Forms(one="{count} thing", other="{count} things")
    assert counted(forms, "ar", 2) == "2 things"  # no "two" here: other
    assert counted(forms, "xx", 1) == "1 thing"  # a language Babel does not know: English
    assert counted(forms, "", 1) == "1 thing"


def test_operator_output_counts_in_english() -> None:
    assert english_count(1, "feed", "feeds") == "1 feed"
    assert english_count(0, "feed", "feeds") == "0 feeds"
    assert english_count(1200, "copy", "copies") == "1,200 copies"


def test_a_complaint_from_a_reader_of_one_list_ends_one_membership() -> None:
    # The log line of an inbound complaint said "suppressed (1 memberships ended)".
    from digest.inbound.events import COMPLAINT
    from digest.inbound.take import _suppressed

    assert _suppressed(COMPLAINT, 1) == "suppressed (1 membership ended)"
    assert _suppressed(COMPLAINT, 2) == "suppressed (2 memberships ended)"
