"""The client address a sign-up is counted under: the socket's, unless a trusted proxy says."""

from __future__ import annotations

from digest.web.clients import UNKNOWN, client_address, counted_as, trusted_networks

PROXY = trusted_networks(["127.0.0.1", "10.0.0.0/8"])


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    assert client_address("192.0.2.1", ["203.0.113.7"], ()) == "192.0.2.1"
    assert client_address(None, ["203.0.113.7"], ()) == UNKNOWN


def test_a_trusted_proxy_is_believed_for_the_hop_it_added_only() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7"], PROXY) == "203.0.113.7"
    # The client forged its own header; the proxy appended the address it saw.
    assert client_address("127.0.0.1", ["198.51.100.1, 203.0.113.7"], PROXY) == "203.0.113.7"
    # Two proxies of ours in a row, and the header split over two lines.
    assert client_address("10.1.1.1", ["198.51.100.1", "203.0.113.7, 10.2.2.2"], PROXY) == (
        "203.0.113.7"
    )
    # A request from outside the proxies: its header is the client's own word.
    assert client_address("192.0.2.1", ["203.0.113.7"], PROXY) == "192.0.2.1"


def test_garbage_in_the_header_stops_at_the_last_address_vouched_for() -> None:
    assert client_address("127.0.0.1", ["not-an-address"], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.7, unknown"], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", [""], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", [], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", ["x" * 10_000], PROXY) == "127.0.0.1"


def test_ports_brackets_and_mapped_addresses_are_one_client() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7:5123"], PROXY) == "203.0.113.7"
    assert client_address("127.0.0.1", ["[2001:db8::1]:443"], PROXY) == "2001:db8::1"
    assert client_address("::ffff:192.0.2.1", [], ()) == "192.0.2.1"
    v6 = trusted_networks(["::1"])
    assert client_address("::1", ["2001:db8::5"], v6) == "2001:db8::5"
    assert client_address("::1", ["2001:db8::5"], PROXY) == "::1"  # v4 networks: not trusted


def test_an_ipv6_client_counts_as_its_slash_64() -> None:
    # One line or one server holds a whole /64: counted per address, it would be 2^64 clients.
    assert (
        counted_as("2001:db8:1:2::a") == counted_as("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert counted_as("2001:db8:1:3::a") == "2001:db8:1:3::/64"
    assert counted_as("203.0.113.7") == "203.0.113.7"
    assert counted_as(UNKNOWN) == UNKNOWN
