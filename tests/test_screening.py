"""digest.screening: the article whose text breaks the headers is left out, not the edition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import EditionLintError
from digest.lint import Finding
from digest.records import Article, Edition, EditionItem, RenderedEdition
from digest.screening import screen_edition

SLOT = datetime(2026, 11, 24, 3, tzinfo=UTC)


def article(article_id: int, title: str) -> Article:
    return Article(
        id=article_id,
        feed_id=1,
        feed_name="Gulf Wire",
        guid=f"g{article_id}",
        link=f"https://wire.example.org/story/{article_id}",
        title=title,
        summary_html="",
        summary_text="",
        author=None,
        published_at=SLOT,
        first_seen_at=SLOT,
    )


class FakeDesk:
    """Composes, renders and checks editions of ``articles`` as the pipeline would, minus the
    templates: the subject is the lead's title, and a CR in it is a header finding."""

    def __init__(self, *articles: Article, broken_settings: bool = False) -> None:
        self.articles = articles
        self.broken_settings = broken_settings
        self.renders = 0

    def compose_without(self, ids: frozenset[int]) -> Edition:
        kept = [item for item in self.articles if item.id not in ids]
        lead = EditionItem(kept[0], "gulf") if kept else None
        return Edition("daily", SLOT, None, SLOT, lead=lead)

    def render(self, edition: Edition) -> RenderedEdition:
        self.renders += 1
        subject = edition.lead.article.title if edition.lead else "Daily Brief"
        return RenderedEdition("daily", SLOT, subject, "", "", "", 1)

    def check(self, rendered: RenderedEdition) -> tuple[Finding, ...]:
        if self.broken_settings or "\r" in rendered.subject:
            return (Finding("headers", "the personal copies carry forged headers: x-injected"),)
        return ()

    def screen(self) -> object:
        return screen_edition(
            self.compose_without(frozenset()),
            render=self.render,
            check=self.check,
            compose_without=self.compose_without,
        )


def test_a_clean_edition_is_rendered_once_and_left_whole() -> None:
    desk = FakeDesk(article(1, "Talks resume"), article(2, "Ports reopen"))
    screened = desk.screen()
    assert screened.dropped == () and screened.warnings == ()  # type: ignore[attr-defined]
    assert desk.renders == 1


def test_the_lead_at_fault_is_left_out_and_named() -> None:
    bad = article(1, "Talks\r\nX-Injected: 1")
    desk = FakeDesk(bad, article(2, "Ports reopen"), article(3, "Markets calm"))
    screened = desk.screen()
    assert screened.dropped == (bad,)  # type: ignore[attr-defined]
    assert screened.rendered.subject == "Ports reopen"  # type: ignore[attr-defined]
    (warning,) = screened.warnings  # type: ignore[attr-defined]
    assert "list 'daily'" in warning
    assert "'Talks X-Injected: 1'" in warning and "https://wire.example.org/story/1" in warning
    assert "feed 'Gulf Wire'" in warning and warning.endswith("; the rest goes out")


def test_each_lead_at_fault_is_left_out_in_turn() -> None:
    first, second = article(1, "A\r\nX: 1"), article(2, "B\rX: 1")
    desk = FakeDesk(first, second, article(3, "Ports reopen"))
    screened = desk.screen()
    assert screened.dropped == (first, second)  # type: ignore[attr-defined]
    assert len(screened.warnings) == 2  # type: ignore[attr-defined]


def test_when_leaving_articles_out_does_not_help_the_edition_waits_and_the_lead_is_named() -> None:
    desk = FakeDesk(article(1, "Talks resume"), article(2, "Ports"), broken_settings=True)
    with pytest.raises(EditionLintError) as raised:
        desk.screen()
    text = str(raised.value)
    assert "list 'daily'" in text and "was not sent" in text
    assert "headers: the personal copies carry forged headers" in text
    assert "the lead article was the article 'Talks resume'" in text
    assert "feed 'Gulf Wire'" in text and "list's settings" in text


def test_no_more_than_the_bound_is_left_out() -> None:
    articles = [article(number, f"Story {number}\r\nX: 1") for number in range(1, 40)]
    desk = FakeDesk(*articles)
    with pytest.raises(EditionLintError, match="leaving out 10 lead article"):
        desk.screen()
    assert desk.renders == 11


def test_findings_of_the_operator_are_not_laid_on_an_article() -> None:
    desk = FakeDesk(article(1, "Talks resume"))

    def check(rendered: RenderedEdition) -> tuple[Finding, ...]:
        return (Finding("postal-address", "the HTML part does not show service.postal_address"),)

    with pytest.raises(EditionLintError, match="postal-address"):
        screen_edition(
            desk.compose_without(frozenset()),
            render=desk.render,
            check=check,
            compose_without=desk.compose_without,
        )
    assert desk.renders == 1
