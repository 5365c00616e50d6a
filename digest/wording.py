"""The words an edition says itself (labels, dates), in the list's language, and its direction.

A list declares ``language`` (a BCP 47 tag, "en" by default). Labels come in English, Arabic,
Hebrew and Persian; any other language falls back to English words, but still gets its direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from digest.zones import LONGEST_LABEL, zone_label

# Languages written right to left; a language tag is matched on its primary subtag, unless it
# names its script.
RTL_LANGUAGES = frozenset({"ar", "he", "iw", "fa", "ur", "ps", "sd", "ug", "yi", "ckb", "dv"})
# ISO 15924 scripts written right to left: Arabic, Hebrew, Thaana, Syriac, N'Ko, Adlam, Hanifi
# Rohingya, Mandaic, Samaritan. A tag's script subtag says the direction whatever its language:
# "ku-Arab" (Kurdish in Arabic letters) is right to left, "ug-Latn" (Uyghur in Latin) is not.
RTL_SCRIPTS = frozenset({"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg", "mand", "samr"})


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
    confirm_expires: str = "The link works for {days} days."
    confirm_ignore: str = (
        "If you did not ask for it, ignore this mail: you will not hear from us again."
    )


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
    confirm_expires="يعمل الرابط لمدة {days} أيام.",
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
    confirm_expires="הקישור תקף במשך {days} ימים.",
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
    confirm_expires="این پیوند {days} روز کار می‌کند.",
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

_BY_LANGUAGE = {"en": ENGLISH, "ar": ARABIC, "he": HEBREW, "iw": HEBREW, "fa": PERSIAN}


def longest_datetime() -> int:
    """The most characters ``format_datetime`` writes, in any language and zone."""
    longest = 0
    for wording in (ENGLISH, ARABIC, HEBREW, PERSIAN):
        month = max(len(_month(wording, number)) for number in range(1, 13))
        # "25 September 2026, 09:14 " and the zone
        longest = max(longest, 2 + 1 + month + 1 + 4 + len(wording.comma) + 1 + 5 + 1)
    return longest + LONGEST_LABEL


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


def wording_for(language: str | None) -> Wording:
    return _BY_LANGUAGE.get(primary_subtag(language), ENGLISH)


def _month(wording: Wording, month: int) -> str:
    name = wording.months[month - 1]
    return name[:3] if wording.short_months else name


def format_datetime(
    moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH, *, this_year: int | None = None
) -> str:
    """'25 Nov 2026, 09:14 GST' in ``zone``, named as readers know it (digest.zones); month names
    from ``wording``, whatever the locale. A moment of ``this_year`` leaves the year out
    ('25 Nov, 09:14 GST'): a mail is read the day it comes, and an item of last year keeps it."""
    local = moment.astimezone(zone)
    month = _month(wording, local.month)
    label = zone_label(moment, zone, wording.language)
    year = "" if local.year == this_year else f" {local.year}"
    return f"{local.day} {month}{year}{wording.comma} {local:%H:%M} {label}"


def format_date(moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH) -> str:
    """'25 November 2026' in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local.day} {wording.months[local.month - 1]} {local.year}"


def format_long_date(moment: datetime, zone: ZoneInfo, wording: Wording = ENGLISH) -> str:
    """'Wednesday 25 November 2026' in ``zone``, for the masthead."""
    local = moment.astimezone(zone)
    return f"{wording.weekdays[local.weekday()]} {format_date(local, zone, wording)}"
