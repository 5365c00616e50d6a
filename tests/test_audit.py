"""Bursts of unsubscribes from one domain (digest.audit), on made-up histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.audit import find_bursts

T = datetime(2026, 11, 24, 8, tzinfo=UTC)


def at(seconds: float, address: str, channel: str = "one-click") -> tuple[datetime, str, str, str]:
    return (T + timedelta(seconds=seconds), address, "daily", channel)


def test_a_scanner_burst_is_flagged_and_readers_leaving_alone_are_not() -> None:
    history = [at(30 * n, f"staff{n}@Corp.example") for n in range(7)]  # 3 minutes
    history += [at(600 * n, f"reader{n}@example.org") for n in range(7)]  # every 10 minutes
    history += [at(5, "one@other.example"), at(6, "two@other.example")]  # two is not five
    [burst] = find_bursts(history, minutes=10, threshold=5)
    assert (burst.domain, burst.count, burst.start, burst.end) == (
        "corp.example",
        7,
        T,
        T + timedelta(minutes=3),
    )
    assert burst.channels == (("one-click", 7),) and burst.lists == ("daily",)


def test_a_burst_ends_where_the_unsubscribes_thin_out_and_a_later_one_is_its_own() -> None:
    morning = [at(10 * n, f"a{n}@corp.example") for n in range(5)]
    evening = [at(36_000 + 10 * n, f"b{n}@corp.example", "unsubscribe-page") for n in range(6)]
    first, second = find_bursts(morning + evening, minutes=1, threshold=5)
    assert (first.count, second.count) == (5, 6)
    assert second.channels == (("unsubscribe-page", 6),)


def test_exactly_the_threshold_within_the_window_is_a_burst_and_one_second_more_is_not() -> None:
    edge = [at(0, "a@x.example"), at(90, "b@x.example"), at(180, "c@x.example")]
    assert [b.count for b in find_bursts(edge, minutes=3, threshold=3)] == [3]
    assert find_bursts(edge, minutes=3, threshold=4) == []
    assert find_bursts([*edge[:2], at(181, "c@x.example")], minutes=3, threshold=3) == []
