"""Whether a list's subject shows its news where a phone can see it: a warning of config check.

    settings ─► each list's subject template, rendered with the list's name, a date and a marker
             for the headline ─► the characters before the headline ─► a warning when a phone,
             which shows the first 35-40 characters of a subject, would see none of it

Pure: it reads the settings and touches nothing. A template that names no headline (the default,
"{{ list_name }}: {{ date }}") is left alone: it says what it says on purpose.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from digest.config import ListSettings, Settings, entry_key
from digest.wording import format_date, wording_for

# A phone's inbox shows about 35-40 characters of a subject: with at most 20 before it, the
# headline keeps 15-20 of them, enough to tell the story.
PHONE_SUBJECT_CHARS = 20
# No letters, so a filter (upper, title, truncate) leaves it as it is.
_MARKER = "\x00\x01\x00"
# A date as long as the subject's usually is, for the measure.
_UTC = ZoneInfo("UTC")
_SAMPLE_SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=_UTC)


def subject_warnings(settings: Settings) -> list[str]:
    """One warning per list whose subject puts more than ``PHONE_SUBJECT_CHARS`` characters of
    fixed text (the list's name, a date) before its headline."""
    environment = SandboxedEnvironment(autoescape=False)
    warnings: list[str] = []
    for index, digest_list in enumerate(settings.lists):
        before = _text_before_headline(environment, digest_list)
        if before is None or len(before) <= PHONE_SUBJECT_CHARS:
            continue
        key = entry_key("lists", settings.lists, index)
        warnings.append(
            f"{settings.source}: {key}.subject: a phone shows the first 35-40 characters of a "
            f"subject, and this one spends {len(before)} on {before.strip()!r} before the "
            "headline; put {{ lead_title }} first (the sender's name already says who writes), "
            'e.g. "{% if lead_title %}{{ lead_title }} | {% endif %}{{ list_name }}"'
        )
    return warnings


def _text_before_headline(
    environment: SandboxedEnvironment, digest_list: ListSettings
) -> str | None:
    """The subject's text before ``lead_title``, or None when it shows no headline."""
    if "lead_title" not in digest_list.subject:
        return None
    words = wording_for(digest_list.language, digest_list.calendar)
    try:
        rendered = environment.from_string(digest_list.subject).render(
            list_name=digest_list.name,
            date=format_date(_SAMPLE_SLOT, _UTC, words),
            lead_title=_MARKER,
            article_count=12,
        )
    except jinja2.TemplateError:
        return None  # rendering an edition says what is wrong, with the template's key
    position = rendered.find(_MARKER)
    # As an inbox shows it: runs of spaces and line breaks as one space.
    return None if position < 0 else re.sub(r"\s+", " ", rendered[:position].lstrip())
