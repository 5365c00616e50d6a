"""Tests for digest.ingest.summaries: paragraphs kept apart, wire datelines and bylines off."""

from __future__ import annotations

import pytest

from digest.ingest.datelines import without_dateline
from digest.ingest.summaries import (
    clean_paragraphs,
    paragraphs_of,
    plain_text_paragraphs,
)

DATELINES = [
    ("JERUSALEM (Reuters) - Israel said on Monday", "Israel said on Monday"),
    ("JERUSALEM (Reuters) – Israel said", "Israel said"),
    ("GAZA CITY, Jan 5 (AFP) — Strikes hit the north", "Strikes hit the north"),
    ("WASHINGTON, Jan. 5 (Xinhua) -- The Senate", "The Senate"),
    ("LONDON, Feb 17 (Reuters/AFP) - Oil rose", "Oil rose"),
    ("BEIRUT (AP) — Rescuers dug", "Rescuers dug"),
    ("(AFP) - Strikes resumed", "Strikes resumed"),
    ("Amman (Petra) -- Jordan said", "Jordan said"),
    ("WASHINGTON — The Senate voted", "The Senate voted"),
    ("NEW YORK — Markets fell", "Markets fell"),
    ("BEIRUT, Lebanon — Rescuers dug", "Rescuers dug"),
    ("JERUSALEM: Israeli officials said", "Israeli officials said"),
    ("Nairobi -- Pilots have warned", "Pilots have warned"),
    ("Addis Abeba -- The front warned", "The front warned"),
    ("[Capital FM] Nairobi -- Aviation workers", "[Capital FM] Aviation workers"),
    ("By Jane Doe | Talks resumed", "Talks resumed"),
    ("By Jane Doe, Reuters — Talks resumed", "Talks resumed"),
    ("By JANE DOE | JERUSALEM (Reuters) - Israel said", "Israel said"),
    ("القدس (رويترز) - قالت إسرائيل", "قالت إسرائيل"),
    ("غزة (أ ف ب) - قصفت", "قصفت"),
    ("رام الله - وفا: قال الرئيس", "قال الرئيس"),
    ("غزة - الأناضول - قال", "قال"),
    ("ירושלים (רויטרס) - ישראל הודיעה", "ישראל הודיעה"),
    ("تهران (ایرنا) - وزیر", "وزیر"),
    ("به گزارش ایرنا، وزیر امور خارجه گفت", "وزیر امور خارجه گفت"),
    ("به گزارش خبرگزاری تسنیم، رئیس مجلس", "رئیس مجلس"),
    ("غزة - وكالات: قصفت", "قصفت"),
    ("القدس - (وكالات) - قال", "قال"),
    ("دبي - وام: أعلنت", "أعلنت"),
    ("ANKARA (AA) - Dışişleri Bakanlığı", "Dışişleri Bakanlığı"),
    ("İSTANBUL (DHA) – Vali açıkladı", "Vali açıkladı"),
    ("Dubai: The Roads and Transport Authority said", "The Roads and Transport Authority said"),
    ("Abu Dhabi — Etihad Rail opened", "Etihad Rail opened"),
    ("Kuwait City, Jan 5 – The cabinet approved", "The cabinet approved"),
    # Arabic and Hebrew bylines, and a "Written by": they opened the summary
    ("كتب - أحمد علي: قالت الحكومة", "قالت الحكومة"),
    ("كتبت: سارة خليل - أعلنت الوزارة", "أعلنت الوزارة"),
    ("بقلم أحمد علي: قالت الحكومة", "قالت الحكومة"),
    ("מאת דני כהן: ישראל הודיעה", "ישראל הודיעה"),
    ("Written by Jane Doe — Talks resumed", "Talks resumed"),
]

NOT_DATELINES = [
    "By the end of the year, officials said: talks would go on",
    "Israel said on Monday (Reuters) - that talks would go on",
    "The talks (AP) — went on",
    "US — China talks resume",
    "Iran — the country at a crossroads",
    "NATO allies met in Brussels",
    "Talks resumed in Geneva on Monday.",
    "Smith (born 1950) - a diplomat",
    "JERUSALEM (Reuters) -",  # nothing after it: left as it is
    "Netanyahu: We will win this war",  # a quote, not a dateline
    "Analysis: the war's second year",
    "Dubai-based airline Emirates said",
    "به گزارش یک شاهد، مردم",  # "as a witness reports": no agency
    "كتب الوزير على تويتر: المحادثات مستمرة",  # "the minister wrote on Twitter: ..."
    "كتبت الصحيفة أن المحادثات مستمرة",  # "the newspaper wrote that ..."
]


@pytest.mark.parametrize(("written", "cleaned"), DATELINES)
def test_a_wire_dateline_or_byline_leaves_the_opening(written: str, cleaned: str) -> None:
    assert without_dateline(written) == cleaned


@pytest.mark.parametrize("written", NOT_DATELINES)
def test_an_opening_that_is_no_dateline_stays(written: str) -> None:
    assert without_dateline(written) == written


def test_paragraphs_of_a_sanitized_summary() -> None:
    html = "<p>Strikes despite truce</p><p>JERUSALEM: Israeli &amp; Egyptian officials</p>"
    html += "<ul><li>one</li><li>two</li></ul><p>a<br>b</p><p> </p>"
    assert paragraphs_of(html) == [
        "Strikes despite truce",
        "JERUSALEM: Israeli & Egyptian officials",
        "one",
        "two",
        "a",
        "b",
    ]


def test_a_paragraphs_links_and_emphasis_add_no_space_before_what_follows_them() -> None:
    # Each inline tag was read as a space: "Talks in Cairo , officials said ... Hamas ."
    html = (
        '<p>Talks in <b>Cairo</b>, officials said, were held with <a href="https://x.example/">'
        "Hamas</a>. The <em>Gulf</em>'s ports <strong>grew</strong> (<i>sharply</i>).</p>"
    )
    assert paragraphs_of(html) == [
        "Talks in Cairo, officials said, were held with Hamas. The Gulf's ports grew (sharply)."
    ]
    assert paragraphs_of("<p><a href='https://x.example/'>Read</a> <b>this</b></p>") == [
        "Read this"
    ]


def test_a_byline_paragraph_and_each_paragraphs_dateline_go() -> None:
    assert clean_paragraphs(
        ["By Jane Doe and John Roe", "Strikes despite truce", "JERUSALEM (Reuters) - Israel said"]
    ) == ["Strikes despite truce", "Israel said"]
    assert clean_paragraphs(["By the numbers"]) == ["By the numbers"]  # nothing else to show


@pytest.mark.parametrize(
    "byline",
    ["بقلم أحمد علي", "كتب - أحمد علي", "كتبت: سارة خليل", "מאת דני כהן", "Written by Jane Doe"],
)
def test_a_byline_paragraph_in_any_script_goes(byline: str) -> None:
    # Left, it opened the summary as if it were the story's first line.
    assert clean_paragraphs([byline, "Strikes despite truce."]) == ["Strikes despite truce."]
    assert clean_paragraphs(["كتب الوزير رسالة", "نص"]) == ["كتب الوزير رسالة", "نص"]


def test_plain_text_keeps_its_paragraphs_and_joins_wrapped_lines() -> None:
    text = (
        "Strikes despite truce\nJERUSALEM: Israeli officials said\nthe talks would go on.\n"
        "A second sentence.\n\n  Another paragraph  \nwrapped here."
    )
    assert plain_text_paragraphs(text) == [
        "Strikes despite truce",
        "JERUSALEM: Israeli officials said the talks would go on.",
        "A second sentence.",
        "Another paragraph wrapped here.",
    ]


@pytest.mark.parametrize(
    "credit",
    ["Photo: AFP", "(Photo by Jane Doe/Reuters)", "File photo: AP", "Image credit: Getty Images",
     "صورة: رويترز", "צילום: רויטרס", "عکس: ایرنا"],
)  # fmt: skip
def test_a_paragraph_that_only_credits_a_picture_goes(credit: str) -> None:
    assert clean_paragraphs([credit, "Talks resumed in Doha."]) == ["Talks resumed in Doha."]
    assert clean_paragraphs([credit]) == []


@pytest.mark.parametrize(
    "paragraph",
    ["Credit: Moody's cuts Oman's outlook", "Talks resumed. Photo: AFP",
     "Photos: how the flood reached the old town of Jeddah and the port over three days"],
)  # fmt: skip
def test_a_paragraph_that_says_more_than_a_credit_stays(paragraph: str) -> None:
    assert clean_paragraphs([paragraph]) == [paragraph]


@pytest.mark.parametrize(
    "credit",
    ["(Reporting by Jane Doe; Editing by John Roe)",
     "(Reporting by Jane Doe in Dubai; additional reporting by Omar Ali in Riyadh; Writing by "
     "Sara Lee; Editing by John Roe)",
     "Reporting by Jane Doe; Editing by John Roe",
     "(Writing by Sara Lee; editing by John Roe and Tom Hogue)",
     "(Compiled by Jane Doe)"],
)  # fmt: skip
def test_a_wire_services_credit_line_goes(credit: str) -> None:
    # Reuters ends its copy with who reported and who edited: shown, the summary's last words
    # were the newsroom's, "(Reporting by ...; Editing by ...)".
    assert clean_paragraphs(["Talks resumed in Doha.", credit]) == ["Talks resumed in Doha."]
    assert clean_paragraphs([f"Talks resumed in Doha. {credit}"]) == ["Talks resumed in Doha."]
    assert clean_paragraphs([credit]) == []


def test_the_closing_lines_go_in_any_order_and_number() -> None:
    # Each filter reads the last paragraph only: run once, a promotion after a credit line hid
    # the credit, and a second promotion stayed once the first went.
    credited = "Officials said more. (Reporting by Jane Doe; Editing by John Roe)"
    assert clean_paragraphs(
        ["Talks resumed in Doha.", credited, "Sign up for our newsletter."]
    ) == [
        "Talks resumed in Doha.",
        "Officials said more.",
    ]
    assert clean_paragraphs(
        ["Talks resumed in Doha.", "Sign up for our newsletter.", "Follow us on Twitter."]
    ) == ["Talks resumed in Doha."]


@pytest.mark.parametrize(
    "paragraph",
    ["Reporting by local outlets said the port was closed.",
     "Editing by hand is slow (reporting by phone is slower)."],
)  # fmt: skip
def test_a_sentence_that_opens_like_a_credit_stays(paragraph: str) -> None:
    assert clean_paragraphs([paragraph]) == [paragraph]


@pytest.mark.parametrize(
    "promotion",
    ["This article was originally published on The Conversation. Read the original article.",
     "This story originally appeared on Gulf Wire.",
     "This article first appeared in Al-Manara's weekly edition.",
     "Sign up for our newsletter to get the latest news every morning.",
     "Subscribe to Gulf Wire's daily briefing here.",
     "Follow us on Twitter @gulfwire and on Facebook.",
     "Download our app for the latest news.",
     "This is a photo gallery curated by AP photo editors."],
)  # fmt: skip
def test_a_publishers_promotion_closing_the_summary_goes(promotion: str) -> None:
    # Shown, the story's last words asked the reader to sign up, or said where it came from.
    assert clean_paragraphs(["Talks resumed in Doha.", promotion]) == ["Talks resumed in Doha."]


@pytest.mark.parametrize(
    "paragraphs",
    [["Sign up for the draft opened on Monday, the ministry said."],
     ["Talks resumed in Doha.", "Subscribers to the plan said the talks went well."],
     ["Follow us on Twitter, the minister told reporters, and you will see the plan."],
     ["Talks resumed in Doha.", "This is a gallery of her work, the curator said."]],
)  # fmt: skip
def test_words_of_promotion_in_the_story_stay(paragraphs: list[str]) -> None:
    assert clean_paragraphs(paragraphs) == paragraphs


@pytest.mark.parametrize(
    "heading",
    ["Related", "Related:", "Related stories", "Related Articles", "See also", "Read also:",
     "Also read", "You may also like", "More on this story", "Recommended", "اقرأ أيضا",
     "اقرأ أيضاً:", "קראו עוד", "بیشتر بخوانید"],
)  # fmt: skip
def test_a_related_links_heading_ends_the_summary_with_its_links(heading: str) -> None:
    # Shown, the list of other stories' headlines ran on from the summary: "Related Bahrain
    # hosts F1 Bahrain budget."
    paragraphs = ["Leaders met in Manama.", heading, "Bahrain hosts F1", "Bahrain budget"]
    assert clean_paragraphs(paragraphs) == ["Leaders met in Manama."]


def test_a_paragraph_that_opens_with_related_words_stays() -> None:
    paragraphs = ["Leaders met in Manama.", "Related talks in Doha ended without a deal."]
    assert clean_paragraphs(paragraphs) == paragraphs


@pytest.mark.parametrize(
    "stamp",
    ["Updated: 17 November 2026 09:14 GST", "Posted on November 17, 2026 by admin",
     "Last updated on 17 Nov 2026", "Published 17.11.2026, 09:14", "November 17, 2026",
     "Tuesday, November 17, 2026 - 9:14 am", "Reading time: 3 minutes", "3 min read",
     "Estimated reading time: 4 minutes"],
)  # fmt: skip
def test_a_paragraph_that_only_dates_the_story_or_times_its_reading_goes(stamp: str) -> None:
    # Shown, the summary opened with a date in no timezone beside the byline's own time, or
    # with how long the page takes to read.
    assert clean_paragraphs([stamp, "Iran closed the strait."]) == ["Iran closed the strait."]
    assert clean_paragraphs(["Iran closed the strait.", stamp]) == ["Iran closed the strait."]


@pytest.mark.parametrize(
    "opening",
    ["17 November 2026 - ", "Nov 17, 2026 -- ", "Riyadh, November 17, 2026, SPA -- ",
     "Riyadh, Nov 30, 2025, SPA -- ", "Abu Dhabi, 17th November, 2026 (WAM) -- "],
)  # fmt: skip
def test_a_dateline_of_a_date_leaves_the_opening(opening: str) -> None:
    assert clean_paragraphs([f"{opening}Iran closed the strait."]) == ["Iran closed the strait."]


@pytest.mark.parametrize(
    "paragraph",
    ["November 17, 2026 was the day the strait closed.", "Riyadh, Nov 30, 2025, Reuters said - no",
     "3 min read of the report convinced him."],
)  # fmt: skip
def test_a_sentence_that_opens_with_a_date_stays(paragraph: str) -> None:
    assert clean_paragraphs([paragraph]) == [paragraph]


@pytest.mark.parametrize(
    "furniture",
    ["Advertisement", "ADVERTISEMENT", "Sponsored", "Loading...", "Listen to this article",
     "Listen now", "Read in app", "Leave a comment", "Share", "Click to share on Twitter",
     "Subscribe now", "Getty Images", "AFP via Getty Images", "Watch the video"],
)  # fmt: skip
def test_a_paragraph_of_the_pages_furniture_goes(furniture: str) -> None:
    # A page's labels and buttons, kept by content feeds: shown, "Advertisement" or "Share"
    # stood between two paragraphs of the story.
    paragraphs = ["Iran closed the strait.", furniture, "Ships were diverted."]
    assert clean_paragraphs(paragraphs) == ["Iran closed the strait.", "Ships were diverted."]


def test_a_sharing_block_ends_the_summary_with_its_buttons() -> None:
    # WordPress's Jetpack: "Share this:", its networks, "Like this:", "Like Loading..."
    paragraphs = ["Iran closed the strait.", "Share this:", "Twitter", "Facebook", "Like this:",
                  "Like Loading..."]  # fmt: skip
    assert clean_paragraphs(paragraphs) == ["Iran closed the strait."]


@pytest.mark.parametrize(
    "paragraph", ["Advertisement revenue fell.", "Share prices rose in Riyadh.", "Loading began."]
)
def test_a_sentence_that_opens_with_a_furniture_word_stays(paragraph: str) -> None:
    assert clean_paragraphs(["Iran closed the strait.", paragraph]) == [
        "Iran closed the strait.",
        paragraph,
    ]


@pytest.mark.parametrize(
    "credit",
    ["(AFP Photo)", "(Photo: AFP)", "(Photo by Jane Doe/Reuters)", "(AP Photo/Jane Doe)",
     "REUTERS/Jane Doe", "AFP/Getty Images", "(File photo: Reuters)"],
)  # fmt: skip
def test_a_pictures_credit_closing_a_paragraph_goes(credit: str) -> None:
    # The picture is gone: shown, the summary ended "... the budget. (AFP Photo)".
    assert clean_paragraphs([f"Kuwait approved the budget. {credit}"]) == [
        "Kuwait approved the budget."
    ]


@pytest.mark.parametrize(
    "paragraph",
    ["Kuwait approved the budget, the minister said (AFP).",
     "Kuwait approved the budget. Photos show the vote.",
     "The vote was 30-20. AFP/Getty chose the picture"],
)  # fmt: skip
def test_a_paragraph_ending_in_other_words_keeps_them(paragraph: str) -> None:
    assert clean_paragraphs([paragraph]) == [paragraph]


# Quotation marks and dashes set as an editor would: two apostrophes typed for a quotation mark
# (Hebrew's gershayim too) print as one; a pair of dashes spaced on one side only, on both.
TYPESET = [
    ("The theme, ''Pulses of the world,'' could not be more timely.",
     'The theme, "Pulses of the world," could not be more timely.'),
    ("He said ''no''.", 'He said "no".'),
    ("דובר צה''ל אמר כי", 'דובר צה"ל אמר כי'),
    ("Its Gala —the country’s biggest television event— featured robots.",
     "Its Gala — the country’s biggest television event — featured robots."),
    ("A test –a hard one– passed.", "A test – a hard one – passed."),
]  # fmt: skip
SET_ALREADY = [
    "The boys' game.", "Rock 'n' roll.", "It's 5' 10\".",
    "Its Gala—the country’s biggest event—featured robots.",
    "Its Gala — the country’s biggest event — featured robots.",
    "Scores 3–1 and 2–0 — a win.",
]  # fmt: skip


@pytest.mark.parametrize(("written", "cleaned"), TYPESET)
def test_quotation_marks_and_dashes_are_set_as_an_editor_would(written: str, cleaned: str) -> None:
    assert clean_paragraphs([written]) == [cleaned]


@pytest.mark.parametrize("paragraph", SET_ALREADY)
def test_single_apostrophes_and_dashes_set_alike_on_both_sides_stay(paragraph: str) -> None:
    assert clean_paragraphs([paragraph]) == [paragraph]
