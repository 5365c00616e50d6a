"""``digest preview``: the next edition of a list written to a file, checked, and not sent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from digest import lint, pipeline
from digest.bylines import Bylines
from digest.cli.app import (
    app,
    console,
    errors,
    known_list,
    load_config,
    running,
)
from digest.cli.boundary import json_text, printable, report, shown
from digest.config import ListSettings, Settings, entry_key
from digest.edition_json import edition_json
from digest.edition_why import why_lines
from digest.errors import ConfigError, DigestError
from digest.plurals import english_count
from digest.previews import edition_pictures
from digest.records import Edition, RenderedEdition
from digest.screenshot import screenshot_edition
from digest.services import Services
from digest.topic_choices import variant_readers


@app.command()
def preview(
    list_slug: Annotated[str, typer.Argument(metavar="LIST", help="The list's slug.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the HTML.")
    ] = None,
    poll: Annotated[bool, typer.Option("--poll", help="Poll every feed first.")] = False,
    png: Annotated[
        bool,
        typer.Option(
            "--png",
            help="Also screenshot it in Chromium at 600 and 375 pixels wide, beside it. This "
            "needs the playwright package and Chromium, which the plain install leaves out: "
            "python -m pip install playwright with this installation's python, and apt-get "
            "install -y chromium (Debian) or DIGEST_CHROMIUM set to a Chromium; never "
            "playwright install.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the edition's layout as JSON instead (lead, sections, items, "
            '"More from", "Also covered by", and why each is where it is; see docs/editing.md); '
            "no file is written.",
        ),
    ] = False,
    why: Annotated[
        bool,
        typer.Option(
            "--why",
            help="Print why the lead, each section and each item are there and in that place "
            '(rule, topic score, freshness, coverage, repeats, "More from", what was left out '
            "for max_articles) instead; no file is written.",
        ),
    ] = False,
) -> None:
    """Write the next edition of LIST to an HTML file, without storing or sending anything, and
    show what the checks that run before each send find wrong with it."""
    settings = load_config()
    known_list(settings, list_slug)
    digest_list = settings.list(list_slug)
    try:
        with running(settings) as services:
            if poll:
                _poll_every_feed(services)
            variants = variant_readers(
                services.store.topic_choices(list_slug),
                digest_list.topics,
                services.store.confirmed_count(list_slug),
                digest_list.max_topic_variants,
            )
            if as_json or why:
                _print_layout(services, list_slug, as_json=as_json)
                _print_variants(settings, variants)
                return
            path = output or settings.service.data_dir / "preview" / f"{list_slug}.html"
            rendered = pipeline.render_preview(services, list_slug)
            # What a reader receives: the sample personal copy the checks look at.
            sample = pipeline.sample_message(services, rendered, digest_list)
            findings = lint.lint_edition(
                rendered, sample, postal_address=settings.service.postal_address
            )
        html = _write_bodies(path, sample.data)
        _print_findings(settings, digest_list, rendered, findings, html)
        _print_variants(settings, variants)
        if png:
            # The HTML is written whatever becomes of the screenshots: say where first.
            console.print(shown(str(path)), highlight=False, soft_wrap=True)
            _print_screenshots(path, html)
    except ConfigError:
        raise  # the boundary: "Invalid configuration", exit 2, as every command
    except DigestError as error:
        report(error)
        raise typer.Exit(1) from None
    if not png:
        console.print(shown(str(path)), highlight=False, soft_wrap=True)  # a script reads it
    if lint.blocking(findings):
        raise typer.Exit(1)


def _print_layout(services: Services, list_slug: str, as_json: bool) -> None:
    """--json or --why: the layout of the next edition, or why each part is where it is."""
    if as_json:
        typer.echo(json_text(_layout_json(services, list_slug)))
        return
    names = {topic.slug: topic.name for topic in services.settings.topics}
    lines = why_lines(_next_edition(services, list_slug), names)
    typer.echo("\n".join(printable(line) for line in lines))


def _write_bodies(path: Path, message: bytes) -> str:
    """The sample copy's HTML written to ``path`` and its text beside it; the HTML."""
    text, html = lint.message_bodies(message)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html or "", encoding="utf-8")
    path.with_suffix(".txt").write_text(text or "", encoding="utf-8")
    return html or ""


def _print_screenshots(path: Path, html: str) -> None:
    """--png: the edition in Chromium at each width, beside ``path``, and whether it fits."""
    for layout in screenshot_edition(html, path.with_suffix(".png")):
        verdict = "fits" if layout.fits else "OVERFLOWS: " + ", ".join(layout.overflowing)
        errors.print(
            f"{shown(str(layout.png))} ({layout.viewport}px wide, {verdict})", highlight=False
        )


def _print_findings(
    settings: Settings,
    digest_list: ListSettings,
    rendered: RenderedEdition,
    findings: Sequence[lint.Finding],
    html: str,
) -> None:
    """Say on standard error what the preview holds, what the checks before a send find wrong
    with it, and whether it would go."""
    errors.print(
        # The subject may be the lead's headline: its brackets are text, not markup.
        f"{english_count(rendered.article_count, 'article', 'articles')} · "
        f"subject: {shown(rendered.subject)} · HTML "
        f"{len(html.encode()) / 1000:.1f} KB",
        highlight=False,
    )
    for finding in findings:
        colour = "red" if finding.blocking else "yellow"
        errors.print(f"[{colour}]{shown(str(finding))}[/]", highlight=False)
    # An empty edition of a list that does not send them is skipped by `run`, checks or not.
    sendable = rendered.article_count > 0 or digest_list.send_when_empty
    if not findings:
        verdict = ": ready to send" if sendable else ""
        errors.print(f"[green]Checks passed[/]{verdict}", highlight=False)
    if not sendable:
        errors.print(
            f"[yellow]Not sent[/]: no articles since the last edition, and "
            f"{escape(entry_key('lists', settings.lists, settings.lists.index(digest_list)))}"
            ".send_when_empty is false; the list skips this edition (set it to true to "
            "send empty editions)",
            highlight=False,
        )


def _print_variants(settings: Settings, variants: list[tuple[tuple[str, ...] | None, int]]) -> None:
    """Readers who chose some of the list's topics get a variant each choice; every preview
    (the file, --why, --json) is the one of every topic: say so, on standard error, when the
    edition has others."""
    if len(variants) <= 1:
        return
    names = {topic.slug: topic.name for topic in settings.topics}
    counted = [
        f"{'every topic' if choice is None else ', '.join(names[t] for t in choice)}: "
        f"{english_count(readers, 'reader', 'readers')}"
        for choice, readers in variants
    ]
    errors.print(
        f"{len(variants)} variants (this preview is the first): " + shown(" · ".join(counted)),
        highlight=False,
    )


def _poll_every_feed(services: Services) -> None:
    """Poll each enabled feed once, saying which failed and why: a preview of an edition whose
    feeds all failed is otherwise an empty edition with nothing to tell why. A feed a 410
    disabled is left alone, as by every other poll, until an operator enables it."""
    settings = services.settings
    outcomes = [
        pipeline.poll_feed(services, feed.id)
        for feed in services.store.sync_feeds(settings.feeds, services.clock.now())
        if feed.pollable
    ]
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    for outcome in failed:
        # The error opens with the feed's address, its password masked: the address as
        # configured, shown again before it, gave the password away.
        errors.print(f"[yellow]feed[/] {shown(outcome.error or '')}", highlight=False)
    new = sum(outcome.new_articles for outcome in outcomes)
    summary = (
        f"polled {english_count(len(outcomes), 'feed', 'feeds')}: "
        f"{english_count(new, 'new article', 'new articles')}, {len(failed)} failed"
    )
    colour = "red" if outcomes and len(failed) == len(outcomes) else "dim"
    errors.print(f"[{colour}]{summary}[/]", highlight=False)


def _next_edition(services: Services, list_slug: str) -> Edition:
    """The edition ``list_slug`` would send now, its reasons included; nothing is stored."""
    now = services.clock.now()
    return pipeline.compose_next_edition(
        services, services.settings.list(list_slug), now, now, services.store.article_sequence()
    )


def _layout_json(services: Services, list_slug: str) -> dict[str, Any]:
    """The layout of the edition ``list_slug`` would send now (digest.edition_json)."""
    settings = services.settings
    names = {topic.slug: topic.name for topic in settings.topics}
    edition = _next_edition(services, list_slug)
    # The pictures as the mail shows them: the service's copies, the layout that fits.
    laid_out = services.renderer.lay_out(
        edition, settings.list(list_slug), edition_pictures(services, edition)
    )
    return edition_json(edition, Bylines.for_feeds(settings.feeds), names, laid_out.pictures())
