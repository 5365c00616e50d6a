"""Markers that the renderer leaves in an edition and the mailer fills in for each subscriber.

The edition is rendered and its CSS inlined once (invariant 4); each personal copy is then made by
plain string substitution of these markers. They are plain ASCII that neither Jinja2, premailer
nor quoted-printable encoding alter, and that no feed text can forge: the renderer escapes ``%``
runs in feed text that could spell one (see ``digest.render``).
"""

from __future__ import annotations

GREETING = "%%DIGEST-GREETING%%"  # "Hello Sam," or "Hello," when the subscriber has no name
UNSUBSCRIBE_URL = "%%DIGEST-UNSUBSCRIBE-URL%%"  # the signed one-click unsubscribe link
SUBSCRIBER_EMAIL = "%%DIGEST-EMAIL%%"  # "sent to sam@example.org"

ALL = (GREETING, UNSUBSCRIBE_URL, SUBSCRIBER_EMAIL)
