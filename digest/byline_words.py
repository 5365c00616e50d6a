"""The words bylines are read by: agencies, wire services, desks and titles, in each language."""

from __future__ import annotations

# Wire agencies, broadcasters and generic newsroom credits seen as whole bylines. Compared
# case-insensitively, ignoring dots and a leading "The" ("A.P." is "AP").
AGENCY_BYLINES = frozenset(
    {
        # International wires and their usual spellings
        "Reuters", "Thomson Reuters", "AFP", "Agence France-Presse", "Agence France Presse",
        "AP", "Associated Press", "The Associated Press", "Bloomberg", "Bloomberg News",
        "dpa", "EFE", "ANSA", "Kyodo", "Kyodo News", "Yonhap", "Xinhua", "Xinhua News Agency",
        "TASS", "RIA Novosti", "Sputnik", "Interfax", "UPI", "United Press International",
        "PA", "PA Media", "Press Association", "AAP", "Canadian Press", "CP", "PTI", "IANS",
        "ANI", "UNI", "Bernama", "Antara", "CNA", "NHK", "CGTN", "BBC", "BBC News", "CNN",
        "Al Jazeera", "Al Jazeera English", "Deutsche Welle", "DW", "France 24", "RFI",
        "Euronews", "PR Newswire", "Business Wire", "GlobeNewswire",
        # Middle East agencies and outlets
        "Anadolu", "Anadolu Agency", "Anadolu Ajansı", "AA", "DHA", "IHA", "İHA", "WAFA",
        "IRNA", "ISNA", "Tasnim", "Tasnim News Agency", "Fars", "Fars News Agency", "Mehr",
        "Mehr News Agency", "IRIB", "Press TV", "WAM", "Emirates News Agency", "SPA",
        "Saudi Press Agency", "KUNA", "QNA", "BNA", "ONA", "MENA", "SANA", "NNA", "Petra",
        "Saba", "Ma'an", "Maan", "Shafaq News", "Rudaw", "Kurdistan24", "i24NEWS", "TPS",
        "JNS", "Ynet", "Walla", "Kan", "Al Arabiya", "Asharq Al-Awsat", "The National",
        "Gulf News", "Khaleej Times", "Arab News", "Middle East Eye", "Middle East Monitor",
        "MEMO", "Times of Israel", "Jerusalem Post", "Haaretz", "Tehran Times",
        # Outlets a syndicated or aggregated byline names after its writer ("Jane Doe, The
        # Guardian"); the ones that start with "The" are no person in any case (bylines._is_person)
        "Washington Post", "Guardian", "Economist", "Independent", "Telegraph", "Atlantic",
        "New Yorker", "Conversation", "Foreign Policy", "Foreign Affairs", "Politico",
        "Politico Europe", "Le Monde", "Le Figaro", "Der Spiegel", "El País", "El Pais",
        "Corriere della Sera", "Rest of World", "Kyiv Independent", "ProPublica", "Al-Monitor",
        "Al Monitor", "Sky News", "ABC News", "CBS News", "NBC News", "Fox News", "Semafor",
        "Deutsche Presse-Agentur", "South China Morning Post", "Straits Times", "Daily Star",
        "L'Orient-Le Jour", "L'Orient Today", "Hürriyet", "Daily Sabah",
        # Arabic
        "رويترز", "فرانس برس", "فرانس بريس", "أ ف ب", "ا ف ب", "أسوشيتد برس", "الأناضول",
        "وكالات", "وفا", "إرنا", "ارنا", "شينخوا", "سبوتنيك", "بي بي سي", "الجزيرة", "الجزيرة نت",
        "العربية", "وام", "واس", "كونا", "قنا", "بنا", "سانا", "بترا", "سبأ",
        # Hebrew
        "רויטרס", "סוכנות הידיעות", "AP וסוכנויות", "ynet", "וואלה", "כאן חדשות", "מעריב",
        "הארץ", "ישראל היום", "גלובס",
        # Persian
        "ایرنا", "ایسنا", "تسنیم", "فارس", "مهر", "ایلنا", "رویترز", "خبرآنلاین", "همشهری",
        "بی‌بی‌سی", "بی بی سی",
    }
)  # fmt: skip

# Wires and broadcasters whose name opens those of their services ("AP Photo", "BBC Arabic",
# "Reuters Breakingviews"): no given name is spelt so. Agencies that are also given names
# (Petra, Saba, Wafa, Efe, Ansa, Irna) are not among them.
WIRE_SERVICES = frozenset(
    {"reuters", "ap", "afp", "bloomberg", "cnn", "bbc", "xinhua", "anadolu", "dpa", "kyodo",
     "yonhap", "tass", "interfax", "upi", "cnbc", "nbc", "cbs", "abc", "pti", "rfi", "dw"}
)  # fmt: skip

# A part holding one of these words is a desk, a role or an institution, not a person.
DESK_WORDS = frozenset(
    {
        # English
        "staff", "desk", "desks", "team", "editor", "editors", "editorial", "newsroom",
        "bureau", "agencies", "agency", "wire", "wires", "wireservices", "service", "services",
        "correspondent", "correspondents", "reporter", "reporters", "writer", "writers",
        "contributor", "contributors", "admin", "administrator", "webmaster", "press", "news",
        "media", "report", "online", "digital", "web", "monitor", "newswire", "syndicated",
        "sponsored", "partner", "content", "guest", "author", "authors", "times", "tribune",
        "gazette", "herald", "journal", "magazine", "network", "channel", "tv", "radio",
        "daily", "weekly", "board", "ministry", "office", "institute", "foundation",
        "observer", "special", "fellow", "director", "analyst", "columnist", "columnists",
        "contributing", "senior", "chief", "associate", "deputy", "managing", "executive",
        "producer", "producers", "photographer", "opinion", "newsletter", "podcast", "images",
        "photos", "pictures",
        # French, Spanish, German, Turkish
        "rédaction", "redaction", "redacción", "redaccion", "agencias", "agences", "agence",
        "redaktion", "haber", "haberleri", "merkezi", "ajansı", "ajansi", "servisi",
        "muhabiri", "editör",
        # Arabic
        "وكالات", "وكالة", "الأنباء", "فريق", "تحرير", "التحرير", "المحرر", "محرر", "مراسل",
        "مراسلنا", "مراسلة", "قسم", "الأخبار", "أخبار", "اخبار", "موقع", "بوابة", "خاص",
        "الموقع", "الإلكتروني", "نت", "صحفي", "صحفية", "صحافي", "صحافية",
        # Hebrew
        "מערכת", "חדשות", "סוכנויות", "הידיעות", "כתב", "כתבנו", "כתבת", "דסק", "צוות", "הכתב",
        "הכתבת", "עורך", "עורכת", "העורך", "העורכת", "פרשן", "פרשנית", "הפרשן", "הפרשנית",
        "פרשננו", "צלם", "צלמת", "הצלם", "הצלמת",
        # Persian
        "خبرگزاری", "گروه", "سرویس", "تحریریه", "خبرنگار", "خبرنگاران", "پایگاه",
    }
)  # fmt: skip


# Titles written before a name, as person_key compares them (digest.person_keys).
TITLE_WORDS = (
    "dr", "dr.", "doctor", "prof", "prof.", "professor", "mr", "mr.", "mrs", "mrs.", "ms",
    "ms.", "mx", "mx.", "miss", "sir", "dame", "rev", "rev.", "reverend", "sheikh", "shaikh",
    "sheikha", "rabbi", "imam", "eng.",
    "د", "د.", "دكتور", "الدكتور", "الدكتورة", "الشيخ", "الشيخة", "الأستاذ", "الأستاذة", "أ.",
    "المهندس", "المهندسة", "م.", "دکتر", "مهندس", "استاد",
    'ד"ר', "ד״ר", "דר'", "פרופ'", "פרופ׳", "פרופסור", "הרב", "עו\"ד", "עו״ד",
)  # fmt: skip
# Names that start with the letter of an "and" written onto a name (و, ו): no conjunction there
# ("أحمد علي، وليد حسن" is Walid Hassan, not "and Lid Hassan"). Given names and family names,
# Arabic, Persian, Hebrew.
NAMES_OPENING_LIKE_AND = frozenset(
    {
        "وليد", "وائل", "وسام", "وسيم", "وسيمة", "وفاء", "وعد", "وداد", "وضاح", "وحيد", "وحيدة",
        "وديع", "وديعة", "وجدي", "وجدان", "ولاء", "وهيب", "وهيبة", "وهبة", "وهبي", "وصفي",
        "وصفية", "وجيه", "وجيهة", "ورد", "وردة", "وصال", "وفيق", "وفيقة", "وهاب", "والي", "ودود",
        "وهدان", "ونيس", "وافي", "وزير", "وطفة", "وديان", "وئام", "ولید", "وحید",
        "وحیده", "ولی", "وفا", "ویدا", "ورا",
        "ורד", "ורדה", "ורה", "ויקטור", "ולדימיר", "ולרי", "ויטלי", "ואדים", "ויולט", "ויויאן",
        "ויליאם", "וקנין", "וייס", "ויס", "וינברג", "ויצמן", "וולף", "וולך", "וינר", "ויסמן",
        "וקסלר", "וילנר", "ויזל", "ויינשטיין", "וולפסון", "ורון",
    }
)  # fmt: skip
