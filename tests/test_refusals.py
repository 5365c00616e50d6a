"""A reader the mail server refuses for good (5xx) is counted, and suppressed after
smtp.suppress_after_refusals refusals of different editions; each refusal fails its delivery at
once. A real SMTP server (aiosmtpd) refuses the address."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import pipeline
from digest.clock import FixedClock
from digest.config import SmtpSettings
from digest.refusals import KIND
from digest.services import Services, build_services
from tests.servers import smtp_server
from tests.smtp_faults import RefusingSink, on_free_port
from tests.test_pipeline import DAY1, feeds, make_settings, write_feed

__all__ = ["feeds"]  # the fixture, used by name

GONE = "rana@example.org"


@contextmanager
def mailing_through_a_refusing_server(
    tmp_path: Path, base_url: str, **refusing: Any
) -> Iterator[tuple[RefusingSink, Services, FixedClock]]:
    """The services of make_settings on DAY1, mailing over one connection to a real server that
    refuses GONE for good (a RefusingSink of ``refusing``); closed and stopped after the block."""
    sink = on_free_port(RefusingSink, refused=frozenset({GONE}), **refusing)
    smtp = SmtpSettings(host=sink.host, port=sink.port, tls="none", connections=1)
    settings = make_settings(tmp_path, base_url).model_copy(update={"smtp": smtp})
    clock = FixedClock(DAY1)
    with smtp_server(sink):
        services = build_services(settings, clock=clock)
        try:
            yield sink, services, clock
        finally:
            services.close()


def day_sent(services: Services, folder: Path, day: int) -> pipeline.CycleSummary:
    """The cycle of day ``day`` (from 0), with that day's story in the feed."""
    write_feed(folder, [(day + 1, f"Iran story {day + 1}", services.clock.now())])
    return pipeline.run_cycle(services, pipeline.InlineDispatcher(services))


def test_a_reader_refused_three_times_is_suppressed_and_gets_nothing_more(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    with mailing_through_a_refusing_server(tmp_path, base_url) as (sink, services, clock):
        for day in range(4):
            summary = day_sent(services, folder, day)
            assert summary.messages_delivered == 2, summary  # Sam and Li, every day
            refused = services.store.events_since(GONE, KIND, DAY1 - timedelta(days=1))
            assert refused == min(day + 1, 3)
            suppressed = services.store.suppression(services.address_key(GONE))
            assert (suppressed is not None) == (day >= 2), day
            clock.advance(timedelta(days=1))
    # Asked for on the first three days; suppressed after the third, never again.
    assert sink.asked == {GONE: 3}
    assert suppressed is not None and (suppressed.reason, suppressed.channel) == (
        "hard-bounce",
        "bounce",
    )


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org",
        "552 5.3.4 Message size exceeds fixed maximum message size",
        "552 Requested mail action aborted: exceeded storage allocation",
    ],
)
def test_a_refusal_for_the_sender_or_the_message_never_suppresses_the_reader(
    tmp_path: Path, feeds: tuple[Path, str], reply: str
) -> None:
    # A blocklisted sending address or an edition over the server's limit: the server refuses
    # every reader it holds alike, edition after edition, and none of them is gone.
    folder, base_url = feeds
    with mailing_through_a_refusing_server(tmp_path, base_url, reply=reply) as (
        sink,
        services,
        clock,
    ):
        for day in range(4):
            summary = day_sent(services, folder, day)
            assert summary.messages_delivered == 2, summary
            clock.advance(timedelta(days=1))
        assert services.store.events_since(GONE, KIND, DAY1 - timedelta(days=1)) == 0
        assert services.store.suppression(services.address_key(GONE)) is None
    assert sink.asked == {GONE: 4}  # still tried each day, and refused each day


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.1.1 <{address}>: Recipient address rejected: User unknown",
        "554 5.7.1 <{address}>: Client host [127.0.0.1] blocked using zen.spamhaus.org",
    ],
)
def test_a_refusal_is_logged_by_the_readers_id_never_their_address(
    tmp_path: Path, feeds: tuple[Path, str], reply: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A server blocklisting the sender refuses every reader it holds: a line naming each one's
    # address (and the reply quoting it again) wrote the server's share of the list into the
    # worker's log at every edition; so did each suppression after refusals.
    caplog.set_level(logging.INFO, logger="digest.refusals")
    folder, base_url = feeds
    with mailing_through_a_refusing_server(tmp_path, base_url, reply=reply) as (
        _sink,
        services,
        clock,
    ):
        for day in range(3):
            day_sent(services, folder, day)
            clock.advance(timedelta(days=1))
        gone = services.store.subscriber_by_email(GONE)
    assert gone is not None
    logged = [record.getMessage() for record in caplog.records if record.name == REFUSALS_LOGGER]
    assert logged, "each refusal not counted, or the suppression, is told"
    assert [line for line in logged if GONE in line] == []
    assert all(f"subscriber {gone.id}" in line for line in logged), logged


REFUSALS_LOGGER = "digest.refusals"
