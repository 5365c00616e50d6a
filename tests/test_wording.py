"""Tests for digest.wording's dates: the Persian (Solar Hijri) calendar of Persian lists, in
Persian digits, with Iran's or Afghanistan's month names; the Gregorian calendar elsewhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from digest.wording import (
    ALL_WORDINGS,
    ARABIC,
    DARI_SOLAR,
    ENGLISH,
    HEBREW,
    PERSIAN,
    PERSIAN_DIGITS,
    PERSIAN_SOLAR,
    calendar_date,
    calendar_for,
    format_date,
    format_datetime,
    format_long_date,
    wording_for,
    year_of,
)

TEHRAN = ZoneInfo("Asia/Tehran")
LONDON = ZoneInfo("Europe/London")
UTC_ZONE = ZoneInfo("UTC")


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)


@pytest.mark.parametrize(
    ("gregorian", "solar"),
    [
        # Nowruz falls on the day the equinox is seen before noon in Tehran: 20 March in 2024
        # (03:06 UTC), 21 March in 2025 (09:01 UTC, 12:31 in Tehran) and 2026 (14:46 UTC).
        (date(2024, 3, 19), (1402, 12, 29)),
        (date(2024, 3, 20), (1403, 1, 1)),
        # 1403 is a leap year: it ends on 30 Esfand.
        (date(2025, 3, 20), (1403, 12, 30)),
        (date(2025, 3, 21), (1404, 1, 1)),
        # 1404 is not: it ends on 29 Esfand, and 1405 starts on 21 March 2026.
        (date(2026, 3, 20), (1404, 12, 29)),
        (date(2026, 3, 21), (1405, 1, 1)),
        (date(2026, 12, 7), (1405, 9, 16)),
        (date(2027, 3, 20), (1405, 12, 29)),
        (date(2027, 3, 21), (1406, 1, 1)),
        (date(2028, 3, 20), (1407, 1, 1)),
        # The next leap year is 1408, not 1407 (the 2820-year rule some converters use says
        # otherwise): 1 Farvardin 1408 is 20 March 2029, 30 Esfand 1408 is 20 March 2030.
        (date(2029, 3, 19), (1407, 12, 29)),
        (date(2029, 3, 20), (1408, 1, 1)),
        (date(2030, 3, 20), (1408, 12, 30)),
        (date(2030, 3, 21), (1409, 1, 1)),
        # Month ends: the first six months have 31 days, the next five 30.
        (date(2026, 9, 22), (1405, 6, 31)),
        (date(2026, 9, 23), (1405, 7, 1)),
        (date(2026, 12, 31), (1405, 10, 10)),
        (date(2027, 1, 1), (1405, 10, 11)),
    ],
)
def test_a_gregorian_day_is_its_solar_hijri_day(
    gregorian: date, solar: tuple[int, int, int]
) -> None:
    assert calendar_date(_noon(gregorian), UTC_ZONE, PERSIAN_SOLAR) == solar
    assert calendar_date(_noon(gregorian), UTC_ZONE, PERSIAN) == (
        gregorian.year,
        gregorian.month,
        gregorian.day,
    )


def test_a_persian_list_dates_by_the_persian_calendar_unless_told_otherwise() -> None:
    assert calendar_for("fa") == calendar_for("fa-IR") == calendar_for("fa-AF") == "persian"
    assert calendar_for("prs") == calendar_for("FA_ir") == "persian"
    assert calendar_for("fa", "gregorian") == "gregorian"
    assert calendar_for("en") == calendar_for("ar") == calendar_for(None) == "gregorian"
    assert wording_for("fa") is PERSIAN_SOLAR and wording_for("fa-IR") is PERSIAN_SOLAR
    assert wording_for("fa-AF") is DARI_SOLAR and wording_for("prs") is DARI_SOLAR
    assert wording_for("fa-Arab-AF") is DARI_SOLAR
    assert wording_for("fa", "gregorian") is PERSIAN
    assert wording_for("fa-AF", "gregorian") is PERSIAN


def test_other_languages_keep_their_dates_whatever_the_calendar_asked() -> None:
    # digest.config refuses the combination; the words stay readable should one get here.
    for language, wording in (("en", ENGLISH), ("ar", ARABIC), ("he", HEBREW)):
        assert wording_for(language) is wording
        assert wording_for(language, "persian") is wording


def test_a_time_in_tehran_reads_in_the_solar_calendar_and_persian_digits() -> None:
    moment = datetime(2026, 12, 7, 5, 44, tzinfo=UTC)
    assert format_datetime(moment, TEHRAN, PERSIAN_SOLAR) == "۱۶ آذر ۱۴۰۵، ۰۹:۱۴ به وقت تهران"
    this_year = year_of(moment, TEHRAN, PERSIAN_SOLAR)
    assert this_year == 1405
    assert format_datetime(moment, TEHRAN, PERSIAN_SOLAR, this_year=this_year) == (
        "۱۶ آذر، ۰۹:۱۴ به وقت تهران"
    )
    assert format_date(moment, TEHRAN, PERSIAN_SOLAR) == "۱۶ آذر ۱۴۰۵"
    assert format_long_date(moment, TEHRAN, PERSIAN_SOLAR) == "دوشنبه ۱۶ آذر ۱۴۰۵"
    assert format_datetime(moment, LONDON, PERSIAN_SOLAR) == "۱۶ آذر ۱۴۰۵، ۰۵:۴۴ به وقت گرینویچ"


def test_the_day_changes_where_the_reader_is() -> None:
    # 22:00 in London on 20 March 2026, the last day of 1404, is already Nowruz in Tehran.
    moment = datetime(2026, 3, 20, 22, 0, tzinfo=UTC)
    assert format_long_date(moment, LONDON, PERSIAN_SOLAR) == "جمعه ۲۹ اسفند ۱۴۰۴"
    assert format_long_date(moment, TEHRAN, PERSIAN_SOLAR) == "شنبه ۱ فروردین ۱۴۰۵"
    # A time of last year, read in the new one, keeps its year.
    assert format_datetime(moment, LONDON, PERSIAN_SOLAR, this_year=1405) == (
        "۲۹ اسفند ۱۴۰۴، ۲۲:۰۰ به وقت گرینویچ"
    )


IRANIAN_MONTHS = (
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
)  # fmt: skip
AFGHAN_MONTHS = (
    "حمل", "ثور", "جوزا", "سرطان", "اسد", "سنبله",
    "میزان", "عقرب", "قوس", "جدی", "دلو", "حوت",
)  # fmt: skip


@pytest.mark.parametrize("month", range(12))
def test_afghanistan_names_the_months_by_the_zodiac(month: int) -> None:
    # The 10th of April 2026 is in Farvardin, the 10th of March 2027 in Esfand.
    day = _noon(date(2026 if month < 9 else 2027, (month + 3) % 12 + 1, 10))
    assert format_date(day, UTC_ZONE, PERSIAN_SOLAR).split()[1] == IRANIAN_MONTHS[month]
    assert format_date(day, UTC_ZONE, wording_for("fa-AF")).split()[1] == AFGHAN_MONTHS[month]


def test_a_gregorian_persian_list_writes_what_it_always_did() -> None:
    moment = datetime(2026, 12, 7, 5, 44, tzinfo=UTC)
    wording = wording_for("fa", "gregorian")
    assert format_datetime(moment, TEHRAN, wording) == "7 دسامبر 2026، 09:14 به وقت تهران"
    assert format_long_date(moment, TEHRAN, wording) == "دوشنبه 7 دسامبر 2026"
    assert wording.number(12) == "12"


def test_a_list_in_persian_digits_sets_its_dates_apart_by_a_dash_not_a_dot() -> None:
    # Persian zero is a dot: "AUTHOR · ۴ آذر" read "۰ ۴". A bar reads as the one ("۱") or an
    # alef; Persian print sets a date apart with a dash ("رادیو فردا – ۴ آذر").
    assert PERSIAN_SOLAR.separator == DARI_SOLAR.separator == "–"
    for wording in ALL_WORDINGS:
        if wording.digits == PERSIAN_DIGITS:
            assert wording.separator not in "·.•∙⋅|", wording.language
        else:  # Latin digits: the dot reads as none of them
            assert wording.separator == "·", wording.language


def test_counts_of_the_persian_calendar_are_in_persian_digits() -> None:
    assert PERSIAN_SOLAR.number(12) == "۱۲" and DARI_SOLAR.number(1405) == "۱۴۰۵"
    assert PERSIAN_SOLAR.number("1.5") == "۱٫۵"  # the Arabic decimal separator
    assert PERSIAN_SOLAR.and_more.format(count=PERSIAN_SOLAR.number(3)) == "و ۳ مورد دیگر"
    assert ARABIC.number(12) == "12" and HEBREW.number(12) == "12" and ENGLISH.number(7) == "7"
