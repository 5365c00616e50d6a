"""The words an edition says itself (labels, dates), in the list's language, and its direction.

A list declares ``language`` (a BCP 47 tag, "en" by default). Labels come in English, Arabic,
Hebrew and Persian; any other language falls back to English words, but still gets its direction.

A list's ``calendar`` says how its dates are counted: "gregorian", or "persian" (the Solar Hijri
calendar of Iran and Afghanistan, the default of a Persian list). A Persian list in the Persian
calendar writes its dates, times and counts in Persian digits ("۱۶ آذر ۱۴۰۵، ۰۹:۱۴"), with
Iran's month names, or Afghanistan's for Dari ("fa-AF", "prs": "۱۶ قوس ۱۴۰۵"); in the Gregorian
calendar it writes what it always did ("7 دسامبر 2026، 09:14"). Feed text keeps its own digits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime

from digest.plurals import Forms, counted
from digest.zones import longest_label, zone_label

Calendar = Literal["gregorian", "persian"]

# Languages written right to left; a language tag is matched on its primary subtag, unless it
# names its script. "prs" is Dari, Afghanistan's Persian.
RTL_LANGUAGES = frozenset(
    {"ar", "he", "iw", "fa", "prs", "ur", "ps", "sd", "ug", "yi", "ckb", "dv"}
)
# The languages whose lists count their dates in the Persian calendar unless told otherwise.
PERSIAN_CALENDAR_LANGUAGES = frozenset({"fa", "prs"})
_LATIN_DIGITS = "0123456789"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0 to U+06F9, as Iranian and Afghan print writes them
# ISO 15924 scripts written right to left: Arabic, Hebrew, Thaana, Syriac, N'Ko, Adlam, Hanifi
# Rohingya, Mandaic, Samaritan. A tag's script subtag says the direction whatever its language:
# "ku-Arab" (Kurdish in Arabic letters) is right to left, "ug-Latn" (Uyghur in Latin) is not.
RTL_SCRIPTS = frozenset({"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg", "mand", "samr"})
# How long a confirmation link works, in each language's plural forms (more below).
ENGLISH_DAYS = Forms(one="{count} day", other="{count} days")


@dataclass(frozen=True, slots=True)
class Wording:
    """Everything the templates write that is not feed text."""

    top_story: str
    recommended: str
    more_from: str  # followed by an author or feed name
    view_in_browser: str
    untitled: str
    empty_edition: str
    subscribed_to: str  # "You are receiving this because you subscribed to" + list name
    sent_to: str  # "(sent to" + address + ")"
    unsubscribe: str
    no_new_stories: str  # the subject's lead_title when an edition is empty
    months: tuple[str, ...]
    weekdays: tuple[str, ...]  # Monday first
    short_months: bool  # "25 Nov 2026, 09:14" rather than "25 November 2026, 09:14"
    language: str = "en"  # the primary subtag these words are in (digest.zones names offsets in it)
    also_covered_by: str = "Also covered by"  # followed by other outlets' names
    # After the outlets "Also covered by" names, or the headlines "More on this story" lists,
    # when there are more ({count}: how many).
    and_more: str = "and {count} more"
    # Followed by the headlines of the item's own outlet's other reports of its story.
    more_on_story: str = "More on this story"
    # Below a mail's last story when some were left out of it to stay under Gmail's clip: a
    # link to the edition's web copy, which shows them all.
    more_online: str = "This edition has more stories: read them all in your browser"
    comma: str = ","
    preferences: str = "Preferences"  # the link to a subscriber's settings for the list
    # The first line of each copy: to a reader by name ({name}), or with no name.
    greeting_to: str = "Hello {name},"
    greeting: str = "Hello,"
    # The sign-up's confirmation mail ({list}: the list's name; {days}: how long the link works).
    confirm_subject: str = "Confirm your subscription to {list}"
    confirm_intro: str = (
        "Someone, most likely you, asked for {list} to be sent to this address. To confirm, "
        "open the link below and press the button on the page it opens."
    )
    confirm_link: str = "Confirm my subscription"
    confirm_expires: str = "The link works for {days}."  # {days}: ``days`` counted
    days: Forms = ENGLISH_DAYS
    confirm_ignore: str = (
        "If you did not ask for it, ignore this mail: you will not hear from us again."
    )
    # How dates are counted (``months`` are that calendar's), and the digits every date, time
    # and count of these words is written in.
    calendar: Calendar = "gregorian"
    digits: str = _LATIN_DIGITS
    # What sets a byline's author, outlet and time apart, and the edition's other runs of
    # names and links: a dot, unless it reads as one of the digits (``PERSIAN_SOLAR``'s).
    separator: str = "·"

    def number(self, value: int | str) -> str:
        """``value`` in these words' digits: "۱۲" for 12 in Persian."""
        text = str(value)
        if self.digits == _LATIN_DIGITS:
            return text
        return text.translate(_digit_table(self.digits))

    def counted(self, forms: Forms, count: float) -> str:
        """``count`` in the plural form these words give it ("يومين"), in their digits."""
        return counted(forms, self.language, count, self.number)


@cache
def _digit_table(digits: str) -> dict[int, int]:
    # Numbers in Persian digits take the Arabic decimal separator ("۱٫۵"): a full stop there
    # reads as the end of a sentence, or as a zero. Dates and times hold no full stop.
    return str.maketrans(_LATIN_DIGITS + ".", digits + "\u066b")


# Arabic counts days by its grammar's forms (CLDR's categories): "يوم واحد", "يومين" (two,
# after "لمدة"), "3 أيام" (3 to 10), "11 يومًا" (11 to 99), "100 يوم" and "1.5 يوم" (other).
ARABIC_DAYS = Forms(
    zero="{count} يوم",
    one="يوم واحد",
    two="يومين",
    few="{count} أيام",
    many="{count} يومًا",
    other="{count} يوم",
)
# Hebrew: "יום אחד", "יומיים", "3 ימים"; a fraction under one, which CLDR
# files with one, is "0.5 יום".
HEBREW_DAYS = Forms(
    one="{count} יום", two="יומיים", other="{count} ימים", exact=(("1", "יום אחד"),)
)
# Persian counts with a singular noun whatever the number ("۱ روز", "۱۱ روز").
PERSIAN_DAYS = Forms(other="{count} روز")

ENGLISH = Wording(
    top_story="Top story",
    recommended="Recommended",
    more_from="More from",
    view_in_browser="View in your browser",
    untitled="(untitled)",
    empty_edition="There are no new stories in this edition. We will be back with the next one.",
    subscribed_to="You are receiving this because you subscribed to",
    sent_to="sent to",
    unsubscribe="Unsubscribe",
    no_new_stories="No new stories",
    months=(
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    short_months=True,
)  # fmt: skip

ARABIC = Wording(
    language="ar",
    greeting_to="مرحباً {name}،",
    greeting="مرحباً،",
    also_covered_by="تناولته أيضًا",
    and_more="و{count} غيرها",
    more_on_story="المزيد عن هذا الخبر",
    more_online="في هذا العدد أخبار أخرى: اقرأها كلها في المتصفح",
    top_story="الخبر الرئيسي",
    recommended="مختارات",
    more_from="المزيد من",
    view_in_browser="اعرض في المتصفح",
    untitled="(بلا عنوان)",
    empty_edition="لا أخبار جديدة في هذا العدد. نلقاكم في العدد القادم.",
    subscribed_to="تصلك هذه الرسالة لأنك مشترك في",
    sent_to="أُرسلت إلى",
    unsubscribe="إلغاء الاشتراك",
    preferences="إعدادات الاشتراك",
    confirm_subject="أكّد اشتراكك في {list}",
    confirm_intro="طلب أحدٌ، على الأرجح أنت، إرسال {list} إلى هذا العنوان. للتأكيد افتح "
    "الرابط أدناه واضغط الزر في الصفحة التي يفتحها.",
    confirm_link="تأكيد اشتراكي",
    confirm_expires="يعمل الرابط لمدة {days}.",
    days=ARABIC_DAYS,
    confirm_ignore="إن لم تطلب ذلك فتجاهل هذه الرسالة: لن تصلك منا رسائل أخرى.",
    no_new_stories="لا أخبار جديدة",
    months=(
        "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
        "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
    ),
    weekdays=("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
    short_months=False,
    comma="،",
)  # fmt: skip

HEBREW = Wording(
    language="he",
    greeting_to="שלום {name},",
    greeting="שלום,",
    also_covered_by="דיווחו גם",
    and_more="ועוד {count}",
    more_on_story="עוד על הידיעה",
    more_online="בגיליון הזה כתבות נוספות: לקריאת כולן בדפדפן",
    top_story="הכתבה המרכזית",
    recommended="מומלצות",
    more_from="עוד מאת",
    view_in_browser="לצפייה בדפדפן",
    untitled="(ללא כותרת)",
    empty_edition="אין כתבות חדשות בגיליון הזה. נשוב בגיליון הבא.",
    subscribed_to="הודעה זו נשלחה אליך כי נרשמת אל",
    sent_to="נשלח אל",
    unsubscribe="להסרה מרשימת התפוצה",
    preferences="העדפות",
    confirm_subject="אישור ההרשמה אל {list}",
    confirm_intro="מישהו, כנראה את או אתה, ביקש לקבל את {list} בכתובת הזו. כדי לאשר, פתחו את "
    "הקישור שלמטה ולחצו על הכפתור בדף שייפתח.",
    confirm_link="אישור ההרשמה שלי",
    confirm_expires="הקישור תקף במשך {days}.",
    days=HEBREW_DAYS,
    confirm_ignore="אם לא ביקשתם זאת, התעלמו מהודעה זו: לא תשמעו מאיתנו שוב.",
    no_new_stories="אין כתבות חדשות",
    months=(
        "ינואר", "פברואר", "מרץ", "אפריל", "מאי", "יוני",
        "יולי", "אוגוסט", "ספטמבר", "אוקטובר", "נובמבר", "דצמבר",
    ),
    weekdays=("יום שני", "יום שלישי", "יום רביעי", "יום חמישי", "יום שישי", "שבת", "יום ראשון"),
    short_months=False,
)  # fmt: skip

PERSIAN = Wording(
    language="fa",
    greeting_to="سلام {name}،",
    greeting="سلام،",
    also_covered_by="همچنین در",
    and_more="و {count} مورد دیگر",
    more_on_story="بیشتر درباره این خبر",
    more_online="این شماره خبرهای بیشتری دارد: همه را در مرورگر بخوانید",
    top_story="خبر اصلی",
    recommended="پیشنهادها",
    more_from="بیشتر از",
    view_in_browser="نمایش در مرورگر",
    untitled="(بدون عنوان)",
    empty_edition="در این شماره خبر تازه‌ای نیست. در شماره بعد با شما هستیم.",
    subscribed_to="این پیام را دریافت می‌کنید چون مشترک این خبرنامه هستید:",
    sent_to="ارسال به",
    unsubscribe="لغو اشتراک",
    preferences="تنظیمات اشتراک",
    confirm_subject="اشتراک خود در {list} را تأیید کنید",
    confirm_intro="کسی، به احتمال زیاد خود شما، خواسته است {list} به این نشانی فرستاده شود. برای "
    "تأیید، پیوند زیر را باز کنید و دکمه صفحه‌ای را که باز می‌شود بزنید.",
    confirm_link="تأیید اشتراک من",
    confirm_expires="این پیوند {days} کار می‌کند.",
    days=PERSIAN_DAYS,
    confirm_ignore="اگر شما درخواست نکرده‌اید، این نامه را نادیده بگیرید: دیگر از ما نامه‌ای "
    "دریافت نمی‌کنید.",
    no_new_stories="خبر تازه‌ای نیست",
    months=(
        "ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن",
        "ژوئیه", "اوت", "سپتامبر", "اکتبر", "نوامبر", "دسامبر",
    ),
    weekdays=("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"),
    short_months=False,
    comma="،",
)  # fmt: skip

# The Persian calendar (Solar Hijri): Iran's month names, Persian digits. Persian zero is a
# dot: "رادیو فردا · ۴ آذر" read "۰ ۴ آذر". A bar reads as the one ("۱") or an alef. Persian
# outlets set a date apart by a spaced dash ("۱۷ آذر ۱۴۰۳ - ۰۹:۱۴"); the en dash, longer than
# a minus sign, so that "– ۴" does not read as minus four.
PERSIAN_SOLAR = replace(
    PERSIAN,
    calendar="persian",
    digits=PERSIAN_DIGITS,
    separator="–",
    months=(
        "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
        "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
    ),
)  # fmt: skip
# Afghanistan counts the same months by the signs of the zodiac (Dari, "fa-AF" or "prs").
DARI_SOLAR = replace(
    PERSIAN_SOLAR,
    months=(
        "حمل", "ثور", "جوزا", "سرطان", "اسد", "سنبله",
        "میزان", "عقرب", "قوس", "جدی", "دلو", "حوت",
    ),
)  # fmt: skip
_BY_LANGUAGE = {
    "en": ENGLISH, "ar": ARABIC, "he": HEBREW, "iw": HEBREW, "fa": PERSIAN, "prs": PERSIAN
}  # fmt: skip
ALL_WORDINGS = (ENGLISH, ARABIC, HEBREW, PERSIAN, PERSIAN_SOLAR, DARI_SOLAR)


@cache
def longest_datetime(wording: Wording | None = None) -> int:
    """The most characters ``format_datetime`` writes in ``wording``, in any zone; without
    one, in any language and calendar."""
    longest = 0
    for each in ALL_WORDINGS if wording is None else (wording,):
        month = max(len(_month(each, number)) for number in range(1, 13))
        # "25 September 2026, 09:14 " and the zone
        date = 2 + 1 + month + 1 + 4 + len(each.comma) + 1 + 5 + 1
        longest = max(longest, date + longest_label(each.language))
    return longest


def primary_subtag(language: str | None) -> str:
    """'ar' for 'ar-AE' or 'AR_ae'; empty for no language."""
    return (language or "").replace("_", "-").split("-")[0].lower()


def direction_of(language: str | None) -> Literal["ltr", "rtl"]:
    """The direction text in ``language`` is written in: its script's when the tag names one
    ("pa-Arab"), else its language's; LTR when unknown."""
    subtags = (language or "").replace("_", "-").lower().split("-")
    # BCP 47: the script, four letters, follows the language (and any three-letter extlang).
    script = next((tag for tag in subtags[1:3] if len(tag) == 4 and tag.isalpha()), None)
    if script is not None:
        return "rtl" if script in RTL_SCRIPTS else "ltr"
    return "rtl" if subtags[0] in RTL_LANGUAGES else "ltr"


def calendar_for(language: str | None, calendar: Calendar | None = None) -> Calendar:
    """``calendar``, or when unset, the one the language's readers date by: Persian for
    Persian and Dari, Gregorian otherwise."""
    if calendar is not None:
        return calendar
    return "persian" if primary_subtag(language) in PERSIAN_CALENDAR_LANGUAGES else "gregorian"


def wording_for(language: str | None, calendar: Calendar | None = None) -> Wording:
    """The words of a list in ``language`` dating by ``calendar`` (unset: the language's own,
    ``calendar_for``). Only Persian has the Persian calendar's month names here: any other
    language keeps the Gregorian calendar (digest.config refuses it "persian")."""
    primary = primary_subtag(language)
    wording = _BY_LANGUAGE.get(primary, ENGLISH)
    if calendar_for(language, calendar) != "persian":
        return wording
    if wording is PERSIAN:
        return DARI_SOLAR if _is_dari(language) else PERSIAN_SOLAR
    return wording


def _is_dari(language: str | None) -> bool:
    """Persian as Afghanistan writes it: "prs", "fa-AF", "fa-Arab-AF"."""
    subtags = (language or "").replace("_", "-").lower().split("-")
    return subtags[0] == "prs" or (subtags[0] == "fa" and "af" in subtags[1:3])


def calendar_date(moment: datetime, zone: ZoneInfo, wording: Wording) -> tuple[int, int, int]:
    """(year, month, day) of ``moment`` in ``zone``, counted in ``wording``'s calendar."""
    local = moment.astimezone(zone).date()
    if wording.calendar == "persian":
        return _solar_hijri(local)
    return local.year, local.month, local.day


def _solar_hijri(day: date) -> tuple[int, int, int]:
    # jdatetime's arithmetic agrees with Iran's calendar (whose year starts at the equinox seen
    # from Tehran) in the years tests/test_wording.py checks; jdatetime carries no type hints.
    solar = jdatetime.date.fromgregorian(date=day)
    return int(solar.year), int(solar.month), int(solar.day)


def year_of(moment: datetime, zone: ZoneInfo, wording: Wording) -> int:
    """The year ``moment`` is in, in ``zone`` and ``wording``'s calendar: a time of this year
    is written without it (``format_datetime``'s ``this_year``)."""
    return calendar_date(moment, zone, wording)[0]


def _month(wording: Wording, month: int) -> str:
    name = wording.months[month - 1]
    return name[:3] if wording.short_months else name


def format_datetime(
    moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH, *, this_year: int | None = None
) -> str:
    """'25 Nov 2026, 09:14 GST' in ``zone``, named as readers know it (digest.zones); month names
    and digits from ``wording``, in its calendar, whatever the locale ('۱۶ آذر ۱۴۰۵، ۰۹:۱۴
    به وقت تهران'). A moment of ``this_year`` (``year_of``) leaves the year out ('25 Nov, 09:14
    GST'): a mail is read the day it comes, and an item of last year keeps it."""
    local = moment.astimezone(zone)
    year, month, day = calendar_date(moment, zone, wording)
    label = zone_label(moment, zone, wording.language)
    shown_year = "" if year == this_year else f" {year}"
    written = f"{day} {_month(wording, month)}{shown_year}{wording.comma} {local:%H:%M} {label}"
    # Every digit here is ours (the zone's offset too): none comes from a feed.
    return wording.number(written)


def format_date(moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH) -> str:
    """'25 November 2026' in ``zone`` ('۱۶ آذر ۱۴۰۵' in the Persian calendar)."""
    year, month, day = calendar_date(moment, zone, wording)
    return wording.number(f"{day} {wording.months[month - 1]} {year}")


def format_long_date(moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH) -> str:
    """'Wednesday 25 November 2026' in ``zone``, for the masthead (a day of the week is the
    same day in either calendar)."""
    local = moment.astimezone(zone)
    return f"{wording.weekdays[local.weekday()]} {format_date(local, zone, wording)}"
