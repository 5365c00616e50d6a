"""The pure polling decisions: adaptive interval, backoff with jitter, Retry-After, 410 Gone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digest import polling
from digest.config import FeedSettings, IngestSettings
from digest.ingest.fetch_errors import retry_after_seconds
from digest.store import FeedState

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
BOUNDS = polling.PollBounds(
    min_interval=15 * MINUTE, max_interval=24 * 60 * MINUTE, max_backoff=6 * 60 * MINUTE
)


def test_bounds_come_from_ingest_and_the_feed_may_override_them() -> None:
    ingest = IngestSettings(
        min_interval_minutes=10, max_interval_minutes=600, max_backoff_minutes=90
    )
    assert polling.bounds_for(ingest) == polling.PollBounds(10 * MINUTE, 600 * MINUTE, 90 * MINUTE)
    feed = FeedSettings(url="https://a.example/rss", name="A", min_interval_minutes=60)
    assert polling.bounds_for(ingest, feed).min_interval == 60 * MINUTE
    assert polling.bounds_for(ingest, feed).max_interval == 600 * MINUTE
    slow = FeedSettings(url="https://b.example/rss", name="B", max_interval_minutes=7 * 24 * 60)
    assert polling.bounds_for(ingest, slow).max_interval == timedelta(days=7)


def test_defaults_are_polite() -> None:
    bounds = polling.bounds_for(IngestSettings())
    assert bounds.min_interval == 15 * MINUTE
    assert bounds.max_interval == timedelta(days=1)
    assert IngestSettings().max_concurrency == 16
    assert IngestSettings().per_host_concurrency == 2


@pytest.mark.parametrize(
    ("entries_per_day", "interval"),
    [
        (None, 15 * MINUTE),  # not known yet: the shortest interval until it is
        (0.0, 24 * 60 * MINUTE),  # quiet: the longest
        (24.0, 60 * MINUTE),  # one an hour: poll hourly
        (4.0, 6 * 60 * MINUTE),
        (1000.0, 15 * MINUTE),  # never faster than the floor
        (0.1, 24 * 60 * MINUTE),  # never slower than the ceiling
    ],
)
def test_the_interval_follows_the_publishing_rate_within_bounds(
    entries_per_day: float | None, interval: timedelta
) -> None:
    assert polling.interval_for(entries_per_day, BOUNDS) == interval


def test_a_feed_publishing_every_other_day_and_allowed_a_week_is_polled_every_two_days() -> None:
    # Under a day's ceiling every rate of a day or less comes out at the ceiling; above it, a
    # slow publisher is asked once per entry it is expected to publish, not once a week.
    weekly_ceiling = replace(BOUNDS, max_interval=timedelta(days=7))
    assert polling.interval_for(0.5, weekly_ceiling) == timedelta(days=2)
    assert polling.interval_for(1.0, weekly_ceiling) == timedelta(days=1)
    assert polling.interval_for(0.0, weekly_ceiling) == timedelta(days=7)


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 0.999])
def test_jitter_spreads_the_next_poll_by_at_most_a_tenth(jitter: float) -> None:
    when = polling.next_poll_after_success(NOW, 24.0, BOUNDS, jitter)
    assert NOW + 54 * MINUTE <= when <= NOW + 66 * MINUTE
    # and never outside the bounds
    fast = polling.next_poll_after_success(NOW, 1000.0, BOUNDS, jitter)
    assert NOW + 15 * MINUTE <= fast <= NOW + 17 * MINUTE
    slow = polling.next_poll_after_success(NOW, 0.0, BOUNDS, jitter)
    assert slow <= NOW + timedelta(days=1)


def test_the_jitter_actually_moves_the_time() -> None:
    low = polling.next_poll_after_success(NOW, 24.0, BOUNDS, 0.0)
    high = polling.next_poll_after_success(NOW, 24.0, BOUNDS, 0.999)
    assert high - low > 10 * MINUTE


def test_backoff_doubles_after_each_error_and_is_capped() -> None:
    delays = [polling.backoff_delay(errors, BOUNDS, jitter=0.0) for errors in range(1, 8)]
    minutes = [delay / MINUTE for delay in delays]
    assert minutes == [15, 30, 60, 120, 240, 360, 360]
    assert polling.backoff_delay(1000, BOUNDS, jitter=0.0) == BOUNDS.max_backoff


def test_backoff_jitter_adds_up_to_a_quarter_and_never_passes_the_cap() -> None:
    assert polling.backoff_delay(2, BOUNDS, jitter=0.999) > 37 * MINUTE
    assert polling.backoff_delay(2, BOUNDS, jitter=0.999) <= 37.5 * MINUTE
    assert polling.backoff_delay(6, BOUNDS, jitter=0.999) == BOUNDS.max_backoff


def test_backoff_never_goes_below_the_minimum_interval() -> None:
    tight = polling.PollBounds(
        min_interval=60 * MINUTE, max_interval=120 * MINUTE, max_backoff=MINUTE
    )
    assert polling.backoff_delay(1, tight, jitter=0.5) == 60 * MINUTE
    assert polling.backoff_delay(9, tight, jitter=0.5) == 60 * MINUTE


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    when = polling.next_poll_after_failure(NOW, 1, BOUNDS, 0.0, retry_after=7200)
    assert when == NOW + timedelta(hours=2)
    # Shorter than the backoff: the backoff wins, since polling sooner than it is never polite.
    sooner = polling.next_poll_after_failure(NOW, 3, BOUNDS, 0.0, retry_after=60)
    assert sooner == NOW + 60 * MINUTE
    # Absurd values are bounded.
    far = polling.next_poll_after_failure(NOW, 1, BOUNDS, 0.0, retry_after=10**12)
    assert far == NOW + polling.RETRY_AFTER_LIMIT


def test_only_a_retry_after_cut_to_the_limit_is_called_a_mistake() -> None:
    # The operator reads this beside the feed's error: a wait of an hour, or of exactly the
    # limit, is kept as the server asked and nothing about it is a mistake.
    week = polling.RETRY_AFTER_LIMIT.total_seconds()
    assert polling.overlong_wait(None) is None
    assert polling.overlong_wait(3600) is None
    assert polling.overlong_wait(week) is None
    assert polling.next_poll_after_failure(NOW, 1, BOUNDS, 0.0, retry_after=week) == NOW + (
        polling.RETRY_AFTER_LIMIT
    )
    told = polling.overlong_wait(week + 1)
    assert told is not None and "asked again in 7 days" in told


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("120") == 120.0
    date = "Wed, 11 Jun 2025 07:00:00 GMT"
    assert retry_after_seconds(date, "Wed, 11 Jun 2025 06:30:00 GMT") == 1800.0
    assert retry_after_seconds(date, "Wed, 11 Jun 2025 08:00:00 GMT") == 0.0  # already past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds(None) is None
    # A date and no Date header: measured by the caller's clock, or not at all.
    assert retry_after_seconds(date, None, datetime(2025, 6, 11, 6, 0, tzinfo=UTC)) == 3600.0
    assert retry_after_seconds(date) is None


def test_only_410_disables_a_feed_and_the_message_says_how_to_undo_it() -> None:
    reason = polling.disabled_reason_for(410, "https://a.example/rss")
    assert reason is not None
    assert "410 Gone" in reason
    assert "digest feeds enable https://a.example/rss" in reason
    for status in (None, 404, 429, 500, 503):
        assert polling.disabled_reason_for(status, "https://a.example/rss") is None


def test_the_rate_comes_from_the_entries_dates() -> None:
    hourly = [NOW - timedelta(hours=n) for n in range(1, 49)]
    assert polling.estimate_entries_per_day(hourly, NOW) == pytest.approx(24.0)
    daily = [NOW - timedelta(days=n) for n in range(1, 11)]
    assert polling.estimate_entries_per_day(daily, NOW) == pytest.approx(1.0)


def test_old_entries_mean_a_quiet_feed_and_future_ones_are_ignored() -> None:
    old = [NOW - timedelta(days=40 + n) for n in range(10)]
    assert polling.estimate_entries_per_day(old, NOW) == 0.0
    future = [NOW + timedelta(days=1), NOW - timedelta(days=2), NOW - timedelta(days=4)]
    assert polling.estimate_entries_per_day(future, NOW) == pytest.approx(0.5)


def test_an_entry_stamped_at_the_poll_or_at_the_window_s_edge_counts_toward_the_rate() -> None:
    # A story published the second the feed is polled is one of its entries, as is one exactly
    # RATE_WINDOW old: two entries two days apart are one a day, and a month's two are 2 / 30,
    # not one in the last day.
    assert polling.estimate_entries_per_day([NOW, NOW - timedelta(days=2)], NOW) == 1.0
    edge = [NOW - polling.RATE_WINDOW, NOW - timedelta(days=1)]
    assert polling.estimate_entries_per_day(edge, NOW) == pytest.approx(2 / 30)


def test_entries_stamped_all_at_once_do_not_look_like_thousands_a_day() -> None:
    stamped = [NOW - timedelta(seconds=1)] * 50
    rate = polling.estimate_entries_per_day(stamped, NOW)
    assert rate == pytest.approx(50 * 24)  # spread over at least an hour
    assert polling.interval_for(rate, BOUNDS) == BOUNDS.min_interval


def test_undated_feeds_are_judged_by_new_entries_over_time() -> None:
    assert polling.estimate_entries_per_day([None, None], NOW) is None  # first poll: unknown
    first = polling.estimate_entries_per_day(
        [None] * 5, NOW, previous=None, new_entries=2, elapsed=timedelta(hours=12)
    )
    assert first == pytest.approx(4.0)
    # Nothing new for a day: the estimate falls, but smoothly.
    later = polling.estimate_entries_per_day(
        [None] * 5, NOW, previous=4.0, new_entries=0, elapsed=timedelta(days=1)
    )
    assert later is not None and 1.0 < later < 2.0
    assert polling.estimate_entries_per_day([None], NOW, previous=3.0) == 3.0
    # Two polls at one instant (a forced poll beside a due one) tell nothing of time either.
    same_instant = polling.estimate_entries_per_day(
        [None], NOW, previous=3.0, new_entries=2, elapsed=timedelta(0)
    )
    assert same_instant == 3.0


def test_a_feed_never_polled_is_due() -> None:
    assert polling.is_due(None, NOW)
    assert polling.is_due(NOW, NOW)
    assert not polling.is_due(NOW + MINUTE, NOW)


def test_a_feed_whose_last_poll_is_dated_after_now_is_due() -> None:
    """The clock stepped back past the last poll (NTP correcting a clock that ran a day fast):
    the next poll time, counted on the fast clock, was a day away, and no feed was polled."""
    assert polling.is_due(NOW + 6 * 60 * MINUTE, NOW, last_polled_at=NOW + 5 * 60 * MINUTE)
    assert not polling.is_due(NOW + 60 * MINUTE, NOW, last_polled_at=NOW)
    assert not polling.is_due(NOW + 60 * MINUTE, NOW, last_polled_at=NOW - MINUTE)


def test_a_host_is_its_scheme_host_and_port_whatever_the_case_or_default_port() -> None:
    same = [
        "https://News.Example.ORG/world.rss",
        "HTTPS://news.example.org:443/business?x=1",
        "https://user:secret@news.example.org/middle-east",
        "https://news.example.org./gulf",  # the root's dot: the same name to DNS
    ]
    assert {polling.host_of(url) for url in same} == {"https://news.example.org:443"}
    # A name in Unicode and in its ASCII form is one server: each had a pause of its own.
    unicode = polling.host_of("https://Bücher.example/feed")
    assert unicode == polling.host_of("https://xn--bcher-kva.example/other")
    assert unicode == "https://xn--bcher-kva.example:443"
    assert polling.host_of("http://news.example.org/world") == "http://news.example.org:80"
    others = [
        "http://news.example.org/a",
        "https://news.example.org:8443/a",
        "https://example.org/a",
    ]
    assert len({polling.host_of(url) for url in others}) == 3


def feed(feed_id: int, url: str, **state: Any) -> FeedState:
    """A stored feed at ``url``, healthy and due in an hour but for ``state``."""
    defaults: dict[str, Any] = {
        "name": url,
        "enabled": True,
        "etag": None,
        "last_modified": None,
        "last_fetched_at": None,
        "last_status": None,
        "last_error": None,
        "consecutive_errors": 0,
        "next_poll_at": NOW + 60 * MINUTE,
    }
    return FeedState(feed_id, url, **{**defaults, **state})


def test_a_feed_not_yet_due_is_paused_while_another_of_its_host_waits_on_a_retry_after() -> None:
    waiting = feed(
        1,
        "https://news.example.org/world",
        last_status=429,
        consecutive_errors=1,
        last_error="rate limited (HTTP 429); the server asks to retry after 3600 seconds "
        "(Retry-After: 3600)",
        wait_asked_by="https://news.example.org:443",
        wait_asked_until=NOW + 60 * MINUTE,
    )
    sibling = feed(2, "https://NEWS.example.org:443/business")
    stranger = feed(3, "https://other.example.org/world")
    feeds = [waiting, sibling, stranger]
    assert polling.paused_by(sibling, feeds, NOW) == waiting
    assert polling.paused_by(waiting, feeds, NOW) == waiting  # even a poll forced waits
    assert polling.paused_by(stranger, feeds, NOW) is None
    assert polling.paused_by(sibling, feeds, NOW + 60 * MINUTE) is None  # the pause is over
    # Due or not: a poll under way when the host answered may have recorded an earlier time.
    due = feed(4, "https://news.example.org/sport", next_poll_at=NOW)
    assert polling.paused_by(due, feeds, NOW) == waiting
    # A 429 without Retry-After is the feed's own backoff, not the host's pause.
    plain = feed(1, waiting.url, last_status=429, consecutive_errors=1, last_error="rate limited")
    assert polling.paused_by(sibling, [plain, sibling], NOW) is None
    # The store's record of who asked decides, not the error's words.
    reworded = replace(waiting, last_error="too many requests; come back in an hour")
    assert polling.paused_by(sibling, [reworded, sibling], NOW) == reworded
    # A redirect took the poll to another host, which asked: that host's feeds wait, not the
    # feed's own host's.
    redirected = replace(waiting, wait_asked_by="https://cdn.example.net:443")
    on_the_cdn = feed(5, "https://CDN.example.net/world")
    assert polling.paused_by(on_the_cdn, [redirected, on_the_cdn], NOW) == redirected
    assert polling.paused_by(sibling, [redirected, sibling], NOW) is None
    # The pause ends when the server said, however much later the feed's own backoff is.
    backing_off = replace(waiting, next_poll_at=NOW + 8 * 60 * MINUTE)
    assert polling.paused_by(sibling, [backing_off, sibling], NOW + 59 * MINUTE) == backing_off
    # Asked at a poll dated after now (a clock that ran a day fast, set right), the wait's end
    # was counted on that clock: the host's feeds were held back the whole day.
    ahead = replace(
        waiting, last_fetched_at=NOW + 24 * 60 * MINUTE, wait_asked_until=NOW + 25 * 60 * MINUTE
    )
    assert polling.paused_by(sibling, [ahead, sibling], NOW) is None
    assert polling.paused_by(sibling, [backing_off, sibling], NOW + 61 * MINUTE) is None


def test_only_the_feeds_put_off_to_a_wait_asked_on_a_clock_since_set_back_are_due_by_it() -> None:
    end = NOW + 25 * 60 * MINUTE  # an hour's wait, asked on a clock a day fast
    asker = feed(
        1,
        "https://news.example.org/world",
        last_status=503,
        consecutive_errors=1,
        last_fetched_at=NOW + 24 * 60 * MINUTE,
        next_poll_at=end,
        wait_asked_by="https://news.example.org:443",
        wait_asked_until=end,
    )
    put_off = feed(2, "https://news.example.org/business", next_poll_at=end)
    own_time = feed(3, "https://news.example.org/sport", next_poll_at=end + MINUTE)
    stranger = feed(4, "https://other.example.org/world", next_poll_at=end)
    on_time = replace(asker, last_fetched_at=NOW - MINUTE)  # asked on this clock: it holds
    ahead = polling.pauses_asked_ahead([asker, put_off, own_time, stranger], NOW)
    assert ahead == {"https://news.example.org:443": end}
    assert polling.put_off_by_a_clock_ahead(put_off, ahead)
    assert not polling.put_off_by_a_clock_ahead(own_time, ahead)
    assert not polling.put_off_by_a_clock_ahead(stranger, ahead)
    assert polling.pauses_asked_ahead([on_time, put_off], NOW) == {}


def test_a_host_that_asked_twice_on_a_clock_ahead_is_known_by_its_later_wait() -> None:
    # Two feeds of one publisher answered 503 on a clock a day fast, the first with two hours'
    # wait, the second with one: the host's other feeds were put off to the later end, so that
    # is the end they are known by once the clock is set right, whichever feed comes first.
    day_ahead = NOW + 24 * 60 * MINUTE
    later, earlier = day_ahead + 120 * MINUTE, day_ahead + 60 * MINUTE
    asked = {
        "last_status": 503,
        "consecutive_errors": 1,
        "last_fetched_at": day_ahead,
        "wait_asked_by": "https://news.example.org:443",
    }
    longer = feed(1, "https://news.example.org/world", next_poll_at=later, **asked)
    shorter = feed(2, "https://news.example.org/sport", next_poll_at=earlier, **asked)
    longer = replace(longer, wait_asked_until=later)
    shorter = replace(shorter, wait_asked_until=earlier)
    put_off = feed(3, "https://news.example.org/business", next_poll_at=later)
    for order in ([longer, shorter, put_off], [shorter, longer, put_off]):
        ahead = polling.pauses_asked_ahead(order, NOW)
        assert ahead == {"https://news.example.org:443": later}
        assert polling.put_off_by_a_clock_ahead(put_off, ahead)


def test_a_wait_asked_at_this_very_instant_was_asked_on_this_clock_and_holds() -> None:
    end = NOW + 60 * MINUTE
    asker = feed(
        1,
        "https://news.example.org/world",
        last_status=503,
        consecutive_errors=1,
        last_fetched_at=NOW,
        next_poll_at=end,
        wait_asked_by="https://news.example.org:443",
        wait_asked_until=end,
    )
    put_off = feed(2, "https://news.example.org/business", next_poll_at=end)
    assert polling.pauses_asked_ahead([asker, put_off], NOW) == {}
    assert polling.paused_by(put_off, [asker, put_off], NOW) == asker
