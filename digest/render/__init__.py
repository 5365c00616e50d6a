"""Render an edition once into the HTML and plain-text parts that every subscriber receives.

    Edition + ListSettings ─► story views (local dates, safe URLs, text direction)
                           ─► Jinja2: email/digest.html.j2 and email/digest.txt.j2
                           ─► premailer inlines the CSS, once per edition (invariant 4)
                           ─► RenderedEdition (subject, preheader, html, text)

Per-subscriber fields are left as the markers of ``digest.placeholders`` for ``digest.mail`` to
fill in by plain string substitution. Feed text can never spell one of those markers: every string
a template prints goes through ``finalize``, which breaks up ``%%`` runs (invariant 6).

    renderer  the Renderer: the template environment, the CSS inliner, the subject and preheader
    bounds    how much of each article the mail shows, tried in turn under Gmail's clip
    stories   an edition's items as the templates show them: headline, summary, byline, links
    pictures  which picture a story shows, and from what address
    views     what the templates see: stories, their links, sections
    text      pure helpers: one line, shortened, neutralized, wrapped, safe URLs, direction
"""

from digest.render.bounds import (
    ALSO_COVERED_OUTLETS,
    FALLBACK_BOUNDS,
    HTML_BUDGET,
    LEAD_SUMMARY_CHARS,
    MORE_ON_STORY_HEADLINES,
    SUMMARY_CHARS,
)
from digest.render.renderer import (
    HTML_TEMPLATE,
    PLACEHOLDERS,
    TEXT_TEMPLATE,
    Renderer,
    bundled_template_folder,
    template_folder,
)
from digest.render.text import (
    Neutralized,
    build_preheader,
    edition_url,
    neutralize_html,
    neutralize_text,
    one_line,
    safe_url,
    shorten,
    text_direction,
    tidy_text,
    wrap_text,
)
from digest.wording import format_datetime  # times in a timezone, as the mail shows them

__all__ = [
    "ALSO_COVERED_OUTLETS",
    "FALLBACK_BOUNDS",
    "HTML_BUDGET",
    "HTML_TEMPLATE",
    "LEAD_SUMMARY_CHARS",
    "MORE_ON_STORY_HEADLINES",
    "PLACEHOLDERS",
    "SUMMARY_CHARS",
    "TEXT_TEMPLATE",
    "Neutralized",
    "Renderer",
    "build_preheader",
    "bundled_template_folder",
    "edition_url",
    "format_datetime",
    "neutralize_html",
    "neutralize_text",
    "one_line",
    "safe_url",
    "shorten",
    "template_folder",
    "text_direction",
    "tidy_text",
    "wrap_text",
]
