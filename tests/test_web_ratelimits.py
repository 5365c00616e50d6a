"""The sign-up form's rate limits: moving windows per client and per address, in memory or
shared by every web process through Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from limits.storage import MemoryStorage, RedisStorage

from digest.config import settings_from_mapping
from digest.send_rate import WINDOW_CALL_SECONDS
from digest.web.ratelimits import LimitsUnavailable, SignUpLimits, sign_up_limits
from tests.servers import free_port, redis_cluster, redis_server

# The [service] table every config of these tests needs, and nothing of the web's.
SERVICE = {
    "base_url": "https://news.example.org",
    "sender_name": "Desk",
    "sender_address": "desk@example.org",
    "postal_address": "1 Street",
}


def test_each_window_counts_its_own_kind_and_key() -> None:
    limits = SignUpLimits("3/hour", "2/hour", MemoryStorage())
    assert [limits.client("192.0.2.1") for _ in range(3)] == [None, None, None]
    wait = limits.client("192.0.2.1")
    assert wait is not None and 1 <= wait <= 3600
    assert limits.client("192.0.2.2") is None  # another client
    assert [limits.address("key-a") for _ in range(2)] == [None, None]
    assert limits.address("key-a") is not None
    assert limits.address("key-b") is None
    assert limits.address("192.0.2.2") is None  # a key and a client never share a window


def test_an_address_has_a_days_window_beside_its_hours() -> None:
    limits = SignUpLimits("100/hour", "10/hour", MemoryStorage(), per_address_daily="4/day")
    assert [limits.address("key-a") for _ in range(4)] == [None] * 4
    wait = limits.address("key-a")  # within the hour's ten, past the day's four
    assert wait is not None and 23 * 3600 < wait <= 24 * 3600
    assert limits.address("key-b") is None


def test_the_days_window_of_an_address_is_on_by_default(tmp_path: Path) -> None:
    settings = settings_from_mapping({"service": SERVICE}, source=tmp_path / "d.toml", environ={})
    assert settings.web.signup_rate_per_address == "3/hour"
    assert settings.web.signup_rate_per_address_daily == "6/day"


def test_web_processes_on_one_redis_share_the_counts() -> None:
    with redis_server() as url:
        first = SignUpLimits("2/hour", "2/hour", RedisStorage(url))
        second = SignUpLimits("2/hour", "2/hour", RedisStorage(url))
        assert first.address("key") is None
        assert second.address("key") is None
        assert first.address("key") is not None
        assert second.address("key") is not None
        assert second.address("other") is None


def test_a_redis_that_does_not_answer_is_a_503_not_a_free_pass() -> None:
    limits = SignUpLimits("2/hour", "2/hour", RedisStorage(f"redis://127.0.0.1:{free_port()}/0"))
    with pytest.raises(LimitsUnavailable):
        limits.client("192.0.2.1")


def test_the_broker_decides_where_the_counts_live(tmp_path: Path) -> None:
    raw = {
        "service": SERVICE,
        "web": {"signup_rate_per_client": "5 per 10 minutes"},
    }
    embedded = settings_from_mapping(raw, source=tmp_path / "d.toml", environ={})
    with redis_server() as url:
        environ = {"DIGEST_BROKER_URL": url}
        distributed = settings_from_mapping(raw, source=tmp_path / "d.toml", environ=environ)
        shared = [sign_up_limits(distributed), sign_up_limits(distributed)]
        alone = [sign_up_limits(embedded), sign_up_limits(embedded)]
        for limits in (shared, alone):
            for _ in range(5):
                assert limits[0].client("c") is None
        assert shared[1].client("c") is not None  # the second process sees the first's count
        assert alone[1].client("c") is None  # each process its own memory


def test_a_rate_that_is_no_rate_is_refused_naming_the_key(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    raw = {
        "service": SERVICE,
        "web": {
            "signup_rate_per_address": "lots",
            "trusted_proxies": ["not-a-network"],
            "embed_origins": ["https://ok.example.org", "https://x.example.org; script-src *"],
        },
    }
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(raw, source=tmp_path / "d.toml", environ={})
    text = str(raised.value)
    assert "web.signup_rate_per_address" in text and "'lots' is not a rate" in text
    assert "web.trusted_proxies" in text and "not-a-network" in text
    assert "web.embed_origins" in text and "is not an origin" in text


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0", "0.0.0.0/0.0.0.0"])
def test_trusting_every_address_as_a_proxy_is_refused_naming_the_key(
    tmp_path: Path, everyone: str
) -> None:
    """A proxy list that holds every address (written as a container setup trusts "*")
    believed the X-Forwarded-For header of any client, who wrote a new address into it for
    each sign-up: the per-client limit was no limit, and nothing said so."""
    from digest.errors import ConfigError

    raw = {
        "service": SERVICE,
        "web": {"trusted_proxies": ["127.0.0.1", everyone]},
    }
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(raw, source=tmp_path / "d.toml", environ={})
    text = str(raised.value)
    assert "web.trusted_proxies" in text and "holds every address" in text, text
    kept = {**raw, "web": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]}}
    assert settings_from_mapping(kept, source=tmp_path / "d.toml", environ={}).web.trusted_proxies


def test_the_limits_on_a_redis_that_stopped_answering_give_up_in_time(tmp_path: Path) -> None:
    # redis-server paused (SIGSTOP), not down: the count of a sign-up waited on it with no
    # bound, and with it the request and the thread it ran on, one more at each sign-up.
    raw = {
        "service": SERVICE,
    }
    with redis_cluster() as server:
        environ = {"DIGEST_BROKER_URL": server.url}
        settings = settings_from_mapping(raw, source=tmp_path / "d.toml", environ=environ)
        limits = sign_up_limits(settings)
        assert limits.client("192.0.2.1") is None  # the connection open, the script loaded
        server.pause()
        counting = ThreadPoolExecutor(1)
        try:
            started = time.monotonic()
            count = counting.submit(limits.client, "192.0.2.2")
            with pytest.raises(LimitsUnavailable):
                count.result(timeout=4 * WINDOW_CALL_SECONDS)  # before the fix: still waiting
            waited = time.monotonic() - started
        finally:
            server.resume()
            counting.shutdown()
    assert waited < 2 * WINDOW_CALL_SECONDS
