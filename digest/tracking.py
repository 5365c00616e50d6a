"""Tracking parameters (UTM) for the article links of an edition, set per list.

They are the same for every subscriber and go into the edition when it is rendered, so they cost
nothing per copy. Never per subscriber: the article sites belong to other publishers, and a
per-reader value in their links would tell each of them who clicked. Our own links (unsubscribe,
preferences, view in browser) never carry them.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from digest.config import ListSettings

NONE: dict[str, str] = {}


def utm_parameters(digest_list: ListSettings, slot: datetime) -> dict[str, str]:
    """``utm_source``, ``utm_medium``… for an edition of ``digest_list`` due at ``slot``.

    Values are templates with ``{list}`` (the list's slug) and ``{date}`` (the edition's date,
    YYYY-MM-DD in the list's timezone); a key set to nothing is left out.
    """
    utm = digest_list.utm
    if utm is None:
        return NONE
    date = slot.astimezone(ZoneInfo(digest_list.timezone)).strftime("%Y-%m-%d")
    values = {
        "utm_source": utm.source,
        "utm_medium": utm.medium,
        "utm_campaign": utm.campaign,
        "utm_term": utm.term,
        "utm_content": utm.content,
    }
    return {
        key: value.format(list=digest_list.slug, date=date)
        for key, value in values.items()
        if value
    }


def with_parameters(url: str | None, parameters: dict[str, str]) -> str | None:
    """``url`` with ``parameters`` in its query, replacing any of the same name; the fragment
    stays last."""
    if url is None or not parameters:
        return url
    parts = urlsplit(url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    if any(key in parameters for key, _ in existing):
        kept = urlencode([(key, value) for key, value in existing if key not in parameters])
    else:
        kept = parts.query  # left exactly as the feed wrote it
    query = "&".join(part for part in (kept, urlencode(parameters)) if part)
    return urlunsplit(parts._replace(query=query))
