"""What opens a paragraph of wire copy, a dateline or a byline, and the paragraph without it.

What leaves the opening of a paragraph, each a pattern below:
- a place and a known agency in parentheses, with a date or not: "JERUSALEM (Reuters) -",
  "GAZA CITY, Jan 5 (AFP) —", "القدس (رويترز) -", "ירושלים (רויטרס) -";
- a place and a known agency after a dash: "رام الله - وفا:", "غزة - الأناضول -";
- a place in capitals and a dash or a colon: "WASHINGTON —", "BEIRUT, Lebanon —",
  "JERUSALEM:";
- a place and a double hyphen, as wires send it: "Nairobi --";
- a well-known place (``DATELINE_PLACES``) and a colon or a dash: "Dubai:", "Doha —";
- a Persian wire's credit: "به گزارش ایرنا،";
- a byline: "By Jane Doe |", "By Jane Doe, Reuters —", "كتب - أحمد علي:", or a first
  paragraph that is only "By Jane Doe", "Written by Jane Doe" or "بقلم أحمد علي".
A source tag in brackets ("[Capital FM] Nairobi -- ...") stays; the dateline after it goes.
"""

from __future__ import annotations

import re

from digest.person_keys import is_agency

_AGENCY_IN_PARENTHESES = re.compile(
    r"^(?P<place>[^()\n]{0,60}?)\s*\((?P<agency>[^()\n]{1,40})\)\s*[-–—:]+\s*"
)
_AGENCY_AFTER_DASH = re.compile(
    r"^(?P<place>[^\s()\-–—:]+(?:\s+[^\s()\-–—:]+){0,2})\s*[-–—]\s*(?P<agency>[^\n:\-–—()]{1,30}?)"
    r"\s*[:\-–—]\s*"
)
_CAPITALS_DATELINE = re.compile(
    r"^[A-Z][A-Z'’.]{2,}(?:[ -][A-Z][A-Z'’.]+){0,3}"  # JERUSALEM, NEW YORK, TEL AVIV-JAFFA
    r"(?:,\s*[A-Z][\w.]*(?:\s+[\w.]+){0,2})?"  # , Lebanon / , Jan. 5
    r"\s*(?:[-–—]{1,2}|:)\s+"
)
# Places that open Gulf and world wire copy in mixed case ("Dubai: The RTA said...", "Doha —").
# Only these: "Netanyahu: We will win" is a quote, not a dateline.
DATELINE_PLACES = (
    "Abu Dhabi", "Dubai", "Sharjah", "Ajman", "Fujairah", "Ras Al Khaimah", "Al Ain", "Riyadh",
    "Jeddah", "Mecca", "Makkah", "Medina", "Dammam", "Doha", "Manama", "Muscat", "Kuwait City",
    "Kuwait", "Amman", "Beirut", "Damascus", "Aleppo", "Baghdad", "Basra", "Erbil", "Cairo",
    "Alexandria", "Tehran", "Jerusalem", "Gaza", "Gaza City", "Ramallah", "Tel Aviv", "Haifa",
    "Ankara", "Istanbul", "Sanaa", "Aden", "Tripoli", "Tunis", "Algiers", "Rabat", "Khartoum",
    "Washington", "New York", "United Nations", "London", "Paris", "Brussels", "Geneva",
    "Vienna", "Berlin", "Moscow", "Kyiv", "Beijing", "New Delhi", "Islamabad", "Karachi",
    "Kabul", "Tokyo", "Nairobi",
)  # fmt: skip
_PLACE_DATELINE = re.compile(
    r"^(?:" + "|".join(re.escape(place) for place in DATELINE_PLACES) + r")"
    r"(?:,\s*[A-Z][\w.]*(?:\s+[\w.]+){0,2})?\s*(?::|[-–—]{1,2})\s+(?=\S)"
)
# Persian wire copy opens with its credit: "به گزارش ایرنا، ..." ("as IRNA reports, ...").
_PERSIAN_CREDIT = re.compile(r"^به گزارش\s+(?P<agency>[^،,\n]{2,40}?)\s*[،,]\s*")
_DOUBLE_HYPHEN_DATELINE = re.compile(r"^[A-Z][\w'’.]+(?:\s+[A-Z][\w'’.]+){0,2}\s+--\s+")
# A date as publishing systems write it: "17 November 2026", "Nov. 17, 2026", "17th Nov 2026",
# "17.11.2026", "2026-11-17"; with a weekday before it or not.
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"[0-3]?[0-9](?:st|nd|rd|th)?"
DATE = (
    r"(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?\s+)?"
    rf"(?:{_DAY}\s+{_MONTH},?\s+[0-9]{{4}}|{_MONTH}\s+{_DAY},?\s+[0-9]{{4}}"
    r"|[0-9]{1,4}[./-][0-9]{1,2}[./-][0-9]{1,4})"
)
# A time after the date, its zone's name or offset after it or not: ", 09:14", " - 9:14 am GST".
CLOCK = (
    r"(?:,?\s*(?:at\s+|-\s+)?[0-9]{1,2}[:.][0-9]{2}(?:\s*[ap]\.?m\.?)?"
    r"(?:\s*[A-Z]{2,5}(?:[+-][0-9]{1,2})?)?)?"
)
# A date as a dateline, after a place or not and before a known agency or not: "17 November
# 2026 - ", "Riyadh, Nov 30, 2025, SPA -- " (the Saudi Press Agency's form).
_DATE_DATELINE = re.compile(
    rf"^(?:[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){{0,2}},\s*)?{DATE}"
    r"(?:,\s*(?P<agency>[^,\n\-–—()]{1,30}?))?\s*(?:--|[-–—:])\s+(?=\S)"
)
# "By" and names, each capitalised ("By the end of the year, ..." is no byline).
_BY_NAMES = (
    r"(?:(?:Written|Words|Story|Text)\s+by|By)\s+[A-Z][\w'’.-]*"
    r"(?:,?\s+(?:and\s+)?[A-Z][\w'’.-]*){0,6}"
)
# The same in Arabic and Hebrew: "بقلم أحمد علي", "كتب - أحمد علي:", "كتبت: سارة خليل", "מאת דני
# כהן". "كتب" ("wrote") opens a sentence as often ("كتب الوزير على تويتر: ..."): only with a
# colon or a dash right after it is it a byline.
_RTL_BY_NAMES = (
    r"(?:بقلم\s*[:\-–—]?|(?:كتب|كتبت|إعداد|اعداد)\s*[:\-–—]|מאת\s*:?)\s*"
    r"[^\s:\-–—،,.()\[\]]+(?:\s+[^\s:\-–—،,.()\[\]]+){1,3}"
)
_BYLINE_OPENING = re.compile(rf"^(?:{_BY_NAMES}|{_RTL_BY_NAMES})\s*(?:\||—|–|--?|:)\s+")
_BYLINE_ALONE = re.compile(rf"^(?:{_BY_NAMES}|{_RTL_BY_NAMES})$")
# An aggregator's source tag opening a paragraph ("[Capital FM] Nairobi -- ..."): it stays.
SOURCE_TAG = re.compile(r"^\[[^\[\]\n]{1,60}\]\s*")


def without_dateline(paragraph: str) -> str:
    """``paragraph`` without the wire dateline or byline it opens with (see the module
    docstring); unchanged when it opens with neither, or when nothing would be left."""
    tag = SOURCE_TAG.match(paragraph)
    prefix = tag.group() if tag else ""
    text = paragraph[len(prefix) :]
    for _ in range(3):  # "By Jane Doe | JERUSALEM (Reuters) - ..." holds two
        cut = opening(text)
        if cut == 0:
            break
        text = text[cut:]
    text = text.strip()
    if not text or len(prefix) + len(text) == len(paragraph):
        return paragraph  # nothing cut, or nothing left
    return prefix + text[:1].upper() + text[1:]


def opening(text: str) -> int:
    """How many characters of ``text`` are a dateline or a byline (0: none)."""
    match = _AGENCY_IN_PARENTHESES.match(text)
    if match and _known_agencies(match["agency"]) and _is_place(match["place"]):
        return match.end()
    if (match := _AGENCY_AFTER_DASH.match(text)) and _known_agencies(match["agency"]):
        return match.end()
    match = _PERSIAN_CREDIT.match(text)
    if match and _known_agencies(match["agency"].removeprefix("خبرگزاری").strip()):
        return match.end()
    for pattern in (_CAPITALS_DATELINE, _PLACE_DATELINE, _DOUBLE_HYPHEN_DATELINE, _BYLINE_OPENING):
        if match := pattern.match(text):
            return match.end()
    match = _DATE_DATELINE.match(text)
    if match and (match["agency"] is None or _known_agencies(match["agency"])):
        return match.end()
    return 0


def _is_place(text: str) -> bool:
    """Whether ``text`` reads as a dateline's place and date ("GAZA CITY, Jan 5", "القدس"):
    at most six words, each Latin one capitalised or a number ("Israel said on Monday" is
    a sentence)."""
    words = [word for word in text.replace(",", " ").split() if any(c.isalnum() for c in word)]
    return len(words) <= 6 and all(
        not word[:1].isascii() or word[:1].isupper() or word[:1].isdigit() for word in words
    )


def _known_agencies(text: str) -> bool:
    """Whether ``text`` names agencies only ("Reuters", "AFP/AP", "أ ف ب")."""
    names = [name.strip() for name in re.split(r"[/,&]|\band\b", text) if name.strip()]
    return bool(names) and all(is_agency(name) for name in names)


def without_byline_paragraph(paragraphs: list[str]) -> list[str]:
    """``paragraphs`` without a first one that is only a byline ("By Jane Doe, Reuters")."""
    if len(paragraphs) > 1 and _BYLINE_ALONE.match(paragraphs[0]):
        return paragraphs[1:]
    return paragraphs
