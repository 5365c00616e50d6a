"""Markers that the renderer leaves in an edition and the mailer fills in for each subscriber.

The edition is rendered and its CSS inlined once (invariant 4); each personal copy is then made by
plain string substitution of these markers. They are plain ASCII that neither Jinja2, premailer
nor quoted-printable encoding alter, and that no feed text can forge: the renderer escapes ``%``
runs in feed text that could spell one (see ``digest.render``).

Besides the fixed markers, a moment shown to the reader (an article's publication time) is left
as ``%%DIGEST-TIME-<unix seconds>%%``, to be written in each subscriber's own timezone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# "Hello Sam," or "Hello," when the subscriber has no name, in the list's language
GREETING = "%%DIGEST-GREETING%%"
UNSUBSCRIBE_URL = "%%DIGEST-UNSUBSCRIBE-URL%%"  # the signed one-click unsubscribe link
PREFERENCES_URL = "%%DIGEST-PREFERENCES-URL%%"  # the signed link to the subscriber's settings
SUBSCRIBER_EMAIL = "%%DIGEST-EMAIL%%"  # "sent to sam@example.org"

ALL = (GREETING, UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_EMAIL)

# Shorter than some of the times it stands for ("25 September 2026, 09:14 UTC+12:45"): the plain
# text is wrapped as if each marker were its longest value (digest.render.text.wrap_block).
_TIME = re.compile(r"%%DIGEST-TIME-(-?\d{1,12})%%")
# Every marker, fixed or a time, in one pattern for the mailer's single pass.
ANY = re.compile("|".join([*(re.escape(marker) for marker in ALL), _TIME.pattern]))


def time_marker(moment: datetime) -> str:
    """The marker that stands for ``moment`` (to the minute) until it is written in a timezone."""
    if moment.tzinfo is None:
        raise ValueError("time_marker needs a timezone-aware datetime")
    return f"%%DIGEST-TIME-{int(moment.timestamp())}%%"


def time_of(marker: str) -> datetime | None:
    """The moment a time marker stands for, or None when ``marker`` is not one."""
    match = _TIME.fullmatch(marker)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def pad_time_markers(text: str, width: int, pad: str) -> str:
    """``text`` with ``pad`` after each time marker until it is ``width`` characters long."""
    return _TIME.sub(lambda match: match.group().ljust(width, pad), text)


def time_markers(text: str) -> set[str]:
    """The distinct time markers in ``text``."""
    return {match.group() for match in _TIME.finditer(text)}
