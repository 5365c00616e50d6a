"""A reader's choice of a list's topics (issue #11 point 5): each distinct choice is one variant
of the edition, composed and rendered once, never per reader; each reader gets the variant of
their choice, once per slot, and every article of their topics once across editions."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest

from digest.clock import FixedClock
from digest.records import RenderedEdition
from digest.services import Services
from digest.topic_choices import (
    bounded_groups,
    choice_groups,
    effective_choice,
    variant_name,
    variant_readers,
)
from tests.configs import service_table
from tests.members import numbered_readers
from tests.test_lists import recipients, run, settings_of, start
from tests.test_pipeline import DAY1, write_feed

TOPICS = ["iran", "gulf", "levant"]
STORIES = {
    "iran": "Iran reopens talks on its uranium stockpile with the agency",
    "gulf": "Gulf ports expand shipping lanes after a record season",
    "levant": "Levant grain corridor reopens for relief convoys",
}


def test_a_choice_is_the_lists_topics_it_names_in_the_lists_order() -> None:
    assert effective_choice(None, TOPICS) is None
    assert effective_choice(["levant", "iran"], TOPICS) == ("iran", "levant")
    assert effective_choice(TOPICS[::-1], TOPICS) is None  # every topic: the plain edition
    assert effective_choice(["sport"], TOPICS) is None  # every chosen topic left the list
    assert effective_choice(["sport", "gulf"], TOPICS) == ("gulf",)


def test_a_variant_is_named_by_its_choice_within_a_window() -> None:
    assert variant_name(None) == "" and variant_name(None, "after-7") == "after-7"
    iran = variant_name(("iran",))
    assert iran.startswith("topics:") and iran != variant_name(("gulf",))
    assert variant_name(("iran",), "after-7") == f"after-7|{iran}"
    assert len(variant_name(tuple(f"topic-{n}" for n in range(50)), "after-99999999999")) <= 64
    groups = choice_groups({3: ["gulf"], 1: ["iran"], 2: ["iran"], 4: TOPICS}, TOPICS)
    assert groups == {("iran",): [1, 2], ("gulf",): [3], None: [4]}


def daily_over_every_topic(
    tmp_path: Path, base_url: str, topics: Sequence[str] = TOPICS, **daily: Any
) -> dict[str, Any]:
    """A config of one list, daily, over every topic of ``topics``, read from the feed at
    ``base_url``; ``daily`` adds to the list's table."""
    return {
        "service": service_table(tmp_path),
        "ingest": {"allow_private_addresses": True},
        "feeds": [{"name": "Wire", "url": f"{base_url}/wire.xml"}],
        "topics": [
            {"slug": slug, "name": slug.title(), "rules": {"include": [slug.title()]}}
            for slug in topics
        ],
        "lists": [
            {
                "slug": "daily",
                "name": "The Daily Brief",
                "topics": list(topics),
                "schedule": "0 7 * * *",
                "timezone": "Asia/Dubai",
                **daily,
            }
        ],
    }


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[tuple[Services, Any, Path]]:
    from digest.sample_server import serve_folder

    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    (tmp_path / "members.csv").write_text(numbered_readers(30))
    with serve_folder(folder) as base_url:
        raw = daily_over_every_topic(tmp_path, base_url, subscribers="members.csv")
        services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
        try:
            yield services, transport, folder
        finally:
            services.close()


def publish(folder: Path, day: int) -> None:
    """Day ``day``'s three stories, one per topic, each an hour before that day's slot."""
    when = DAY1 + timedelta(days=day) - timedelta(hours=1)
    write_feed(
        folder,
        [(10 * day + n, f"{STORIES[slug]} (day {day})", when) for n, slug in enumerate(TOPICS)],
    )


def member_ids(services: Services) -> dict[str, int]:
    return {s.email: s.id for s in services.store.active_subscribers("daily")}


def copies(transport: Any) -> dict[str, list[str]]:
    """Each reader's copies, as the text part a mail app shows."""
    found: dict[str, list[str]] = {}
    for message in transport.sent:
        parsed = email.message_from_bytes(message.data, policy=policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        assert text is not None
        found.setdefault(message.recipient, []).append(" ".join(text.get_content().split()))
    return found


def counted_renders(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The topics of each edition ``services`` render from now on, one entry a render."""
    renders: list[tuple[str, ...]] = []
    render = services.renderer.render

    def counted(edition: Any, digest_list: Any, *more: Any, **options: Any) -> RenderedEdition:
        renders.append(tuple(digest_list.topics))
        return render(edition, digest_list, *more, **options)

    monkeypatch.setattr(services.renderer, "render", counted)
    return renders


def test_each_distinct_choice_is_rendered_once_and_each_reader_gets_theirs(
    newsroom: tuple[Services, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, transport, folder = newsroom
    run(services)  # the readers come in; no article yet, nothing sent
    ids = member_ids(services)
    for n in range(0, 12):  # 12 readers want Iran only, 6 the Gulf and the Levant
        services.store.choose_topics(ids[f"reader{n}@example.org"], "daily", ["iran"])
    for n in range(12, 18):
        services.store.choose_topics(ids[f"reader{n}@example.org"], "daily", ["levant", "gulf"])
    services.store.choose_topics(ids["reader18@example.org"], "daily", TOPICS)  # all of them

    renders = counted_renders(services, monkeypatch)
    publish(folder, 1)
    services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
    transport.sent.clear()
    summary = run(services)
    # Three editions for 30 readers, each rendered once (the checks render no second time).
    assert sorted(renders) == sorted([tuple(TOPICS), ("iran",), ("gulf", "levant")])
    assert summary.messages_delivered == 30
    got = copies(transport)
    assert sorted(got) == sorted(ids) and all(len(c) == 1 for c in got.values())
    [iran_only] = got["reader0@example.org"]
    assert "uranium stockpile" in iran_only and "shipping lanes" not in iran_only
    assert "grain corridor" not in iran_only
    [two] = got["reader15@example.org"]
    assert "uranium" not in two and "shipping lanes" in two and "grain corridor" in two
    for everything in (got["reader18@example.org"][0], got["reader25@example.org"][0]):
        assert all(words in everything for words in ("uranium", "shipping lanes", "grain"))


def test_a_changed_choice_takes_effect_at_the_next_edition_with_nothing_twice(
    newsroom: tuple[Services, Any, Path],
) -> None:
    services, transport, folder = newsroom
    run(services)
    reader = member_ids(services)["reader3@example.org"]
    services.store.choose_topics(reader, "daily", ["iran"])
    publish(folder, 1)
    services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
    run(services)
    [first] = copies(transport)["reader3@example.org"]
    assert "uranium stockpile" in first and "shipping lanes" not in first

    services.store.choose_topics(reader, "daily", ["gulf"])
    publish(folder, 2)  # day 1's stories stay in the feed: none may come again
    services.clock.set(DAY1 + timedelta(days=2))  # type: ignore[attr-defined]
    transport.sent.clear()
    run(services)
    [second] = copies(transport)["reader3@example.org"]
    assert "shipping lanes after a record season (day 2)" in second
    assert "(day 1)" not in second and "uranium" not in second
    # Back to every topic: the plain edition, as everyone else's.
    services.store.choose_topics(reader, "daily", None)
    publish(folder, 3)
    services.clock.set(DAY1 + timedelta(days=3))  # type: ignore[attr-defined]
    transport.sent.clear()
    run(services)
    [third] = copies(transport)["reader3@example.org"]
    assert third.count("(day 3)") >= 3 and "(day 2)" not in third
    assert recipients(transport).count("reader3@example.org") == 1


def test_view_in_your_browser_opens_the_readers_own_edition(
    newsroom: tuple[Services, Any, Path],
) -> None:
    # Every variant of a slot linked to one address, which showed the slot's first variant
    # stored: a reader of the Iran stories alone saw the Gulf's and the Levant's, or the other
    # way round.
    from starlette.testclient import TestClient

    from digest.web import create_app

    services, transport, folder = newsroom
    run(services)
    ids = member_ids(services)
    services.store.choose_topics(ids["reader0@example.org"], "daily", ["iran"])
    services.store.choose_topics(ids["reader1@example.org"], "daily", ["gulf"])
    publish(folder, 1)
    services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
    run(services)
    base_url = services.settings.service.base_url
    client = TestClient(create_app(services), follow_redirects=False)

    def web_copy(reader: str) -> str:
        [text] = copies(transport)[reader]
        [link] = set(re.findall(re.escape(base_url) + r"/editions/\S+", text))
        page = client.get(link.removeprefix(base_url))
        assert page.status_code == 200, link
        return " ".join(page.text.split())

    iran, gulf = web_copy("reader0@example.org"), web_copy("reader1@example.org")
    assert "uranium stockpile" in iran and "shipping lanes" not in iran
    assert "shipping lanes" in gulf and "uranium stockpile" not in gulf
    everything = web_copy("reader9@example.org")
    assert all(words in everything for words in ("uranium", "shipping lanes", "grain"))
    # A variant not stored (made up, or gone) leads to the slot's edition, and is never cached.
    [plain] = set(
        re.findall(r"/editions/daily/[0-9-]+", copies(transport)["reader9@example.org"][0])
    )
    made_up = client.get(f"{plain}?variant=topics%3Anothing")
    assert made_up.status_code == 302 and made_up.headers["location"] == plain


def test_a_list_nobody_customised_builds_one_edition(
    newsroom: tuple[Services, Any, Path],
) -> None:
    services, _, folder = newsroom
    run(services)
    publish(folder, 1)
    services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
    run(services)
    slot = services.store.latest_edition("daily")
    assert slot is not None
    assert [state.variant for state in services.store.editions_of_slot("daily", slot.slot)] == [""]


def test_variant_readers_counts_each_choice_and_the_rest() -> None:
    choices = {1: ["iran"], 2: ["iran"], 3: ["gulf", "levant"], 4: TOPICS}
    assert variant_readers(choices, TOPICS, 10) == [
        (None, 7),
        (("iran",), 2),
        (("gulf", "levant"), 1),
    ]


def test_preview_names_the_variants_the_edition_will_have(tmp_path: Path) -> None:
    from digest.config import load_settings
    from digest.services import build_services
    from tests.test_end_to_end import SECRET, digest, example_config

    config = example_config(tmp_path, smtp_port=None)
    assert digest(config, "run", "--once").returncode == 0  # the readers come in
    services = build_services(load_settings(config, {"DIGEST_SECRET_KEY": SECRET}))
    try:
        readers = services.store.active_subscribers("middle-east-daily")
        topics = services.settings.list("middle-east-daily").topics
        for reader in readers[:3]:
            services.store.choose_topics(reader.id, "middle-east-daily", topics[:1])
        services.store.choose_topics(readers[3].id, "middle-east-daily", topics[1:3])
        names = {topic.slug: topic.name for topic in services.settings.topics}
    finally:
        services.close()
    preview = digest(config, "preview", "middle-east-daily")
    assert preview.returncode == 0, preview.stderr
    line = next(line for line in preview.stderr.splitlines() if "variants" in line)
    assert line.startswith("3 variants (this preview is the first): every topic: ")
    assert f"{names[topics[0]]}: 3 readers" in line
    assert f"{names[topics[1]]}, {names[topics[2]]}: 1 reader" in line


def test_preview_names_variants_whose_topic_names_hold_brackets_as_written(
    tmp_path: Path,
) -> None:
    # A topic's name is free text: "[/]" in one ended the preview in rich's MarkupError.
    from digest.config import load_settings
    from digest.services import build_services
    from tests.test_end_to_end import SECRET, digest, example_config

    config = example_config(tmp_path, smtp_port=None)
    config.write_text(
        re.sub(
            r'(\[\[topics\]\]\nslug = "[^"]+"\nname = ")([^"]+)"',
            r'\1\2 [/] [bold]"',
            config.read_text(),
        )
    )
    assert digest(config, "run", "--once").returncode == 0  # the readers come in
    services = build_services(load_settings(config, {"DIGEST_SECRET_KEY": SECRET}))
    try:
        [reader, *_] = services.store.active_subscribers("middle-east-daily")
        topics = services.settings.list("middle-east-daily").topics
        services.store.choose_topics(reader.id, "middle-east-daily", topics[:1])
        name = next(topic.name for topic in services.settings.topics if topic.slug == topics[0])
    finally:
        services.close()
    assert name.endswith(" [/] [bold]")
    preview = digest(config, "preview", "middle-east-daily")
    assert preview.returncode == 0, preview.stderr
    line = next(line for line in preview.stderr.splitlines() if "variants" in line)
    assert f"{name}: 1 reader" in line


def test_preview_why_and_json_say_which_variant_they_show(tmp_path: Path) -> None:
    """--why and --json show the edition of every topic: with readers who chose some topics,
    they said nothing of it, and an editor took it for what every reader gets."""
    import json

    from digest.config import load_settings
    from digest.services import build_services
    from tests.test_end_to_end import SECRET, digest, example_config

    config = example_config(tmp_path, smtp_port=None)
    assert digest(config, "run", "--once").returncode == 0  # the readers come in
    services = build_services(load_settings(config, {"DIGEST_SECRET_KEY": SECRET}))
    try:
        readers = services.store.active_subscribers("middle-east-daily")
        topics = services.settings.list("middle-east-daily").topics
        services.store.choose_topics(readers[0].id, "middle-east-daily", topics[:1])
        name = next(topic.name for topic in services.settings.topics if topic.slug == topics[0])
    finally:
        services.close()
    for mode in ("--why", "--json"):
        preview = digest(config, "preview", "middle-east-daily", mode)
        assert preview.returncode == 0, preview.stderr
        line = next(line for line in preview.stderr.splitlines() if "variants" in line)
        assert line.startswith("2 variants (this preview is the first): every topic: "), line
        assert f"{name}: 1 reader" in line
    json.loads(digest(config, "preview", "middle-east-daily", "--json").stdout)


def test_past_the_bound_a_reader_gets_only_topics_they_chose() -> None:
    choices = {
        1: ["iran"],
        2: ["iran"],
        3: ["gulf", "levant"],
        4: ["iran", "levant"],
        5: ["gulf"],
        6: ["levant"],
    }
    # Within two: Iran (two readers), then the Gulf and the Levant (reader 3 came first).
    groups, warnings = bounded_groups(choices, TOPICS, 2, "daily")
    assert groups == {
        ("iran",): [1, 2, 4],
        ("gulf", "levant"): [3],
        ("gulf",): [5],
        ("levant",): [6],
    }
    [warning] = warnings
    assert warning.startswith("list 'daily': its readers made 5 distinct choices of topics")
    assert "max_topic_variants (2); 3 readers get a variant of only some" in warning
    # Within one: a reader whose choice holds no kept one gets its first topic alone.
    groups, _ = bounded_groups(choices, TOPICS, 1, "daily")
    assert groups == {("iran",): [1, 2, 4], ("gulf",): [3, 5], ("levant",): [6]}
    assert bounded_groups(choices, TOPICS, 5, "daily") == (choice_groups(choices, TOPICS), ())
    assert variant_readers(choices, TOPICS, 10, most=1) == [
        (None, 4),
        (("iran",), 3),
        (("gulf",), 2),
        (("levant",), 1),
    ]


@pytest.mark.parametrize("reader_local", [False, True])
def test_an_edition_renders_no_more_variants_than_its_bound_and_every_reader_gets_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader_local: bool
) -> None:
    from digest.sample_server import serve_folder

    folder = tmp_path / "feeds"
    folder.mkdir()
    write_feed(folder, [])
    (tmp_path / "members.csv").write_text(numbered_readers(8))
    with serve_folder(folder) as base_url:
        raw = daily_over_every_topic(
            tmp_path,
            base_url,
            subscribers="members.csv",
            max_topic_variants=1,
            reader_local=reader_local,
        )
        services, transport = start(settings_of(tmp_path, raw), FixedClock(DAY1))
        try:
            run(services)
            ids = member_ids(services)
            for n, choice in enumerate(
                [["iran"], ["iran"], ["iran", "levant"], ["gulf", "levant"], ["levant"]]
            ):
                services.store.choose_topics(ids[f"reader{n}@example.org"], "daily", choice)
            renders = counted_renders(services, monkeypatch)
            publish(folder, 1)
            services.clock.set(DAY1 + timedelta(days=1))  # type: ignore[attr-defined]
            transport.sent.clear()
            summary = run(services)
        finally:
            services.close()
    # The plain edition, Iran (the most held), then one a topic for the choices past the bound.
    assert sorted(renders) == sorted([tuple(TOPICS), ("iran",), ("gulf",), ("levant",)])
    got = copies(transport)
    assert sorted(got) == sorted(ids) and all(len(c) == 1 for c in got.values())
    [iran_and_levant] = got["reader2@example.org"]
    assert "uranium" in iran_and_levant and "shipping lanes" not in iran_and_levant
    [gulf_and_levant] = got["reader3@example.org"]
    assert "shipping lanes" in gulf_and_levant
    assert "uranium" not in gulf_and_levant and "grain corridor" not in gulf_and_levant
    [levant] = got["reader4@example.org"]
    assert "grain corridor" in levant and "uranium" not in levant
    assert "shipping lanes" in got["reader7@example.org"][0]
    assert [p for p in summary.problems if "max_topic_variants (1)" in p] == [
        "list 'daily': its readers made 4 distinct choices of topics, more than its "
        "max_topic_variants (1); 3 readers get a variant of only some of their topics: raise "
        "max_topic_variants in the list's table, or look for sign-ups of many addresses of one "
        "domain"
    ]
