"""The zone a time is written in, the way a newsroom writes it: "07:12 GST", "09:14 IDT", "UTC+4".

    moment, zone ─► the zone's offset at that moment ─► the newsroom's abbreviation for that
    zone and offset (ABBREVIATIONS), else the offset itself ("UTC+4", "UTC-3:30")

The tz database's own abbreviations are not used as they are: since 2017 it writes "+04" for
Dubai and "+0330" for Tehran (no invented names), and a few of its letters are ambiguous ("CST"
is China's and Chicago's). So the abbreviations readers know are kept here, per zone and offset:
an abbreviation is used only at the offset it stands for, so a zone that changes its rules (Iran
gave up summer time in 2022, Jordan and Syria moved to +03) falls back to the plain offset
rather than to a wrong name. Lists written in Arabic, Hebrew or Persian get the offset in their
own words ("غرينتش+4"), as CLDR writes it, in the digits the rest of the date uses
(digest.wording writes a Persian-calendar list's in Persian ones: "گرینویچ+۵:۴۵"), except
where that language's outlets name a zone by its city's clock (ZONE_NAMES): a Persian list's
Tehran time is "به وقت تهران", its Kabul time "به وقت کابل", an Arabic list's Riyadh time
"بتوقيت مكة المكرمة", a Hebrew list's Jerusalem time "שעון ישראל".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Zone -> {UTC offset in minutes: abbreviation}. The zones a Middle East or world-news desk
# writes times in; add a zone here (with each of its offsets) rather than trust tzdata's letters.
_GULF = {240: "GST"}  # Gulf Standard Time
_ARABIA = {180: "AST"}  # Arabia Standard Time
_EASTERN_EUROPE = {120: "EET", 180: "EEST"}
_CENTRAL_EUROPE = {60: "CET", 120: "CEST"}
_ISRAEL = {120: "IST", 180: "IDT"}
_UNIVERSAL = {0: "UTC"}

ABBREVIATIONS: dict[str, dict[int, str]] = {
    # The Gulf and the Arabian peninsula
    "Asia/Dubai": _GULF,
    "Asia/Muscat": _GULF,
    "Asia/Riyadh": _ARABIA,
    "Asia/Qatar": _ARABIA,
    "Asia/Bahrain": _ARABIA,
    "Asia/Kuwait": _ARABIA,
    "Asia/Aden": _ARABIA,
    "Asia/Baghdad": _ARABIA,
    # Iran, Israel and the Levant, Egypt, Turkey
    "Asia/Tehran": {210: "IRST", 270: "IRDT"},
    "Asia/Jerusalem": _ISRAEL,
    "Asia/Tel_Aviv": _ISRAEL,
    "Israel": _ISRAEL,
    "Asia/Gaza": _EASTERN_EUROPE,
    "Asia/Hebron": _EASTERN_EUROPE,
    "Asia/Beirut": _EASTERN_EUROPE,
    "Asia/Nicosia": _EASTERN_EUROPE,
    "Africa/Cairo": _EASTERN_EUROPE,
    "Europe/Istanbul": {180: "TRT"},
    "Asia/Karachi": {300: "PKT"},
    "Asia/Kolkata": {330: "IST"},
    # Europe
    "Europe/London": {0: "GMT", 60: "BST"},
    "Europe/Lisbon": {0: "WET", 60: "WEST"},
    "Europe/Paris": _CENTRAL_EUROPE,
    "Europe/Berlin": _CENTRAL_EUROPE,
    "Europe/Brussels": _CENTRAL_EUROPE,
    "Europe/Amsterdam": _CENTRAL_EUROPE,
    "Europe/Madrid": _CENTRAL_EUROPE,
    "Europe/Rome": _CENTRAL_EUROPE,
    "Europe/Vienna": _CENTRAL_EUROPE,
    "Europe/Zurich": _CENTRAL_EUROPE,
    "Europe/Stockholm": _CENTRAL_EUROPE,
    "Europe/Oslo": _CENTRAL_EUROPE,
    "Europe/Copenhagen": _CENTRAL_EUROPE,
    "Europe/Warsaw": _CENTRAL_EUROPE,
    "Europe/Prague": _CENTRAL_EUROPE,
    "Europe/Athens": _EASTERN_EUROPE,
    "Europe/Bucharest": _EASTERN_EUROPE,
    "Europe/Helsinki": _EASTERN_EUROPE,
    "Europe/Kyiv": _EASTERN_EUROPE,
    "Europe/Kiev": _EASTERN_EUROPE,
    "Europe/Moscow": {180: "MSK"},
    # The Americas: the generic names, which hold on both sides of the clock change
    "America/New_York": {-300: "ET", -240: "ET"},
    "America/Toronto": {-300: "ET", -240: "ET"},
    "America/Chicago": {-360: "CT", -300: "CT"},
    "America/Denver": {-420: "MT", -360: "MT"},
    "America/Los_Angeles": {-480: "PT", -420: "PT"},
    # Asia-Pacific
    "Asia/Singapore": {480: "SGT"},
    "Asia/Hong_Kong": {480: "HKT"},
    "Asia/Tokyo": {540: "JST"},
    "Australia/Sydney": {600: "AEST", 660: "AEDT"},
    # No zone at all
    "UTC": _UNIVERSAL,
    "Etc/UTC": _UNIVERSAL,
    "Etc/UCT": _UNIVERSAL,
    "Etc/Universal": _UNIVERSAL,
    "Etc/Zulu": _UNIVERSAL,
    "Etc/GMT": {0: "GMT"},
    "GMT": {0: "GMT"},
}

# The offset in a list's own words: "{offset}" is "+4", "-3:30"; CLDR's localized GMT format,
# except for UTC itself in Arabic and Persian, which outlets write as "by Greenwich time"
# ("12:00 بتوقيت غرينتش", "۱۲:۰۰ به وقت گرینویچ"), not as CLDR's bare "Greenwich".
OFFSET_FORMATS: dict[str, tuple[str, str]] = {  # language -> (with an offset, at UTC itself)
    "en": ("UTC{offset}", "UTC"),
    "ar": ("غرينتش{offset}", "بتوقيت غرينتش"),
    "he": ("GMT{offset}", "GMT"),
    "fa": ("گرینویچ{offset}", "به وقت گرینویچ"),
}
# Language -> {zone: the name its outlets give that zone's time}. Iranian outlets write "۰۹:۱۴
# به وقت تهران" (Tehran time), Afghan ones "به وقت کابل"; no reader says "گرینویچ+۳:۳۰". A name
# of the city's clock, unlike an abbreviation, holds at whatever offset the city keeps (Iran's
# summer time until 2022), so it is not kept per offset. Dushanbe's is left out: "به وقت دوشنبه"
# also reads "Monday time".
# Arabic names a capital's clock "بتوقيت" and the city: "بتوقيت مكة المكرمة" (Mecca time,
# Saudi Arabia's), "بتوقيت القاهرة", "بتوقيت الإمارات"; Hebrew says "שעון ישראל". Zones whose
# name is disputed (Gaza, Hebron) keep the offset.
_TEHRAN_TIME = "به وقت تهران"
_ISRAEL_TIME = "שעון ישראל"
ZONE_NAMES: dict[str, dict[str, str]] = {
    "fa": {"Asia/Tehran": _TEHRAN_TIME, "Iran": _TEHRAN_TIME, "Asia/Kabul": "به وقت کابل"},
    "ar": {
        "Asia/Riyadh": "بتوقيت مكة المكرمة",
        "Asia/Qatar": "بتوقيت الدوحة",
        "Asia/Dubai": "بتوقيت الإمارات",
        "Asia/Muscat": "بتوقيت مسقط",
        "Asia/Kuwait": "بتوقيت الكويت",
        "Asia/Bahrain": "بتوقيت البحرين",
        "Asia/Baghdad": "بتوقيت بغداد",
        "Asia/Damascus": "بتوقيت دمشق",
        "Asia/Beirut": "بتوقيت بيروت",
        "Asia/Amman": "بتوقيت عمّان",
        "Africa/Cairo": "بتوقيت القاهرة",
        "Egypt": "بتوقيت القاهرة",
    },
    "he": {"Asia/Jerusalem": _ISRAEL_TIME, "Asia/Tel_Aviv": _ISRAEL_TIME, "Israel": _ISRAEL_TIME},
}


def longest_label(language: str) -> int:
    """The longest label this module writes in ``language``, in characters: the plain-text part
    wraps lines as if every time were its longest (digest.render), so that filled lines keep
    within 72 columns, and an English list's lines are not cut for an Arabic city's name."""
    with_offset, at_utc = OFFSET_FORMATS.get(language, OFFSET_FORMATS["en"])
    names = ZONE_NAMES.get(language, {}).values()
    writes_english = language not in OFFSET_FORMATS or language == "en"
    abbreviations = (
        (name for by_offset in ABBREVIATIONS.values() for name in by_offset.values())
        if writes_english
        else ()
    )
    return max(
        len(with_offset.format(offset="+12:45")),
        len(at_utc),
        *(len(name) for name in names),
        *(len(abbreviation) for abbreviation in abbreviations),
    )


def offset_text(offset: timedelta) -> str:
    """'+4', '-3:30', '+5:45': the offset in hours, with minutes only when there are some."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}" if rest else f"{sign}{hours}"


def zone_label(moment: datetime, zone: ZoneInfo, language: str = "en") -> str:
    """How to name ``zone`` at ``moment``: its newsroom abbreviation in English ("GST", "IDT",
    "ET"), else the offset ("UTC+4"); for Arabic, Hebrew and Persian, the offset in their words,
    or the name their outlets give the zone's time (ZONE_NAMES: "به وقت تهران")."""
    named = ZONE_NAMES.get(language, {}).get(zone.key or "")
    if named is not None:
        return named
    local = moment.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    formats = OFFSET_FORMATS.get(language)
    if formats is None:  # any language without its own words writes the English way
        formats = OFFSET_FORMATS["en"]
        language = "en"
    if language == "en":
        abbreviation = ABBREVIATIONS.get(zone.key or "", {}).get(minutes)
        if abbreviation is not None:
            return abbreviation
    return formats[1] if minutes == 0 else formats[0].format(offset=offset_text(offset))
