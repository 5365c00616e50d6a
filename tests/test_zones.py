"""Tests for digest.zones: times carry the zone they are written in, as a newsroom names it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from digest import placeholders
from digest.render import Neutralized, wrap_text
from digest.wording import (
    ALL_WORDINGS,
    ARABIC,
    DARI_SOLAR,
    ENGLISH,
    HEBREW,
    PERSIAN,
    PERSIAN_SOLAR,
    Wording,
    format_datetime,
    longest_datetime,
)
from digest.zones import ABBREVIATIONS, ZONE_NAMES, longest_label, offset_text, zone_label

WINTER = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


def test_a_dubai_time_reads_gst() -> None:
    moment = datetime(2026, 11, 25, 3, 12, tzinfo=UTC)
    assert format_datetime(moment, ZoneInfo("Asia/Dubai")) == "25 Nov 2026, 07:12 GST"


@pytest.mark.parametrize(
    ("zone", "winter", "summer"),
    [
        ("Asia/Jerusalem", "IST", "IDT"),
        ("Europe/London", "GMT", "BST"),
        ("Europe/Paris", "CET", "CEST"),
        ("Africa/Cairo", "EET", "EEST"),
        ("Asia/Beirut", "EET", "EEST"),
        ("America/New_York", "ET", "ET"),
        ("America/Los_Angeles", "PT", "PT"),
        ("Asia/Tehran", "IRST", "IRST"),  # no summer time since 2022
        ("Asia/Riyadh", "AST", "AST"),
        ("UTC", "UTC", "UTC"),
    ],
)
def test_both_sides_of_the_clock_change(zone: str, winter: str, summer: str) -> None:
    assert zone_label(WINTER, ZoneInfo(zone)) == winter
    assert zone_label(SUMMER, ZoneInfo(zone)) == summer


def test_the_hour_itself_changes_with_the_clocks() -> None:
    # 04:00 UTC on either side of Israel's spring change (27 March 2026, 02:00 local).
    before = datetime(2026, 3, 26, 23, 30, tzinfo=UTC)
    after = datetime(2026, 3, 27, 0, 30, tzinfo=UTC)
    zone = ZoneInfo("Asia/Jerusalem")
    assert format_datetime(before, zone) == "27 Mar 2026, 01:30 IST"
    assert format_datetime(after, zone) == "27 Mar 2026, 03:30 IDT"


def test_an_abbreviation_holds_only_at_its_own_offset() -> None:
    # Tehran kept summer time until 2022 (IRDT, +04:30) and was on +04:00 in the winter of 1978.
    tehran = ZoneInfo("Asia/Tehran")
    assert zone_label(datetime(2021, 7, 1, tzinfo=UTC), tehran) == "IRDT"
    assert zone_label(datetime(1978, 1, 1, tzinfo=UTC), tehran) == "UTC+4"


@pytest.mark.parametrize(
    ("zone", "label"),
    [
        ("Asia/Kathmandu", "UTC+5:45"),
        ("America/Sao_Paulo", "UTC-3"),
        ("Asia/Amman", "UTC+3"),  # tzdata writes "+03": no name in common use
        ("America/St_Johns", "UTC-3:30"),
        ("Asia/Shanghai", "UTC+8"),  # tzdata's "CST" is Chicago's too
    ],
)
def test_other_zones_fall_back_to_the_offset(zone: str, label: str) -> None:
    assert zone_label(WINTER, ZoneInfo(zone)) == label


def test_arabic_hebrew_and_persian_lists_name_the_offset_in_their_words() -> None:
    moment = datetime(2026, 11, 25, 3, 12, tzinfo=UTC)
    baku = ZoneInfo("Asia/Baku")
    assert format_datetime(moment, baku, ARABIC) == "25 نوفمبر 2026، 07:12 غرينتش+4"
    assert zone_label(SUMMER, ZoneInfo("Europe/Athens"), HEBREW.language) == "GMT+3"
    assert zone_label(WINTER, ZoneInfo("Europe/Athens"), HEBREW.language) == "GMT+2"
    assert zone_label(WINTER, ZoneInfo("Asia/Dubai"), PERSIAN.language) == "گرینویچ+4"


def test_utc_itself_reads_by_greenwich_time_in_arabic_and_persian() -> None:
    # CLDR's bare "غرينتش" / "گرینویچ" after a time reads "12:00 Greenwich"; outlets write "by
    # Greenwich time". Hebrew outlets write GMT as English does.
    assert zone_label(WINTER, ZoneInfo("Europe/London"), ARABIC.language) == "بتوقيت غرينتش"
    assert zone_label(WINTER, ZoneInfo("UTC"), PERSIAN.language) == "به وقت گرینویچ"
    assert zone_label(WINTER, ZoneInfo("UTC"), HEBREW.language) == "GMT"
    assert format_datetime(WINTER, ZoneInfo("UTC"), PERSIAN_SOLAR).endswith("به وقت گرینویچ")


def test_a_persian_calendar_lists_offset_is_in_persian_digits() -> None:
    # Persian digits are of the same bidirectional class as Latin ones (EN): "+۳:۳۰" stays in
    # the order "+3:30" has after the zone's name in a right-to-left line.
    moment = datetime(2026, 5, 10, 4, 0, tzinfo=UTC)  # 10 May: 20 Ordibehesht, the longest month
    assert format_datetime(moment, ZoneInfo("Asia/Kathmandu"), PERSIAN_SOLAR) == (
        "۲۰ اردیبهشت ۱۴۰۵، ۰۹:۴۵ گرینویچ+۵:۴۵"
    )
    assert format_datetime(WINTER, ZoneInfo("America/St_Johns"), PERSIAN_SOLAR) == (
        "۲۵ دی ۱۴۰۴، ۰۰:۳۰ گرینویچ-۳:۳۰"
    )


@pytest.mark.parametrize("moment", [WINTER, SUMMER, datetime(2021, 7, 1, tzinfo=UTC)])
def test_a_persian_list_names_tehran_and_kabul_time_as_their_outlets_write_it(
    moment: datetime,
) -> None:
    # "گرینویچ+۳:۳۰" is an offset no Iranian reader says: Iranian outlets write "به وقت تهران",
    # Afghan ones "به وقت کابل", whatever the offset the city's clock keeps (Iran's summer time,
    # +4:30, until 2022).
    for zone, name in (("Asia/Tehran", "به وقت تهران"), ("Iran", "به وقت تهران"),
                       ("Asia/Kabul", "به وقت کابل")):  # fmt: skip
        assert zone_label(moment, ZoneInfo(zone), PERSIAN.language) == name
    # Other zones keep the offset; other languages their own names.
    assert zone_label(moment, ZoneInfo("Asia/Dubai"), PERSIAN.language) == "گرینویچ+4"
    assert zone_label(WINTER, ZoneInfo("Asia/Tehran"), ENGLISH.language) == "IRST"
    assert zone_label(WINTER, ZoneInfo("Asia/Kabul"), ENGLISH.language) == "UTC+4:30"
    assert zone_label(WINTER, ZoneInfo("Asia/Tehran"), ARABIC.language) == "غرينتش+3:30"


@pytest.mark.parametrize("moment", [WINTER, SUMMER])
def test_arabic_and_hebrew_lists_name_their_capitals_time_as_their_outlets_write_it(
    moment: datetime,
) -> None:
    # "07:12 غرينتش+3" under a story is how no Saudi outlet writes a time: "بتوقيت مكة المكرمة".
    for zone, name in (
        ("Asia/Riyadh", "بتوقيت مكة المكرمة"),
        ("Africa/Cairo", "بتوقيت القاهرة"),
        ("Asia/Dubai", "بتوقيت الإمارات"),
        ("Asia/Beirut", "بتوقيت بيروت"),
    ):
        assert zone_label(moment, ZoneInfo(zone), ARABIC.language) == name
    assert zone_label(moment, ZoneInfo("Asia/Jerusalem"), HEBREW.language) == "שעון ישראל"
    # A name belongs to its language: English keeps the abbreviation, Persian the offset, and
    # a zone whose name is disputed keeps the offset.
    assert zone_label(moment, ZoneInfo("Asia/Riyadh"), ENGLISH.language) == "AST"
    assert zone_label(moment, ZoneInfo("Asia/Riyadh"), PERSIAN.language) == "گرینویچ+3"
    assert zone_label(moment, ZoneInfo("Asia/Jerusalem"), ARABIC.language).startswith("غرينتش+")
    assert format_datetime(WINTER, ZoneInfo("Asia/Riyadh"), ARABIC) == (
        "15 يناير 2026، 07:00 بتوقيت مكة المكرمة"
    )


def test_a_persian_calendar_time_in_tehran_or_kabul_reads_at_the_citys_time() -> None:
    moment = datetime(2026, 12, 7, 5, 44, tzinfo=UTC)
    assert format_datetime(moment, ZoneInfo("Asia/Tehran"), PERSIAN_SOLAR) == (
        "۱۶ آذر ۱۴۰۵، ۰۹:۱۴ به وقت تهران"
    )
    assert format_datetime(moment, ZoneInfo("Asia/Kabul"), DARI_SOLAR) == (
        "۱۶ قوس ۱۴۰۵، ۱۰:۱۴ به وقت کابل"
    )


def test_every_zone_name_is_counted_in_its_languages_longest_label() -> None:
    for language, names in ZONE_NAMES.items():
        assert all(len(name) <= longest_label(language) for name in names.values()), names
    # An Arabic city's name does not lengthen an English or a Hebrew list's times.
    assert longest_label("en") == len("UTC+12:45") < longest_label("ar")
    assert longest_label("he") == len("שעון ישראל") < longest_label("ar")


def test_offsets_are_written_short() -> None:
    assert offset_text(timedelta(hours=4)) == "+4"
    assert offset_text(timedelta(hours=-9, minutes=-30)) == "-9:30"
    assert offset_text(timedelta(0)) == "+0"


def test_every_abbreviation_is_at_an_offset_its_zone_really_has() -> None:
    # A typo in the map (a wrong offset) would leave its abbreviation never used.
    for name, by_offset in ABBREVIATIONS.items():
        zone = ZoneInfo(name)
        seen = {
            round(offset.total_seconds() / 60)
            for year in range(2000, 2027)
            for month in (1, 7)
            if (offset := datetime(year, month, 15, tzinfo=UTC).astimezone(zone).utcoffset())
            is not None
        }
        assert set(by_offset) <= seen, (name, by_offset, seen)


def test_no_time_is_longer_than_the_plain_text_allows_for() -> None:
    longest = longest_datetime()
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        for moment in (WINTER, SUMMER, datetime(2026, 9, 25, 23, 59, tzinfo=UTC)):
            for wording in ALL_WORDINGS:  # Persian calendar's "اردیبهشت" too
                written = format_datetime(moment, zone, wording)
                assert len(written) <= longest_datetime(wording) <= longest, (name, written)


@pytest.mark.parametrize(
    "wording", [ENGLISH, PERSIAN, PERSIAN_SOLAR], ids=["en", "fa-gregorian", "fa"]
)
def test_a_filled_byline_keeps_within_72_columns(wording: Wording) -> None:
    moment = datetime(2026, 9, 25, 5, 14, tzinfo=UTC)
    marker = placeholders.time_marker(moment)
    zone = ZoneInfo("America/St_Johns")  # a long offset: UTC-2:30 in September
    for filler in range(20, 60):
        # As a story's byline reaches the template: feed text neutralized, the marker whole.
        byline = Neutralized(f"{'x' * filler} · Gulf Wire · {marker}")
        wrapped = wrap_text(byline)
        assert marker in wrapped
        filled = wrapped.replace(marker, format_datetime(moment, zone, wording))
        assert all(len(line) <= 72 for line in filled.splitlines()), filled
