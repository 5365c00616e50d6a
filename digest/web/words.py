"""The words the web pages about one list say, in the list's language (English otherwise).

A page about one list (its unsubscribe page, its archive) is written in the list's language when
there are words for it here, and then laid out in that language's direction; other pages, and
lists in other languages, get English words with the list's own text marked with its language.

In the right-to-left words, a run written left to right that holds neutral characters (an example
address, the symbols an address may hold, a timezone's name) stands between LEFT-TO-RIGHT ISOLATE
and POP DIRECTIONAL ISOLATE (U+2066, U+2069): set in the sentence's direction, ". _ + -" showed
as "- + _ ." in Arabic and scrambled in Hebrew. The pages write each as a ``<bdi dir="ltr">``
(``pages.left_to_right_runs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from digest.plurals import Forms
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
    stories: Forms  # how many stories an archived edition holds
    atom_feed: str
    all_lists: str
    pagination: str  # the label of the pagination landmark
    recipient: str  # stands for the address in the footer of an archived edition
    # Sign-up and its confirmation ({list}: the list's name; {days}: how long a link works).
    signup_title: str  # followed by the list's name
    email_label: str
    name_label: str
    signup_button: str
    honeypot_label: str  # the trap field, hidden from people, which bots fill in
    invalid_email: str
    # An address with other letters than ASCII before the @: one, but one the mailer cannot use.
    address_not_ascii: str
    check_inbox_title: str
    check_inbox_body: str
    confirm_title: str  # followed by the list's name
    confirm_explain: str  # {list}: nothing changes until the button is pressed
    confirm_button: str
    confirmed_title: str
    confirmed_body: str  # {list}
    not_confirmed_title: str
    not_confirmed_body: str
    link_expired_title: str
    link_expired_body: str  # {days}
    too_many_title: str
    too_many_body: str  # {minutes}: ``minutes`` counted
    too_many_hours_body: str  # {hours}: a wait of more than an hour and a half, ``hours`` counted
    minutes: Forms
    hours: Forms
    # The preferences page ({list}: the list's name).
    preferences_title: str  # followed by the list's name
    topics_legend: str
    topics_hint: str
    lists_legend: str
    timezone_label: str
    timezone_hint: str  # {zone}: the list's own
    save_button: str
    saved_notice: str
    choose_a_topic: str
    unknown_timezone: str
    preferences_gone_title: str
    preferences_gone_body: str

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
    stories=Forms(one="{count} story", other="{count} stories"),
    atom_feed="Atom feed of the editions",
    all_lists="All newsletters",
    pagination="Pages of editions",
    recipient="each subscriber",
    signup_title="Sign up for",
    email_label="Email address",
    name_label="Name (optional)",
    signup_button="Sign up",
    honeypot_label="Leave this field empty",
    invalid_email="Please enter an email address such as name@example.org.",
    address_not_ascii="This newsletter can only be sent to an address whose part before the @ "
    "is in Latin letters, digits or . _ + -. Please use another address.",
    check_inbox_title="Check your inbox",
    check_inbox_body="If this address can receive {list}, a mail is on its way with a link to "
    "confirm. Nothing is sent to you until you confirm; the link works for {days}.",
    confirm_title="Confirm your subscription to",
    confirm_explain="Press the button to start receiving {list}. Nothing changes until you do.",
    confirm_button="Confirm my subscription",
    confirmed_title="You are subscribed",
    confirmed_body="The next edition of {list} will come to you. Every edition has a link to "
    "unsubscribe.",
    not_confirmed_title="This sign-up cannot be confirmed",
    not_confirmed_body="The address left this list or was removed since the mail was sent. Sign "
    "up again to receive it.",
    link_expired_title="This link has expired",
    link_expired_body="Confirmation links work for {days}. Sign up again for a new one.",
    too_many_title="Too many requests",
    too_many_body="Please try again in {minutes}.",
    too_many_hours_body="Please try again in {hours}.",
    minutes=Forms(one="{count} minute", other="{count} minutes"),
    hours=Forms(one="{count} hour", other="{count} hours"),
    preferences_title="Your preferences for",
    topics_legend="Topics in your edition",
    topics_hint="Untick a topic to leave it out of your next editions.",
    lists_legend="Newsletters you receive",
    timezone_label="Your timezone",
    timezone_hint="An IANA name such as Asia/Dubai; leave it empty for the newsletter's ({zone}).",
    save_button="Save",
    saved_notice="Saved. Your next edition follows these choices.",
    choose_a_topic="Choose at least one topic, or unsubscribe from the newsletter.",
    unknown_timezone="Write a timezone such as Asia/Dubai or Europe/London, or leave it empty.",
    preferences_gone_title="These preferences are gone",
    preferences_gone_body="The address this link was made for is no longer on our lists.",
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
    # By CLDR's categories: "خبر واحد", "خبران", "3 أخبار", "11 خبرًا", "100 خبر".
    stories=Forms(
        zero="لا أخبار",
        one="خبر واحد",
        two="خبران",
        few="{count} أخبار",
        many="{count} خبرًا",
        other="{count} خبر",
    ),
    atom_feed="موجز Atom للأعداد",
    all_lists="كل النشرات",
    pagination="صفحات الأعداد",
    recipient="كل مشترك",
    signup_title="اشترك في",
    email_label="البريد الإلكتروني",
    name_label="الاسم (اختياري)",
    signup_button="اشترك",
    honeypot_label="اترك هذا الحقل فارغاً",
    invalid_email="أدخل عنوان بريد إلكتروني مثل \u2066name@example.org\u2069.",
    address_not_ascii="لا تُرسل هذه النشرة إلا إلى عنوان يُكتب الجزء الذي قبل @ فيه بحروف "
    "لاتينية أو أرقام أو \u2066. _ + -\u2069. يُرجى استخدام عنوان آخر.",
    check_inbox_title="تفقّد بريدك",
    check_inbox_body="إن كان هذا العنوان يستطيع استلام {list} فرسالة في طريقها إليه برابط للتأكيد. "
    "لن يصلك شيء قبل أن تؤكد؛ يعمل الرابط لمدة {days}.",
    confirm_title="أكّد اشتراكك في",
    confirm_explain="اضغط الزر لتبدأ باستلام {list}. لن يتغير شيء قبل أن تضغطه.",
    confirm_button="تأكيد اشتراكي",
    confirmed_title="تم اشتراكك",
    confirmed_body="سيصلك العدد القادم من {list}. في كل عدد رابط لإلغاء الاشتراك.",
    not_confirmed_title="لا يمكن تأكيد هذا الاشتراك",
    not_confirmed_body="غادر هذا العنوان النشرة أو حُذف منذ إرسال الرسالة. اشترك من جديد لتصلك.",
    link_expired_title="انتهت صلاحية هذا الرابط",
    link_expired_body="تعمل روابط التأكيد لمدة {days}. اشترك من جديد لتصلك رسالة جديدة.",
    too_many_title="طلبات كثيرة",
    too_many_body="حاول مرة أخرى بعد {minutes}.",
    too_many_hours_body="حاول مرة أخرى بعد {hours}.",
    minutes=Forms(
        one="دقيقة واحدة",
        two="دقيقتين",
        few="{count} دقائق",
        many="{count} دقيقة",
        other="{count} دقيقة",
    ),
    hours=Forms(
        one="ساعة واحدة",
        two="ساعتين",
        few="{count} ساعات",
        many="{count} ساعة",
        other="{count} ساعة",
    ),
    preferences_title="إعداداتك في",
    topics_legend="موضوعات نشرتك",
    topics_hint="أزل علامة موضوع لتستبعده من أعدادك القادمة.",
    lists_legend="النشرات التي تصلك",
    timezone_label="منطقتك الزمنية",
    timezone_hint="اسم من قاعدة IANA مثل \u2066Asia/Dubai\u2069؛ اتركه فارغاً لمنطقة النشرة "
    "(\u2066{zone}\u2069).",
    save_button="حفظ",
    saved_notice="تم الحفظ. يتبع عددك القادم هذه الاختيارات.",
    choose_a_topic="اختر موضوعاً واحداً على الأقل، أو ألغِ اشتراكك في النشرة.",
    unknown_timezone="اكتب منطقة زمنية مثل \u2066Asia/Dubai\u2069 أو \u2066Europe/London\u2069، "
    "أو اتركها فارغة.",
    preferences_gone_title="لم تعد هذه الإعدادات موجودة",
    preferences_gone_body="العنوان الذي صُنع له هذا الرابط لم يعد في قوائمنا.",
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
    stories=Forms(
        one="כתבה אחת", two="שתי כתבות", other="{count} כתבות", exact=(("0", "אין כתבות"),)
    ),
    atom_feed="הזנת Atom של הגיליונות",
    all_lists="כל הניוזלטרים",
    pagination="עמודי הגיליונות",
    recipient="כל מנוי",
    signup_title="הרשמה אל",
    email_label="כתובת דוא״ל",
    name_label="שם (לא חובה)",
    signup_button="הרשמה",
    honeypot_label="השאירו שדה זה ריק",
    invalid_email="הזינו כתובת דוא״ל כמו \u2066name@example.org\u2069.",
    address_not_ascii="אפשר לשלוח את הידיעון רק לכתובת שהחלק שלפני ה־@ בה כתוב באותיות "
    "לטיניות, בספרות או ב־\u2066. _ + -\u2069. נא להשתמש בכתובת אחרת.",
    check_inbox_title="בדקו את תיבת הדואר",
    check_inbox_body="אם הכתובת יכולה לקבל את {list}, נשלחה אליה הודעה עם קישור לאישור. דבר לא "
    "יישלח אליכם עד שתאשרו; הקישור תקף במשך {days}.",
    confirm_title="אישור ההרשמה אל",
    confirm_explain="לחצו על הכפתור כדי להתחיל לקבל את {list}. דבר לא ישתנה עד שתלחצו.",
    confirm_button="אישור ההרשמה שלי",
    confirmed_title="נרשמתם",
    confirmed_body="הגיליון הבא של {list} יגיע אליכם. בכל גיליון יש קישור להסרה.",
    not_confirmed_title="לא ניתן לאשר את ההרשמה",
    not_confirmed_body="הכתובת עזבה את הרשימה או הוסרה מאז שההודעה נשלחה. הירשמו שוב כדי "
    "לקבל אותה.",
    link_expired_title="תוקף הקישור פג",
    link_expired_body="קישורי אישור תקפים במשך {days}. הירשמו שוב לקבלת קישור חדש.",
    too_many_title="יותר מדי בקשות",
    too_many_body="נסו שוב בעוד {minutes}.",
    too_many_hours_body="נסו שוב בעוד {hours}.",
    minutes=Forms(one="דקה אחת", other="{count} דקות"),
    hours=Forms(one="שעה אחת", two="שעתיים", other="{count} שעות"),
    preferences_title="ההעדפות שלך עבור",
    topics_legend="הנושאים בגיליון שלך",
    topics_hint="הסירו סימון מנושא כדי להשמיט אותו מהגיליונות הבאים.",
    lists_legend="הידיעונים שמגיעים אליך",
    timezone_label="אזור הזמן שלך",
    timezone_hint="שם IANA כמו \u2066Asia/Jerusalem\u2069; השאירו ריק לאזור הזמן של הידיעון "
    "(\u2066{zone}\u2069).",
    save_button="שמירה",
    saved_notice="נשמר. הגיליון הבא שלך יהיה לפי הבחירות האלה.",
    choose_a_topic="בחרו נושא אחד לפחות, או בטלו את המינוי לידיעון.",
    unknown_timezone="כתבו אזור זמן כמו \u2066Asia/Jerusalem\u2069 או "
    "\u2066Europe/London\u2069, או השאירו ריק.",
    preferences_gone_title="ההעדפות האלה אינן עוד",
    preferences_gone_body="הכתובת שעבורה נוצר הקישור כבר אינה ברשימות שלנו.",
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
    stories=Forms(other="{count} خبر"),
    atom_feed="خوراک Atom شماره‌ها",
    all_lists="همه خبرنامه‌ها",
    pagination="صفحه‌های شماره‌ها",
    recipient="هر مشترک",
    signup_title="اشتراک در",
    email_label="نشانی ایمیل",
    name_label="نام (اختیاری)",
    signup_button="اشتراک",
    honeypot_label="این خانه را خالی بگذارید",
    invalid_email="یک نشانی ایمیل مانند \u2066name@example.org\u2069 وارد کنید.",
    address_not_ascii="این خبرنامه را فقط می‌توان به نشانی‌ای فرستاد که بخش پیش از @ آن با "
    "حروف لاتین، رقم یا \u2066. _ + -\u2069 نوشته شده باشد. لطفاً نشانی دیگری به کار ببرید.",
    check_inbox_title="صندوق نامه‌تان را ببینید",
    check_inbox_body="اگر این نشانی بتواند {list} را دریافت کند، نامه‌ای با پیوند تأیید در راه "
    "است. تا تأیید نکنید چیزی برایتان فرستاده نمی‌شود؛ پیوند {days} کار می‌کند.",
    confirm_title="تأیید اشتراک در",
    confirm_explain="برای آغاز دریافت {list} دکمه را بزنید. تا آن را نزنید چیزی تغییر نمی‌کند.",
    confirm_button="تأیید اشتراک من",
    confirmed_title="مشترک شدید",
    confirmed_body="شماره بعدی {list} برای شما می‌آید. هر شماره پیوندی برای لغو اشتراک دارد.",
    not_confirmed_title="این اشتراک را نمی‌توان تأیید کرد",
    not_confirmed_body="این نشانی از زمان ارسال نامه از خبرنامه خارج یا حذف شده است. برای "
    "دریافت آن دوباره مشترک شوید.",
    link_expired_title="این پیوند منقضی شده است",
    link_expired_body="پیوندهای تأیید {days} کار می‌کنند. برای پیوند تازه دوباره مشترک شوید.",
    too_many_title="درخواست‌های بیش از حد",
    too_many_body="لطفاً {minutes} دیگر دوباره امتحان کنید.",
    too_many_hours_body="لطفاً {hours} دیگر دوباره امتحان کنید.",
    minutes=Forms(other="{count} دقیقه"),  # a singular noun after any number
    hours=Forms(other="{count} ساعت"),
    preferences_title="تنظیمات شما برای",
    topics_legend="موضوع‌های شمارهٔ شما",
    topics_hint="علامت یک موضوع را بردارید تا در شماره‌های بعدی نیاید.",
    lists_legend="خبرنامه‌هایی که دریافت می‌کنید",
    timezone_label="منطقهٔ زمانی شما",
    timezone_hint="نامی از IANA مانند \u2066Asia/Tehran\u2069؛ برای منطقهٔ خبرنامه "
    "(\u2066{zone}\u2069) خالی بگذارید.",
    save_button="ذخیره",
    saved_notice="ذخیره شد. شمارهٔ بعدی شما طبق همین انتخاب‌هاست.",
    choose_a_topic="دست‌کم یک موضوع انتخاب کنید، یا اشتراک خبرنامه را لغو کنید.",
    unknown_timezone="منطقهٔ زمانی‌ای مانند \u2066Asia/Tehran\u2069 یا "
    "\u2066Europe/London\u2069 بنویسید، یا خالی بگذارید.",
    preferences_gone_title="این تنظیمات دیگر وجود ندارد",
    preferences_gone_body="نشانی‌ای که این پیوند برایش ساخته شده دیگر در فهرست‌های ما نیست.",
)

# "prs" is Dari, Afghanistan's Persian.
_BY_LANGUAGE = {
    "en": ENGLISH, "ar": ARABIC, "he": HEBREW, "iw": HEBREW, "fa": PERSIAN, "prs": PERSIAN
}  # fmt: skip


def words_for(language: str | None) -> PageWords:
    """The page words for ``language`` (a BCP 47 tag), English when there are none for it."""
    return _BY_LANGUAGE.get(primary_subtag(language), ENGLISH)
