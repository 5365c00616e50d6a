"""Readers' choices of a list's topics (the preferences page), and the edition variants they make.

A member who chose nothing takes every topic of the list: the edition's plain variant (""). Each
distinct choice is one more variant of the (list, slot), composed and rendered once (invariant 4
holds per variant) and then personalised per reader like every copy: a list of a thousand readers
with three distinct choices renders three editions, never a thousand. Every variant of a slot
covers the same window of articles, so a reader who changes their choice between two editions
gets each article of their topics once, as every reader does.

The renders are bounded (a list's ``max_topic_variants``): past the bound, the choices held by
the fewest readers are not rendered (between choices held by as many, those whose earliest
reader came to the service last, by subscriber id); each of their readers gets the rendered
variant of the most of their topics and no other, or, when none is within their choice, the
variant of their choice's first topic. Nobody gets a topic they did not choose, nobody goes
without a copy, and an edition renders at most ``max_topic_variants`` narrowed variants, plus
one a topic of the list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

PREFIX = "topics:"


def effective_choice(
    chosen: Sequence[str] | None, list_topics: Sequence[str]
) -> tuple[str, ...] | None:
    """The topics a reader gets now, in the list's order; None (every topic) for no choice, a
    choice of every topic, or one whose topics have all left the list since (the reader stays
    subscribed: they get the whole list rather than nothing)."""
    if chosen is None:
        return None
    wanted = set(chosen)
    kept = tuple(topic for topic in list_topics if topic in wanted)
    if not kept or len(kept) == len(list_topics):
        return None
    return kept


def variant_name(choice: Sequence[str] | None, base: str = "") -> str:
    """The variant of an edition for the readers of ``choice`` (None: ``base`` itself), within
    the variant ``base`` a list read in each reader's timezone has already; at most 64
    characters, as the column holds."""
    if choice is None:
        return base
    digest = hashlib.sha256(",".join(choice).encode("utf-8")).hexdigest()[:16]
    return f"{base}|{PREFIX}{digest}" if base else f"{PREFIX}{digest}"


def choice_groups(
    choices: Mapping[int, Sequence[str]], list_topics: Sequence[str]
) -> dict[tuple[str, ...] | None, list[int]]:
    """The members with a choice (``Store.topic_choices``) by the topics they get now; those
    under None get every topic, as everyone without a choice does."""
    groups: dict[tuple[str, ...] | None, list[int]] = {}
    for reader, chosen in sorted(choices.items()):
        groups.setdefault(effective_choice(chosen, list_topics), []).append(reader)
    return groups


def bounded_groups(
    choices: Mapping[int, Sequence[str]], list_topics: Sequence[str], most: int, list_slug: str
) -> tuple[dict[tuple[str, ...] | None, list[int]], tuple[str, ...]]:
    """``choice_groups`` within ``most`` narrowed variants (the module's docstring says which
    are kept and what the readers past them get), with the warning of a bound reached."""
    groups = choice_groups(choices, list_topics)
    narrowed = sorted(
        (choice for choice in groups if choice is not None),
        key=lambda choice: (-len(groups[choice]), groups[choice][0]),
    )
    if len(narrowed) <= most:
        return groups, ()
    kept = narrowed[:most]
    bounded = {choice: groups[choice] for choice in (*kept, None) if choice in groups}
    past = 0
    for choice in narrowed[most:]:
        within = [kept_choice for kept_choice in kept if set(kept_choice) <= set(choice)]
        served = max(within, key=len, default=choice[:1])
        bounded[served] = sorted([*bounded.get(served, []), *groups[choice]])
        past += len(groups[choice])
    warning = (
        f"list {list_slug!r}: its readers made {len(narrowed)} distinct choices of topics, more "
        f"than its max_topic_variants ({most}); {past} readers get a variant of only some of "
        "their topics: raise max_topic_variants in the list's table, or look for sign-ups of "
        "many addresses of one domain"
    )
    return bounded, (warning,)


def variant_readers(
    choices: Mapping[int, Sequence[str]],
    list_topics: Sequence[str],
    members: int,
    most: int = 4096,
) -> list[tuple[tuple[str, ...] | None, int]]:
    """The variants an edition of the list will have, each with how many of its ``members``
    get it: every topic first (None), then each choice, the most read first, within ``most``
    narrowed variants (the list's ``max_topic_variants``)."""
    groups, _ = bounded_groups(choices, list_topics, most, "")
    chosen = sum(len(readers) for choice, readers in groups.items() if choice is not None)
    narrowed = sorted(
        ((choice, len(readers)) for choice, readers in groups.items() if choice is not None),
        key=lambda item: (-item[1], item[0]),
    )
    return [(None, members - chosen), *narrowed]
