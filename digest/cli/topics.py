"""``digest topics``: explain why articles land under topics, and dry-run new topic rules."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table

from digest.cli.app import app, console, errors, load_config, running
from digest.cli.boundary import DigestTyper, json_text, report, shown
from digest.clock import SystemClock
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.ingest import fetch_feed, parse_feed
from digest.plurals import english_count
from digest.records import Article, Entry
from digest.shown import database_shown
from digest.topics import Explanation, classifier_for
from digest.topics.report import DryRun, dry_run, explanation_record
from digest.topics.suggest import Suggestion, suggest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # an unstored entry with no date at all
# The largest id the articles table holds (a 32-bit integer in PostgreSQL): a larger one names
# no stored article, and the databases refuse it as a parameter rather than find nothing.
_MAX_ARTICLE_ID = 2**31 - 1

topics_app = DigestTyper(
    help="Explain where articles are filed, try new topic rules, suggest phrases the rules lack.",
    no_args_is_help=True,
)
app.add_typer(topics_app, name="topics")


@topics_app.command("explain")
def explain(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A stored article's id, the URL of a configured feed, or a feed file.",
        ),
    ],
    feed_name: Annotated[
        str | None,
        typer.Option(
            "--feed-name",
            help="For a feed file: the configured feed it stands for (default: the feed whose "
            "URL ends with the file's name).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print each article with its topics, scores, the rules that fired and the excludes that
    vetoed."""
    settings = load_config()
    classifier = classifier_for(settings)
    try:
        articles = _articles(settings, source, feed_name)
    except DigestError as error:
        report(error)
        raise typer.Exit(1) from None
    explanations = [classifier.explain(article) for article in articles]
    if as_json:
        print(json_text([explanation_record(e) for e in explanations]))
        return
    for explanation in explanations:
        _print_explanation(explanation)


@topics_app.command("test")
def test(
    new_config: Annotated[
        Path | None,
        typer.Argument(
            metavar="NEW", help="The config file with the new topic rules.", show_default=False
        ),
    ] = None,
    config_option: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="The same as NEW. The stored articles come from the current config: the "
            "--config given before 'topics', else $DIGEST_CONFIG, else config/example.toml.",
            show_default=False,
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="Articles first seen in the last N days.")
    ] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Classify the stored articles of the last N days under NEW's topic rules and show what
    moves (gained, lost, per topic) compared with the current rules. Nothing is stored or sent."""
    proposed_path = new_config or config_option
    if proposed_path is None:
        errors.print("[red]Give the config with the new rules: digest topics test NEW.toml[/]")
        raise typer.Exit(2)
    settings = load_config()
    try:
        proposed = load_settings(proposed_path, os.environ)
    except ConfigError as error:
        errors.print(f"[bold red]Invalid configuration[/]\n{escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    with running(settings) as services:
        since = services.clock.now() - timedelta(days=days)
        articles = services.store.articles_seen_since(since)
    result = dry_run(
        articles,
        classifier_for(settings),
        classifier_for(proposed),
        [topic.slug for topic in proposed.topics],
    )
    if as_json:
        print(json_text(_dry_run_record(result, settings, proposed, days)))
        return
    _print_dry_run(result, settings, proposed, days)


@topics_app.command("suggest")
def suggest_terms(
    topic_slug: Annotated[str, typer.Argument(metavar="TOPIC", help="The topic's slug.")],
    days: Annotated[
        int, typer.Option("--days", min=1, max=3650, help="Articles first seen in the last N days.")
    ] = 7,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="At most N phrases.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Propose names and phrases that recur in TOPIC's recent articles and near misses (some
    evidence, under its threshold) but not in its rules, each with the near misses it would
    file, for an editor to add to the config. Nothing is stored or changed."""
    settings = load_config()
    topic = next((t for t in settings.topics if t.slug == topic_slug), None)
    if topic is None:
        renamed = next((t for t in settings.topics if topic_slug in t.previous_slugs), None)
        if renamed is not None:
            # The slug an editor has typed for years: say what it is now, not only what exists.
            report(
                f"no topic {topic_slug!r} in {settings.source}: {topic_slug!r} was renamed "
                f"{renamed.slug!r} (its previous_slugs); give {renamed.slug}"
            )
            raise typer.Exit(2)
        known = ", ".join(t.slug for t in settings.topics) or "none"
        report(f"no topic {topic_slug!r} in {settings.source}; the topics are: {known}")
        raise typer.Exit(2)
    with running(settings) as services:
        articles = services.store.articles_seen_since(services.clock.now() - timedelta(days=days))
    if not articles:
        errors.print(
            "[bold red]error:[/] no article was stored in the last "
            f"{english_count(days, 'day', 'days')}: poll the feeds first (`digest poll`), or look "
            "further back with --days",
            highlight=False,
        )
        raise typer.Exit(1)
    classifier = classifier_for(settings)
    found = suggest(articles, classifier, topic, limit=limit)
    if as_json:
        print(json_text([_suggestion_record(s) for s in found]))
        return
    if not found:
        # The window's count is not the topic's: say which of them were the topic's to read.
        standings = [classifier.standing(article, topic.slug) for article in articles]
        ours = sum(1 for filed, score in standings if filed or score > 0)
        if not ours:
            console.print(
                f"Nothing to suggest for {topic.slug}: none of the "
                f"{english_count(len(articles), 'article', 'articles')} of "
                f"the last {english_count(days, 'day', 'days')} is filed under {topic.slug} or "
                "comes near it (some "
                "evidence, under its threshold); look further back with --days",
                highlight=False,
            )
            return
        console.print(
            f"Nothing to suggest for {topic.slug}: no phrase that its rules do not name recurs "
            f"in its {english_count(ours, 'article', 'articles')} and near misses of the last "
            f"{english_count(days, 'day', 'days')} "
            f"(of {len(articles)} in all).",
            highlight=False,
        )
        return
    counted = english_count(len(articles), "article", "articles")
    table = Table(
        title=f"Phrases for {topic.slug}, from {counted} of {english_count(days, 'day', 'days')}"
    )
    for column in ("phrase", "near misses", "filed", "elsewhere", "would file"):
        table.add_column(column)
    for item in found:
        titles = "; ".join(title for _, title in item.near_misses[:3])
        table.add_row(
            shown(item.phrase),
            str(len(item.near_misses)),
            str(item.filed),
            str(item.elsewhere),
            shown(titles),
        )
    console.print(table)


def _suggestion_record(item: Suggestion) -> dict[str, object]:
    return {
        "phrase": item.phrase,
        "weight": round(item.weight, 3),
        "filed": item.filed,
        "elsewhere": item.elsewhere,
        "near_misses": [{"id": aid, "title": title} for aid, title in item.near_misses],
    }


def _articles(settings: Settings, source: str, feed_name: str | None) -> list[Article]:
    """The articles SOURCE names: one stored article, or every entry of a feed."""
    # ASCII digits only: str.isdigit takes "²" and "١٢" too, which int() refuses or reads.
    if source.isascii() and source.isdigit():
        # (int() itself refuses a number of more than 4,300 digits: the length is looked at first)
        stored = len(source) <= len(str(_MAX_ARTICLE_ID)) and int(source) <= _MAX_ARTICLE_ID
        with running(settings) as services:
            found = services.store.articles([int(source)]) if stored else []
        if not found:
            raise DigestError(
                f"no stored article has id {source} in "
                f"{database_shown(settings.service.database_url)}: give the id of a stored "
                "article (`digest topics test --json` lists ids), a configured feed's URL or "
                "a feed file"
            )
        return found
    if source.startswith(("http://", "https://")):
        feed = next((f for f in settings.feeds if f.url.rstrip("/") == source.rstrip("/")), None)
        if feed is None:
            raise DigestError(
                f"{source} is not a feed of {settings.source}; "
                "to explain any feed, save it to a file and pass the file"
            )
        with running(settings) as services:
            result = fetch_feed(
                services.http, feed.url, etag=None, last_modified=None, settings=settings.ingest
            )
            content = result.content or b""
            parsed = parse_feed(
                content, url=result.url, content_type=result.content_type, now=services.clock.now()
            )
        return [
            _entry_article(entry, index, feed.name) for index, entry in enumerate(parsed.entries)
        ]
    names = [f.name for f in settings.feeds]
    if feed_name is not None and feed_name not in names:
        # Explained under a name no feed has, the file's articles would meet none of the rules
        # that name a feed: a misspelt name looked like rules that do not fire.
        raise DigestError(
            f"--feed-name {feed_name!r} is not a feed of {settings.source}; the feeds are: "
            f"{', '.join(names) or 'none'}"
        )
    path = Path(source)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise DigestError(f"cannot read the feed file {path}: {error.strerror}") from None
    feed = next(
        (f for f in settings.feeds if PurePosixPath(urlsplit(f.url).path).name == path.name), None
    )
    name = feed_name if feed_name is not None else (feed.name if feed else "")
    url = feed.url if feed else f"http://localhost/{path.name}"
    parsed = parse_feed(content, url=url, content_type=None, now=SystemClock().now())
    return [_entry_article(entry, index, name) for index, entry in enumerate(parsed.entries)]


def _entry_article(entry: Entry, index: int, feed_name: str) -> Article:
    """A feed entry as the classifier sees a stored article (id 0: not stored)."""
    first_seen = entry.published_at or entry.updated_at or _EPOCH
    return Article.from_entry(entry, id=0, feed_id=0, feed_name=feed_name, first_seen_at=first_seen)


def _print_explanation(explanation: Explanation) -> None:
    article = explanation.article
    where = " · ".join(
        part
        for part in (article.feed_name, f"id {article.id}" if article.id else "", article.link)
        if part
    )
    topics = ", ".join(f"{m.topic} {m.score:g}" for m in explanation.matches) or "no topic"
    console.print(
        f"\n[bold]{shown(article.title)}[/]  [dim]{shown(where)}[/]",
        highlight=False,
    )
    console.print(f"  topics: [green]{escape(topics)}[/]", highlight=False)
    for verdict in explanation.verdicts:
        state = (
            "[red]vetoed[/]"
            if verdict.vetoed_by
            else (
                "[yellow]unsure[/]"
                if verdict.unsure
                else ("[green]filed[/]" if verdict.filed else "[dim]not filed[/]")
            )
        )
        console.print(
            f"  {escape(verdict.topic)}: {state} score {verdict.score:g} / threshold "
            f"{verdict.threshold:g} — {escape(verdict.reason)}",
            highlight=False,
        )
        for evidence in verdict.evidence:
            owner = "" if evidence.topic == verdict.topic else f" (from {evidence.topic})"
            counted = f"+{evidence.points:g}" if evidence.counted else "+0"
            times = f" ×{evidence.count}" if evidence.count > 1 else ""
            note = f" — {evidence.note}" if evidence.note else ""
            console.print(
                f"      {counted:>4} {evidence.rule} {evidence.term!r} in {evidence.field}"
                f"{times}{owner}{note}",
                highlight=False,
                markup=False,
            )
        for veto in verdict.vetoed_by:
            console.print(f"      veto: exclude {veto.term!r} in {veto.field}", markup=False)
        for phrase in verdict.ignored:
            console.print(f"      ignored: {phrase!r} (counts for nothing)", markup=False)


def _print_dry_run(result: DryRun, current: Settings, proposed: Settings, days: int) -> None:
    console.print(
        f"{english_count(result.articles, 'article', 'articles')} first seen in the last "
        f"{english_count(days, 'day', 'days')}, from "
        f"{shown(database_shown(current.service.database_url))}: rules of "
        f"{shown(str(current.source))} → rules of {shown(str(proposed.source))}",
        highlight=False,
    )
    table = Table(show_header=True, header_style="bold")
    for column in ("topic", "now", "new", "gained", "lost"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for change in result.topics:
        table.add_row(
            change.topic,
            str(change.before),
            str(change.after),
            f"+{change.gained}",
            f"-{change.lost}",
        )
    console.print(table)
    if not result.changed:
        console.print("Nothing moves.")
        return
    for move in result.moves:
        sign = "[green]+[/]" if move.gained else "[red]-[/]"
        score = move.score_after if move.gained else move.score_before
        console.print(
            f"{sign} {escape(move.topic)}  {shown(move.article.title)}  "
            f"[dim](id {move.article.id}, score {score:g})[/]",
            highlight=False,
        )


def _dry_run_record(
    result: DryRun, current: Settings, proposed: Settings, days: int
) -> dict[str, object]:
    return {
        "days": days,
        "articles": result.articles,
        "current": str(current.source),
        "proposed": str(proposed.source),
        "topics": [
            {"topic": c.topic, "now": c.before, "new": c.after, "gained": c.gained, "lost": c.lost}
            for c in result.topics
        ],
        "moves": [
            {
                "topic": move.topic,
                "change": "gained" if move.gained else "lost",
                "article": move.article.id,
                "title": move.article.title,
                "score_before": move.score_before,
                "score_after": move.score_after,
            }
            for move in result.moves
        ],
    }
