"""A reader the mail server refuses for good (5xx) is counted, and suppressed after
smtp.suppress_after_refusals refusals of different editions; each refusal fails its delivery at
once. A real SMTP server (aiosmtpd) refuses the address."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller

from digest import pipeline
from digest.clock import FixedClock
from digest.config import SmtpSettings
from digest.refusals import KIND
from digest.services import build_services
from tests.smtp_faults import RefusingSink, on_free_port
from tests.test_pipeline import DAY1, feeds, make_settings, write_feed

__all__ = ["feeds"]  # the fixture, used by name

GONE = "rana@example.org"


def test_a_reader_refused_three_times_is_suppressed_and_gets_nothing_more(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    sink = on_free_port(RefusingSink, refused=frozenset({GONE}))
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    smtp = SmtpSettings(host=sink.host, port=sink.port, tls="none", connections=1)
    settings = make_settings(tmp_path, base_url).model_copy(update={"smtp": smtp})
    clock = FixedClock(DAY1)
    services = build_services(settings, clock=clock)
    try:
        for day in range(4):
            write_feed(folder, [(day + 1, f"Iran story {day + 1}", clock.now())])
            summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
            assert summary.messages_delivered == 2, summary  # Sam and Li, every day
            refused = services.store.events_since(GONE, KIND, DAY1 - timedelta(days=1))
            assert refused == min(day + 1, 3)
            suppressed = services.store.suppression(services.address_key(GONE))
            assert (suppressed is not None) == (day >= 2), day
            clock.advance(timedelta(days=1))
    finally:
        services.close()
        controller.stop()
    # Asked for on the first three days; suppressed after the third, never again.
    assert sink.asked == {GONE: 3}
    assert suppressed is not None and (suppressed.reason, suppressed.channel) == (
        "hard-bounce",
        "bounce",
    )
