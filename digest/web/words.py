"""The words the web pages about one list say, in the list's language (English otherwise).

A page about one list (its unsubscribe page, its archive) is written in the list's language when
there are words for it here, and then laid out in that language's direction; other pages, and
lists in other languages, get English words with the list's own text marked with its language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from digest.wording import direction_of, primary_subtag


@dataclass(frozen=True, slots=True)
class PageWords:
    """Everything a page about one list writes that is not the list's own name or text."""

    language: str  # the BCP 47 tag the words are in: the page's lang
    skip_to_content: str
    unsubscribe_title: str  # followed by the list's name
    unsubscribe_explain: str  # {list}: nothing changes until the button is pressed
    unsubscribe_button: str
    unsubscribed_title: str
    unsubscribed_body: str  # {list}
    form_expired: str
    archive_title: str  # "Past editions"
    archive_empty: str
    page_of: str  # {page}, {pages}
    newer: str
    older: str
    stories: str  # {count}
    atom_feed: str
    all_lists: str
    pagination: str  # the label of the pagination landmark
    recipient: str  # stands for the address in the footer of an archived edition

    @property
    def direction(self) -> Literal["ltr", "rtl"]:
        return direction_of(self.language)


ENGLISH = PageWords(
    language="en",
    skip_to_content="Skip to content",
    unsubscribe_title="Unsubscribe from",
    unsubscribe_explain="Press the button to stop receiving {list}. Nothing changes until you do.",
    unsubscribe_button="Unsubscribe",
    unsubscribed_title="You are unsubscribed",
    unsubscribed_body="You will get no more editions of {list}. Thank you for reading.",
    form_expired="This page was open too long to be sure the request came from you. Press the "
    "button again.",
    archive_title="Past editions",
    archive_empty="No editions yet: the first one will appear here once it is sent.",
    page_of="Page {page} of {pages}",
    newer="Newer editions",
    older="Older editions",
    stories="Stories: {count}",
    atom_feed="Atom feed of the editions",
    all_lists="All newsletters",
    pagination="Pages of editions",
    recipient="each subscriber",
)

ARABIC = PageWords(
    language="ar",
    skip_to_content="انتقل إلى المحتوى",
    unsubscribe_title="إلغاء الاشتراك في",
    unsubscribe_explain="اضغط الزر لإيقاف وصول {list}. لن يتغير شيء قبل أن تضغطه.",
    unsubscribe_button="إلغاء الاشتراك",
    unsubscribed_title="تم إلغاء اشتراكك",
    unsubscribed_body="لن تصلك أعداد أخرى من {list}. شكراً لقراءتك.",
    form_expired="بقيت هذه الصفحة مفتوحة وقتاً طويلاً. اضغط الزر مرة أخرى.",
    archive_title="الأعداد السابقة",
    archive_empty="لا أعداد بعد: يظهر هنا أول عدد بعد إرساله.",
    page_of="الصفحة {page} من {pages}",
    newer="أعداد أحدث",
    older="أعداد أقدم",
    stories="عدد الأخبار: {count}",
    atom_feed="موجز Atom للأعداد",
    all_lists="كل النشرات",
    pagination="صفحات الأعداد",
    recipient="كل مشترك",
)

HEBREW = PageWords(
    language="he",
    skip_to_content="דילוג לתוכן",
    unsubscribe_title="הסרה מרשימת התפוצה של",
    unsubscribe_explain="לחצו על הכפתור כדי להפסיק לקבל את {list}. דבר לא ישתנה עד שתלחצו.",
    unsubscribe_button="הסרה מרשימת התפוצה",
    unsubscribed_title="הוסרתם מרשימת התפוצה",
    unsubscribed_body="לא תקבלו עוד גיליונות של {list}. תודה שקראתם.",
    form_expired="הדף היה פתוח זמן רב מדי. לחצו על הכפתור שוב.",
    archive_title="גיליונות קודמים",
    archive_empty="אין עדיין גיליונות: הגיליון הראשון יופיע כאן אחרי שיישלח.",
    page_of="עמוד {page} מתוך {pages}",
    newer="גיליונות חדשים יותר",
    older="גיליונות ישנים יותר",
    stories="כתבות: {count}",
    atom_feed="הזנת Atom של הגיליונות",
    all_lists="כל הניוזלטרים",
    pagination="עמודי הגיליונות",
    recipient="כל מנוי",
)

PERSIAN = PageWords(
    language="fa",
    skip_to_content="رفتن به محتوا",
    unsubscribe_title="لغو اشتراک",
    unsubscribe_explain="برای توقف دریافت {list} دکمه را بزنید. تا آن را نزنید چیزی تغییر نمی‌کند.",
    unsubscribe_button="لغو اشتراک",
    unsubscribed_title="اشتراک شما لغو شد",
    unsubscribed_body="دیگر شماره‌ای از {list} دریافت نمی‌کنید. از همراهی شما سپاسگزاریم.",
    form_expired="این صفحه مدت زیادی باز مانده بود. دوباره دکمه را بزنید.",
    archive_title="شماره‌های پیشین",
    archive_empty="هنوز شماره‌ای نیست: نخستین شماره پس از ارسال اینجا می‌آید.",
    page_of="صفحه {page} از {pages}",
    newer="شماره‌های تازه‌تر",
    older="شماره‌های قدیمی‌تر",
    stories="تعداد خبرها: {count}",
    atom_feed="خوراک Atom شماره‌ها",
    all_lists="همه خبرنامه‌ها",
    pagination="صفحه‌های شماره‌ها",
    recipient="هر مشترک",
)

_BY_LANGUAGE = {"en": ENGLISH, "ar": ARABIC, "he": HEBREW, "iw": HEBREW, "fa": PERSIAN}


def words_for(language: str | None) -> PageWords:
    """The page words for ``language`` (a BCP 47 tag), English when there are none for it."""
    return _BY_LANGUAGE.get(primary_subtag(language), ENGLISH)
