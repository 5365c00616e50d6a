"""An edition checked before it is stored: an article at fault is left out, not the edition.

    edition ─► render ─► check (digest.lint, through a sample personal copy)
      no blocking finding             ─► the edition and its rendering, as they are
      a blocking "headers" finding    ─► the edition composed again without its lead article
                                         (the lead's title is the one feed text in the headers,
                                         through the subject), and again while the new lead
                                         fails too, a few times at most; once it passes, the
                                         articles are left out with a warning naming the feed,
                                         the title and the link, and the rest goes out
      any other blocking finding, or  ─► EditionLintError, as before: the operator's to fix;
      leaving leads out did not help     for headers it names the lead article it suspected

Only header findings are laid at an article's door: the other checks (postal address,
unsubscribe link, parts, size) speak of templates and settings. Header text is cleaned before
it is written (``digest.mail.headers``), so this is the second line of defence: should the first
ever miss a payload, one hostile title must not block its list for good.

Pure: rendering, checking and composing are passed in; the pipeline decides what they touch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.lint import Finding, blocking, lint_error, reject_if_blocking
from digest.records import Article, Edition, RenderedEdition

# Checks whose failure an article's text can cause; see the module docstring.
ARTICLE_CHECKS = frozenset({"headers"})
# Leads left out at most, each costing a render (tens of milliseconds): a feed that sends the
# same hostile title in every entry loses that many, and then the edition waits for the operator.
MAX_DROPPED = 10


@dataclass(frozen=True, slots=True)
class Screened:
    """An edition that passed the checks, and what was left out of it to get there."""

    edition: Edition
    rendered: RenderedEdition
    findings: tuple[Finding, ...]
    dropped: tuple[Article, ...] = ()
    warnings: tuple[str, ...] = ()


def screen_edition(
    edition: Edition,
    *,
    render: Callable[[Edition], RenderedEdition],
    check: Callable[[RenderedEdition], tuple[Finding, ...]],
    compose_without: Callable[[frozenset[int]], Edition],
    max_dropped: int = MAX_DROPPED,
) -> Screened:
    """``edition`` rendered and checked, without the lead articles whose text failed a check.

    ``compose_without(ids)`` composes the same edition (list, slot, window) as if the articles
    ``ids`` were not among the candidates. Raises ``EditionLintError`` for a blocking finding
    that leaving articles out does not clear, naming the lead article when it was suspected.
    """
    rendered = render(edition)
    findings = check(rendered)
    suspects = _article_blockers(findings)
    if not suspects:
        reject_if_blocking(rendered, findings)  # the operator's problems, if any
        return Screened(edition, rendered, findings)
    dropped: list[Article] = []
    trial = edition
    while trial.lead is not None and len(dropped) < max_dropped:
        dropped.append(trial.lead.article)
        trial = compose_without(frozenset(article.id for article in dropped))
        trial_rendered = render(trial)
        trial_findings = check(trial_rendered)
        if not _article_blockers(trial_findings):
            # What is left may still block for the operator's reasons: that stops it as before.
            reject_if_blocking(trial_rendered, trial_findings)
            rest = "the edition is left empty" if trial.is_empty else "the rest goes out"
            warnings = tuple(_warning(rendered, article, suspects, rest) for article in dropped)
            return Screened(trial, trial_rendered, trial_findings, tuple(dropped), warnings)
    lead = edition.lead.article if edition.lead is not None else None
    raise lint_error(rendered, findings, note=_not_cleared(lead, len(dropped)))


def _article_blockers(findings: Sequence[Finding]) -> list[Finding]:
    return [finding for finding in blocking(findings) if finding.check in ARTICLE_CHECKS]


def describe(article: Article) -> str:
    """An article as an operator finds it again: its title, link and feed."""
    title = " ".join(article.title.split())
    title = title if len(title) <= 120 else title[:119] + "…"
    return f"the article {title!r} ({article.link}) of feed {article.feed_name!r}"


def _warning(
    rendered: RenderedEdition, article: Article, findings: Sequence[Finding], rest: str
) -> str:
    slot = f"{rendered.slot:%Y-%m-%d %H:%M %Z}".strip()
    what = "; ".join(str(finding) for finding in findings)
    return (
        f"list {rendered.list_slug!r}: {describe(article)} was left out of the edition of "
        f"{slot}, whose headers it broke ({what}); {rest}"
    )


def _not_cleared(lead: Article | None, tried: int) -> str:
    if lead is None:
        return "no article of the edition reaches its headers: check the list's settings"
    return (
        f"the lead article was {describe(lead)}; leaving out {tried} lead article(s) did not "
        "clear the headers, so the list's settings (name, subject template) are the likelier "
        "cause"
    )
