"""The guarded network stack below httpx: address checks, one deadline, the CPU turn.

Each connection resolves the host itself, checks the addresses (no private, loopback or
link-local address unless the settings allow it) and connects to the very address it checked, so
a DNS answer cannot change between the check and the connection. The lookup and every socket
read and write are bounded by one deadline for the whole fetch (``deadline``), so a server that
drips a byte at a time is cut off on time. And a poll gives its CPU turn up
(``digest.concurrency``) where a call would wait on the network.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

import httpcore
import httpx

from digest.concurrency import cpu_turn

# host, port -> the IP addresses to try, in order
Resolver = Callable[[str, int], list[str]]
# A socket option as httpcore passes it on (its own alias is private): level, name, value.
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# Host name lookups run here so that a slow DNS server cannot hold a fetch past its deadline.
_lookups = ThreadPoolExecutor(max_workers=32, thread_name_prefix="digest-dns")

# When the fetch running in this context must be over (time.monotonic()); read by every socket call.
_deadline: ContextVar[float | None] = ContextVar("digest_fetch_deadline", default=None)


@contextmanager
def deadline(moment: float) -> Iterator[None]:
    """Every network call made meanwhile, in this context, ends by ``moment`` (time.monotonic())."""
    token = _deadline.set(moment)
    try:
        yield
    finally:
        _deadline.reset(token)


# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address it translates to.
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefusedError(Exception):
    """A host resolved to an address that feeds may not be fetched from (fetch explains it)."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.address = address
        super().__init__(f"{host} resolves to {address}")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local..."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 reaches the IPv4 host: judge that one. NAT64's prefix
        # is what an IPv6-only host with DNS64 is given for every IPv4-only server: judged as a
        # whole, such servers were all refused (or, on a Python that calls the prefix global,
        # a private address behind it let through).
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    # fec0::/10, IPv6's old site-local range: deprecated, so ``is_global`` still calls it
    # public, but networks that kept it route it inside the site, as 10.0.0.0/8.
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or site_local
    )


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the order the system prefers them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise httpcore.ConnectError(f"cannot resolve the host name {host!r}: {error}") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left before the current fetch's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the deadline for this fetch has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every call keeps the fetch's deadline, and gives the poll's CPU turn
    up (``digest.concurrency``) while it would wait on the network."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        # TLS may hold a whole record back from a readable socket, or have one buffered on a
        # quiet one: with TLS, every call may wait. A plain socket says whether it would.
        self._socket: socket.socket | None = (
            None
            if inner.get_extra_info("ssl_object") is not None
            else inner.get_extra_info("socket")
        )

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._ready(select.POLLIN):
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        with cpu_turn.waiting():
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._ready(select.POLLOUT):
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
            return
        with cpu_turn.waiting():
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def _ready(self, event: int) -> bool:
        """Whether a plain socket can be read or written without waiting: then the turn is
        kept (on a busy host most reads find their data there, and handing the turn over at
        each would cost more than the read)."""
        if self._socket is None or not cpu_turn.held:
            return False
        poller = select.poll()  # not select.select, which fails past 1,024 open files
        poller.register(self._socket, event)
        return bool(poller.poll(0))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        with cpu_turn.waiting():  # the handshake's round trips
            inner = self._inner.start_tls(
                ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
            )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private_addresses: bool, resolver: Resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private_addresses = allow_private_addresses
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        with cpu_turn.waiting():  # on DNS, then on the connection
            return self._connect_tcp(host, port, timeout, local_address, socket_options)

    def _connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, _bounded(timeout, httpcore.ConnectTimeout))
        if not self._allow_private_addresses:
            for address in addresses:
                if not is_public_address(address):
                    raise AddressRefusedError(host, address)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error
                continue
            return _DeadlineStream(stream)
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The resolver's answer, within ``timeout``: getaddrinfo itself cannot be interrupted."""
        try:
            return [str(ipaddress.ip_address(host))]  # a literal needs no lookup
        except ValueError:
            pass
        if timeout is None:
            return self._resolver(host, port)
        lookup = _lookups.submit(self._resolver, host, port)
        try:
            return lookup.result(timeout=timeout)
        except FutureTimeout:
            # The lookup finishes in its thread on its own; this fetch does not wait for it.
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("feeds are not fetched over unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; one context serves every client.
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a network backend that checks addresses and keeps the deadline."""

    def __init__(self, *, allow_private_addresses: bool, resolver: Resolver = resolve_host) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport offers no way to choose the network backend, so its pool is replaced by one
        # built the same way over ours; test_fetch covers both the checks and the deadline.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            # No limit: the poller's own concurrency bounds the connections in use, and a
            # request waiting for the pool to give it one would hold the CPU turn that the
            # polls using the others need to finish.
            max_connections=None,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(
                allow_private_addresses=allow_private_addresses, resolver=resolver
            ),
        )
