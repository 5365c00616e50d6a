"""Who is asking: the client address a request's rate limits are counted under.

    the socket's peer ─► not a trusted proxy (web.trusted_proxies; none by default) ─► it
                     ─► a trusted proxy ─► X-Forwarded-For read from the right, past every
                        trusted proxy: the first address no trusted proxy added
    the client ─► counted_as: an IPv6 address counts as its /64, the network one line gets

X-Forwarded-For is written by whoever sends the request, so it is believed only from the
proxies the operator names, and only as far as they vouch for it: a client that sends its own
header gets its forged addresses prepended by the proxy, and the right-most address that is
not a trusted proxy's is the one the proxy saw. uvicorn's own reading of the header is off
(digest.web.server), so this is the only one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"  # a request with no peer (a test client, a Unix socket)
IPV6_PREFIX = 64  # the network one subscriber line or one server is given


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """The networks of ``web.trusted_proxies`` (checked when the config was read)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The address to count a request under; ``forwarded_for`` holds the values of every
    X-Forwarded-For header, in order."""
    current = _parse(peer)
    if current is None:
        return peer or UNKNOWN
    if not trusted or not _within(current, trusted):
        return str(current)
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # garbage a trusted proxy passed on: stop at the last good hop
            break
        current = address
        if not _within(address, trusted):
            break
    return str(current)


def counted_as(client: str) -> str:
    """What a client's requests are counted under: an IPv4 address as it is, an IPv6 one by
    its /64 network. A home or a server is given a whole /64 (2^64 addresses), and a client
    that counted per address could take a new one for every sign-up."""
    address = _parse(client)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return client


def _parse(text: str | None) -> Address | None:
    if not text or len(text) > 64:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)
