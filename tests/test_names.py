"""Tests for digest.names: the region's names across scripts, numbers and days of the week."""

from __future__ import annotations

import pytest

from digest import names


def test_every_form_in_the_table_reads_back_to_its_key() -> None:
    wrong = {form: names.names(form) for form, key in names.forms() if names.names(form) != {key}}
    assert wrong == {}


def test_glued_prefixes_are_taken_off_arabic_and_hebrew_words() -> None:
    assert names.names("وبغزة قال نتنياهو في القدس والسعودية") == {
        "gaza", "netanyahu", "jerusalem", "saudi"
    }  # fmt: skip
    assert names.names("בעזה ובירושלים אמר נתניהו") == {"gaza", "jerusalem", "netanyahu"}
    assert names.names("החות'ים בתימן, בים האדום") == {"houthis", "yemen", "red-sea"}
    assert names.names("حزب‌الله در غزه") == {"hezbollah", "gaza"}  # Persian, with ZWNJ


def test_acronyms_count_only_in_capitals() -> None:
    assert names.names("The US envoy told us the U.S. and the UN agree") == {
        "united-states", "united-nations"
    }  # fmt: skip
    assert names.names("tell us, un-named sources") == set()
    assert names.names("Yemen's Houthis") == {"yemen", "houthis"}


def test_numbers_are_read_in_every_digit_set_and_dates_are_not_figures() -> None:
    assert names.numbers("12,000 people, ١٢٬٠٠٠ and ۱۲ and 4.4% or ٤٫٤") == {"12000", "12", "4.4"}
    assert names.numbers("In 2026, on February 17 and 17 Feb., 31 were killed") == {"31"}
    assert names.without_dates("Briefing - February 17, 2026") == "Briefing -  "


def test_days_of_the_week_in_four_languages() -> None:
    assert names.weekdays("on Saturday") == {5}
    assert names.weekdays("يوم الجمعة") == {4}
    assert names.weekdays("روز دوشنبه") == {0}
    assert names.weekdays("ביום שישי") == {4}
    assert names.weekdays("הסיבוב השני") == set()  # "second", not Monday


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("روز سه\u200cشنبه", 1), ("روز سه شنبه", 1), ("روز سهشنبه", 1),
        ("پنج\u200cشنبه گذشته", 3), ("پنج شنبه گذشته", 3), ("پنجشنبه", 3),
        ("یک شنبه", 6), ("دو شنبه", 0), ("چهار شنبه", 2), ("روز شنبه", 5),
    ],
)  # fmt: skip
def test_a_persian_weekday_written_apart_is_that_day_not_saturday(text: str, day: int) -> None:
    # "سه شنبه" (Tuesday, spaced as often as not) was read as "شنبه", Saturday: two outlets'
    # reports of one event "on Tuesday" named two days, and were two stories.
    assert names.weekdays(text) == {day}
