"""The hosts that asked to wait in one poll cycle (``HostPauses``): how long each is left alone."""

from __future__ import annotations

from datetime import timedelta

from digest.host_pauses import HostPauses
from tests.conftest import NOW

MINUTE = timedelta(minutes=1)
HOST = "https://news.example.org:443"


def test_a_host_that_asked_two_waits_is_left_alone_until_the_later_ends() -> None:
    # Two sections polled side by side, one answered "an hour", the other "five minutes" after:
    # the server asked for the hour, and a shorter answer does not lift it.
    pauses = HostPauses()
    pauses.pause(HOST, NOW + 60 * MINUTE)
    pauses.pause(HOST, NOW + 5 * MINUTE)
    pauses.pause("https://other.example.org:443", NOW + 90 * MINUTE)
    assert pauses.until(HOST, NOW + 10 * MINUTE) == NOW + 60 * MINUTE
    assert dict(pauses.hosts())[HOST] == NOW + 60 * MINUTE


def test_a_hosts_pause_is_over_at_the_time_it_said() -> None:
    # Retry-After: 3600 lets a poll ask again once the hour has passed, as a feed's own next
    # poll does (``polling.is_due``); a cycle that outlasts the wait polls the host's feeds.
    pauses = HostPauses()
    pauses.pause(HOST, NOW + 60 * MINUTE)
    assert pauses.until(HOST, NOW + 59 * MINUTE) == NOW + 60 * MINUTE
    assert pauses.until(HOST, NOW + 60 * MINUTE) is None
    assert pauses.until(HOST, NOW + 61 * MINUTE) is None
    assert pauses.until("https://other.example.org:443", NOW) is None
