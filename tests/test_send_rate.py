"""smtp.send_rate: at most so many messages to one mail server, from every worker together.

Times here are lower bounds only (a pace can only make sending slower; a slow machine makes the
figures larger, never smaller), each set well above what the same work takes unpaced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from limits.storage import MemoryStorage, RedisStorage
from redis.exceptions import RedisError

from digest import pipeline
from digest.clock import FixedClock
from digest.config import SmtpSettings, settings_from_mapping
from digest.errors import ConfigError
from digest.send_rate import (
    MOST_MESSAGES,
    WINDOW_CALL_SECONDS,
    Unlimited,
    WindowSendRate,
    parse_rate,
    send_rate_for,
)
from digest.services import build_services, default_send_rate
from tests.members import numbered_readers
from tests.servers import redis_cluster, redis_server, smtp_server
from tests.service_cluster import wait_for
from tests.test_pipeline import (
    DAY1,
    build_without_sending,
    feeds,
    make_settings,
    sending_to,
    write_feed,
)

__all__ = ["feeds"]  # the fixture, used by name


def paced(rate: WindowSendRate, messages: int) -> None:
    for _ in range(messages):
        rate.wait()


def test_a_rate_holds_messages_to_its_window() -> None:
    rate = WindowSendRate(parse_rate("10/second"), MemoryStorage(), "mx:25")
    started = time.monotonic()
    paced(rate, 25)  # 10 at once, 10 a second later, 5 a second after that
    assert time.monotonic() - started >= 1.9


def test_workers_on_one_redis_share_the_rate() -> None:
    with redis_server() as url:
        workers = [
            WindowSendRate(parse_rate("10/second"), RedisStorage(url), "mx.example.org:25")
            for _ in range(2)
        ]
        threads = [threading.Thread(target=paced, args=(rate, 15)) for rate in workers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    # 30 messages at 10 a second: two windows after the first. Each worker alone: one.
    assert elapsed >= 1.9


def test_embedded_processes_each_keep_a_share_of_the_rate() -> None:
    rate = send_rate_for("50/second", "mx:25", None, processes=4)
    assert isinstance(rate, WindowSendRate)
    share = rate._item  # 50 per 4 seconds: four processes together send 50 a second
    assert (share.amount, share.multiples, share.GRANULARITY.name) == (50, 4, "second")
    assert isinstance(send_rate_for(None, "mx:25", None, 4), Unlimited)


def test_the_distributed_mode_counts_on_the_brokers_redis(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9")
    smtp = SmtpSettings(host="mx.example.org", port=25, send_rate="20/second")
    distributed = settings.model_copy(
        update={
            "smtp": smtp,
            "service": settings.service.model_copy(update={"broker_url": "redis://127.0.0.1:9/0"}),
        }
    )
    rate = default_send_rate(distributed)
    assert isinstance(rate, WindowSendRate) and isinstance(rate._limiter.storage, RedisStorage)
    assert isinstance(default_send_rate(settings), Unlimited)  # the outbox folder: no pace


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("fast", "'fast' is not a rate"),
        ("0/second", "at least one message"),
        ("10/fortnight", "'10/fortnight' is not a rate"),
        # Read as 50/second alone: the hourly quota was dropped without a word.
        ("50/second;1000/hour", "'50/second;1000/hour' holds 2 rates: smtp.send_rate takes one"),
        ("50/second, 1000/hour", "holds 2 rates"),
        # Accepted, each failed every copy's wait on Redis ("value is not an integer or out of
        # range"), and so every delivery batch of the distributed mode.
        (f"{2**62}/second", "is past what a pace can be: at most 1000000000 messages"),
        ("5 per 1000000000000 years", "over a year at most"),
        # Read by limits as 5 per second: a window of no time at all is no window.
        ("5 per 0 seconds", "'5 per 0 seconds': the rate's window must be at least one unit long"),
        ("5/00 minutes", "window must be at least one unit long"),
    ],
)
def test_a_rate_that_is_not_one_is_refused_with_the_key(
    tmp_path: Path, value: str, reason: str
) -> None:
    raw = {
        "service": {
            "base_url": "https://news.example.org",
            "sender_name": "The Desk",
            "sender_address": "desk@example.org",
            "postal_address": "1 Example Street",
        },
        "smtp": {"host": "mx.example.org", "send_rate": value},
    }
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})
    assert "smtp.send_rate" in str(caught.value) and reason in str(caught.value)


def test_the_pace_on_a_redis_that_stopped_answering_gives_up_in_time() -> None:
    # redis-server paused (SIGSTOP), not down: the wait before each copy waited on it, holding
    # the batch, its rows and its mail server connection, until it woke or the batch's time
    # limit stopped it. It fails as with Redis down, and the batch leaves its rest pending.
    with redis_cluster() as server:
        rate = send_rate_for("50/second", "mx.example.org:25", server.url, processes=1)
        rate.wait()  # the window's script loaded, its connection open
        server.pause()
        looking = ThreadPoolExecutor(1)
        try:
            started = time.monotonic()
            wait = looking.submit(rate.wait)
            with pytest.raises(RedisError):
                wait.result(timeout=4 * WINDOW_CALL_SECONDS)  # before the fix: still waiting
            waited = time.monotonic() - started
        finally:
            server.resume()
            looking.shutdown()
        assert waited < 2 * WINDOW_CALL_SECONDS
        rate.wait()  # awake: paced again


def test_the_widest_rate_accepted_paces_on_redis() -> None:
    with redis_server() as url:
        for text in (f"{MOST_MESSAGES}/second", "1 per 366 days"):
            rate = send_rate_for(text, "mx.example.org:25", url, processes=1)
            rate.wait()  # no ResponseError from the moving window's script


def test_an_edition_over_two_embedded_connections_keeps_to_the_rate(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    readers = 26
    with smtp_server() as sink:
        settings = sending_to(
            sink, make_settings(tmp_path, base_url), connections=2, send_rate="10/second"
        )
        (tmp_path / "members.csv").write_text(numbered_readers(readers))
        services = build_services(settings, clock=FixedClock(DAY1))
        try:
            write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
            built = build_without_sending(services, "daily")
            ledger = services.store.pending_delivery_batches(built.edition_id, 13)
            dispatcher = pipeline.InlineDispatcher(services)
            dispatcher.prepare_delivery()  # the sending processes start before the clock runs
            started = time.monotonic()
            outcomes = list(dispatcher.deliver(built.edition_id, ledger))
            elapsed = time.monotonic() - started
        finally:
            services.close()
    assert sum(outcome.sent for outcome in outcomes) == readers
    assert len(sink.received) == readers
    # 10 a second in all: each of the two processes 10 per 2 seconds, so its 13 copies take
    # one 2-second window after the first. At the whole rate each, they would take one second.
    assert elapsed >= 1.9, f"{readers} copies in {elapsed:.2f} s at 10/second"


# libfaketime shifts the clock of the process it is preloaded into (Debian's `faketime`).
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# A worker's sending at "10/second" to the mail server all workers share, COPIES copies.
_SENDING = """
import sys
from digest.send_rate import send_rate_for
rate = send_rate_for("10/second", "mx.example.org:25", sys.argv[1], processes=1)
for _ in range(int(sys.argv[2])):
    rate.wait()
"""


def _worker_whose_clock_is_off(broker: str, seconds: int, copies: int) -> subprocess.Popen[bytes]:
    """A worker process whose clock is ``seconds`` off (ahead, or behind when negative),
    sending ``copies`` copies paced by the rate on ``broker``."""
    assert FAKETIME_LIBRARY.exists(), "apt-get install -y faketime"
    environ = os.environ | {
        "LD_PRELOAD": str(FAKETIME_LIBRARY),
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    return subprocess.Popen([sys.executable, "-c", _SENDING, broker, str(copies)], env=environ)


def test_a_worker_whose_clock_is_behind_another_s_gets_its_share_of_the_rate() -> None:
    # Dated by the server's clock, the copies of a worker two minutes ahead are counted as
    # this second's by the others too: they share the rate with it, neither waits it out.
    with redis_server() as url:
        ahead = _worker_whose_clock_is_off(url, +120, copies=150)
        try:
            with redis.Redis.from_url(url) as client:
                wait_for(lambda: bool(client.keys("*mx.example.org*")), "the worker's first copy")
            rate = send_rate_for("10/second", "mx.example.org:25", url, processes=1)
            started = time.monotonic()
            paced(rate, 10)  # a share of 10 a second, beside the other's: a few seconds
            elapsed = time.monotonic() - started
        finally:
            ahead.kill()
            ahead.wait()
    assert elapsed < 6


def test_a_worker_whose_clock_is_ahead_of_another_s_keeps_to_the_shared_rate() -> None:
    # The copies of a worker two minutes behind looked two minutes old to the others, which
    # sent their own on top of them: twice the rate the mail server allows.
    with redis_server() as url:
        behind = _worker_whose_clock_is_off(url, -120, copies=10)
        assert behind.wait(timeout=60) == 0
        rate = send_rate_for("10/second", "mx.example.org:25", url, processes=1)
        started = time.monotonic()
        paced(rate, 10)
        assert time.monotonic() - started >= 0.5
