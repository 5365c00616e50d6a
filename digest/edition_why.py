"""Why an edition is laid out as it is, in words: what ``digest preview LIST --why`` prints.

    Edition.why (digest.reasons, from compose) ─► lines: the lead, each section, each item,
                                                  "More from", "Recommended", what was left out

The numbers are compose's own; this module only words them. An edition without reasons (one
loaded from the store) prints its layout and says that its reasons were not kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from digest.reasons import EditionWhy, ItemWhy, LeadWhy, LeftOut, RankTerms, SectionWhy
from digest.records import Article, Edition, EditionItem

_PLACEMENTS = {
    "lead": "the lead",
    "topic-best": "the best of its topic, placed first so that every topic is seen",
    "rank": "in rank order, within the section's share",
    "past-share": "in rank order, past the section's share: the other sections had run dry",
    "recommended": "the best of what did not fit the sections",
    "more-from": "by the same person as the item above",
}
_LEFT_OUT = {
    "max-articles": "no room left under max_articles",
    "thread-cap": "its section already shows two stories of its developing story",
}


def why_lines(edition: Edition, topic_names: Mapping[str, str]) -> list[str]:
    """The explanation of ``edition``'s layout, one line each; ``topic_names`` maps slugs to
    names."""
    why = edition.why
    lines = [
        f"{edition.list_slug}: edition due {edition.slot:%Y-%m-%d %H:%M} UTC, "
        f"{len({article.id for article in edition.articles()})} articles shown"
        + (f" (max_articles {why.max_articles}, recommended {why.recommended})" if why else "")
    ]
    if edition.is_empty:
        return [*lines, "Nothing to show: no article of the list's topics in the window."]
    if why is None:
        return [*lines, "(the reasons for this edition's layout were not kept)"]
    lines.append("Rank: topic score x freshness x repeats, then time, picture and link.")
    if edition.lead is not None:
        lines += ["", "Lead"]
        lines += list(_item(edition.lead, why, indent="  "))
        if why.lead is not None:
            passed_over = _named(edition, why, why.lead.illustrated_over)
            lines += [f"     {line}" for line in _lead(why.lead, passed_over)]
    for number, section in enumerate(edition.sections, start=1):
        found = why.section(section.topic)
        lines += ["", f"Section {number}: {section.title}"]
        if found is not None:
            lines.append(f"  {_section(found)}")
        for entry in section.items:
            lines += list(_item(entry, why, indent="  "))
    if edition.recommended:
        lines += ["", "Recommended"]
        for entry in edition.recommended:
            lines += list(_item(entry, why, indent="  "))
    if why.left_out:
        lines += ["", f"Left out ({len(why.left_out)})"]
        lines += [line for entry in why.left_out for line in _left_out(entry, topic_names)]
    return lines


def _title(article: Article) -> str:
    return f'"{article.title}" ({article.feed_name})'


def _lead(lead: LeadWhy, passed_over: str) -> Iterator[str]:
    source = "the list's lead key" if lead.from_config else "the schedule"
    every = (
        f"{lead.interval_hours / 24:g} days"
        if lead.interval_hours >= 48
        else (f"{lead.interval_hours:g} hours")
    )
    yield f"rule: {lead.rule}, from {source} (an edition every {every} on average)"
    where = "the list's first topic" if lead.pool == "first-topic" else "the whole edition"
    yield f"sought in {where}: {lead.pool_size} stories the rules are sure of"
    if lead.rule == "most-covered":
        yield f"{lead.narrowed_to} of them covered by the most outlets and reports"
    elif lead.well_covered:
        yield f"{lead.narrowed_to} of them fresh and covered by two outlets or more"
    else:
        yield "none of them fresh and covered by two outlets: the best-ranked of all"
    if lead.illustrated_over is not None:
        yield f"preferred for its picture and summary to {passed_over}"


def _named(edition: Edition, why: EditionWhy, article_id: int | None) -> str:
    """The article ``article_id`` as a reader would know it: its title, wherever it went."""
    for article in edition.articles():
        if article.id == article_id:
            return _title(article)
    left = next((entry for entry in why.left_out if entry.article_id == article_id), None)
    return f'"{left.title}"' if left is not None else f"article {article_id}"


def _section(section: SectionWhy) -> str:
    text = f"topic {section.list_position} of the list; up to {section.share} articles"
    return text + (
        ", grown past that: the other sections had run dry" if section.past_share else ""
    )


def _item(entry: EditionItem, why: EditionWhy, *, indent: str) -> Iterator[str]:
    found = why.item(entry.article.id)
    yield f"{indent}{_place(found)}{_title(entry.article)}"
    if found is not None:
        yield f"{indent}   {_PLACEMENTS[found.placement]}"
        yield f"{indent}   {_terms(found.terms)}"
    for article in entry.more_from:
        moved = why.item(article.id)
        person = f" {moved.person}" if moved is not None and moved.person else ""
        yield f"{indent}   More from{person}: {_title(article)}"
        if moved is not None:
            yield f"{indent}      {_terms(moved.terms)}"


def _place(found: ItemWhy | None) -> str:
    return f"{found.position}. " if found is not None and found.placement != "lead" else ""


def _terms(terms: RankTerms) -> str:
    parts = [f"score {terms.topic_score:.3g} x freshness {terms.freshness:.2g}"]
    if terms.repeats:
        parts.append(
            f" x {terms.repeat_weight:g} (item {terms.repeats + 1} of its developing story)"
        )
    text = "".join(parts) + f" = {terms.rank_score:.3g}"
    text += f"; {terms.sources} outlet{'s' * (terms.sources != 1)}"
    text += f", {terms.reports} report{'s' * (terms.reports != 1)}"
    return text + ("; picture" if terms.has_picture else "; no picture")


def _left_out(entry: LeftOut, topic_names: Mapping[str, str]) -> Iterator[str]:
    topic = topic_names.get(entry.topic, entry.topic)
    yield f'  - "{entry.title}" ({topic}): {_LEFT_OUT[entry.reason]}'
    yield f"      {_terms(entry.terms)}"
