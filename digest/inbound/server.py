"""The inbound receiver: an SMTP (or LMTP) server for the bounce and unsubscribe addresses.

    connect ─► more than inbound.max_connections open? ─► 421, closed (the sender tries later)
            ─► closed with 421 after SESSION_SECONDS whatever it does, and after 5 minutes
               without a command (aiosmtpd's idle timeout)
    RCPT TO ─► the bounce mailbox (local_part, local_part+TOKEN) or the unsubscribe address?
               else 550, so the sending server bounces it (we are nobody's mailbox)
    DATA    ─► at most inbound.max_message_bytes (else 552) ─► read.read_inbound
            ─► take.take_events, on one worker thread (the store's calls block)
            ─► 250 whatever was read, ignored or not: refusing a bounce makes a bounce of it;
               451 when the store failed, so that the sending server tries again later

Runs on aiosmtpd's threaded controller: ``digest inbound`` runs it alone, ``digest run`` beside
its loop when ``[inbound] enabled``. ``digest inbound`` follows edits of the config file
(``follow_edits``, DESIGN invariant 5): an edit that passes the checks gets services of its own,
swapped in on the worker thread between two messages, so a message is taken wholly on the
settings it started on; ``digest run`` starts the receiver again on an edit. LMTP for a
Postfix ``transport`` entry (``lmtp:HOST:PORT``), which answers one line per recipient after
DATA.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from digest.addresses import domain_only
from digest.config import Settings
from digest.config_edits import ConfigEdits
from digest.errors import ListenError, StoreUnavailableError
from digest.inbound.events import short
from digest.inbound.mailboxes import Mailboxes
from digest.inbound.read import read_inbound
from digest.inbound.take import Taken, take_events
from digest.services import Services
from digest.store.db import database_errors

_log = logging.getLogger(__name__)

REFUSED = "550 5.1.1 No such mailbox: this server takes only bounces and unsubscribes"
TOO_MANY = "452 4.5.3 Too many recipients"
# Recipients refused in one session before it is ended, as Postfix's smtpd_hard_error_limit:
# each refusal is a line of the log, and a client naming addresses by the thousand made of it
# a flood (a real sending server names the one address it bounces to).
MAX_REFUSED = 20
GOODBYE = "421 4.7.0 Too many recipients refused; closing"
MAX_RECIPIENTS = 100  # a bounce has one; the bound keeps a hostile client's envelope small
TRY_LATER = "451 4.3.0 The message could not be recorded now; try again later"
BUSY = b"421 4.7.0 digest inbound: too many connections; try again later\r\n"
TOO_LONG = b"421 4.4.2 digest inbound: session too long; closing\r\n"
# A session's time at most. aiosmtpd's idle timeout restarts at each command, so a client
# saying NOOP every few minutes held its connection, and with max_connections of them, the
# receiver, for ever. A sending server delivers a bounce in seconds, and one cut off sends it
# again on a new connection.
SESSION_SECONDS = 600.0


class InboundHandler:
    """aiosmtpd's handler: which recipients are taken, and what each message does."""

    def __init__(
        self,
        services: Services,
        mailboxes: Mailboxes,
        lmtp: bool,
        rebuild: Callable[[Settings], Services] | None = None,
    ) -> None:
        self.services = services
        self.mailboxes = mailboxes
        self.lmtp = lmtp
        # One thread: events are applied one at a time, in the order they came, and the
        # services are swapped between two of them.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-inbound")
        self._first = services  # its owner, the command, closes it
        self._edits = (
            ConfigEdits(services.settings, rebuild, log=_log) if rebuild is not None else None
        )
        self._refused: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not self.mailboxes.accepts(address):
            refused = self._refused[session] = self._refused.get(session, 0) + 1
            if refused > MAX_REFUSED:
                _log.info("inbound: %s closed: %d recipients refused", session.peer, MAX_REFUSED)
                transport = server.transport
                if transport is not None:  # closed once the goodbye, written first, is sent
                    asyncio.get_running_loop().call_soon(transport.close)
                return GOODBYE
            _log.info("inbound: refused mail for %s", short(address, 200))
            return REFUSED
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        sender = str(envelope.mail_from or "")
        recipients = list(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        told = short(domain_only(sender), 200)
        try:
            await loop.run_in_executor(self._worker, self.receive, data, sender, recipients)
        except StoreUnavailableError as problem:  # expected (a restart, a failover): one line
            _log.warning("inbound: a message from %s could not be recorded: %s; answered 451: "
                         "the sending server tries again later", told, problem)  # fmt: skip
            return self._status(TRY_LATER, recipients)
        except Exception:
            _log.exception("inbound: a message from %s could not be recorded", told)
            return self._status(TRY_LATER, recipients)
        return self._status("250 OK", recipients)

    def receive(self, data: bytes, sender: str, recipients: Sequence[str]) -> list[Taken]:
        """Read and take one message; what became of its events. StoreUnavailableError when the
        database cannot be reached."""
        reading = read_inbound(
            data,
            recipients=recipients,
            mailboxes=self.mailboxes,
            signer=self.services.signer,
        )
        if reading.ignored is not None:
            # By its domain only: a reader writing to the unsubscribe address sends from theirs.
            sender_told = short(domain_only(sender), 200)
            _log.info("inbound: a message from %s ignored: %s", sender_told, reading.ignored)
        with database_errors(self.services.settings.service.database_url):
            return take_events(self.services, reading.events)

    def _status(self, status: str, recipients: Sequence[str]) -> str:
        # LMTP answers DATA once per recipient (RFC 2033).
        return "\r\n".join([status] * len(recipients)) if self.lmtp else status

    def follow_edits(self) -> None:
        """Look at the config file, on the worker thread, after the messages already in hand."""
        if self._edits is not None:
            self._worker.submit(self._apply_edit)

    def _apply_edit(self) -> None:
        assert self._edits is not None
        current = self.services.settings
        try:
            taken = self._edits.take()
        except Exception:  # a bug here must not stop the receiver, which goes on as it is
            _log.exception("reading the config again failed; the previous settings stay in force")
            return
        if taken is None:
            return
        fresh, services = taken
        if _listening(fresh) != _listening(current):
            _log.warning(
                "%s: inbound.host, inbound.port, inbound.lmtp, inbound.max_message_bytes and "
                "inbound.max_connections apply at the next start of digest inbound",
                fresh.source,
            )
        replaced, self.services = self.services, services
        self.mailboxes = Mailboxes.from_settings(fresh)
        _log.info("%s changed: bounces and unsubscribes are taken on it", fresh.source)
        if replaced is not self._first:
            replaced.close()

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        if self.services is not self._first:
            self.services.close()


def _listening(settings: Settings) -> tuple[object, ...]:
    """What the receiver's socket and controller took at start."""
    inbound = settings.inbound
    return (
        inbound.host,
        inbound.port,
        inbound.lmtp,
        inbound.max_message_bytes,
        inbound.max_connections,
    )


class _ConnectionGate:
    """How many connections are open, against the cap. Used on the receiver's event loop only:
    no lock. Without a cap every client was served, each holding a socket and up to
    max_message_bytes of memory until aiosmtpd's 5-minute idle timeout: a flood of them took
    the files and memory of the process, `digest run`'s polling and sending with it."""

    def __init__(self, limit: int, session_seconds: float) -> None:
        self.limit, self.open, self.session_seconds = limit, 0, session_seconds
        self.refused = 0  # since the gate was last found full: logged once, not once each

    def enter(self) -> bool:
        if self.open >= self.limit:
            if not self.refused:
                _log.warning("inbound: %d connections open: more are told to try later", self.open)
            self.refused += 1
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        self.open -= 1
        if self.refused:
            _log.warning("inbound: %d connections told to try later", self.refused)
            self.refused = 0


class _GatedSMTP(SMTP):
    """aiosmtpd's SMTP, but a connection over the gate's limit is answered 421 and closed, and
    one admitted is closed with 421 once its session_seconds are over."""

    def __init__(self, handler: Any, *, gate: _ConnectionGate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._gate, self._admitted = gate, False
        self._session_end: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # not the second call of a STARTTLS upgrade
            self._admitted = self._gate.enter()
            if not self._admitted:
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(BUSY)
                transport.close()
                return
            self._session_end = self.loop.call_later(
                self._gate.session_seconds, self._end_session, transport
            )
        super().connection_made(transport)

    def _end_session(self, transport: asyncio.BaseTransport) -> None:
        _log.warning("inbound: %s closed: session too long", transport.get_extra_info("peername"))
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(TOO_LONG)
        transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        if not self._admitted:
            return  # refused: aiosmtpd never saw it
        self._gate.leave()
        self._admitted = False
        if self._session_end is not None:
            self._session_end.cancel()
        super().connection_lost(error)


# What aiosmtpd answers DATA with when it will not read the message: too big, or a line over
# RFC 5321's 1000 characters. It answers once, as SMTP does.
_DATA_REFUSALS = ("552 Error: Too much mail data", "500 Line too long")


class _GatedLMTP(_GatedSMTP, LMTP):
    """LMTP, whose DATA refusals are repeated once per recipient as RFC 2033 has every reply
    after DATA be: aiosmtpd's LMTP gave one, and Postfix's LMTP client, expecting one per
    recipient, waited for the next until its timeout, then deferred the message to try again
    (our own DATA answers are repeated in InboundHandler._status)."""

    _in_data = False

    async def smtp_DATA(self, arg: str) -> None:
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False

    async def push(self, status: AnyStr) -> None:
        if self._in_data and isinstance(status, str) and status.startswith(_DATA_REFUSALS):
            recipients = len(self.envelope.rcpt_tos) if self.envelope is not None else 1
            await super().push("\r\n".join([status] * max(recipients, 1)))
            return
        await super().push(status)


class _GatedController(Controller):
    def __init__(
        self,
        handler: Any,
        *,
        max_connections: int,
        session_seconds: float,
        lmtp: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._gate = _ConnectionGate(max_connections, session_seconds)
        self._lmtp = lmtp

    def factory(self) -> SMTP:
        kind = _GatedLMTP if self._lmtp else _GatedSMTP
        return kind(self.handler, gate=self._gate, **self.SMTP_kwargs)


def _check_can_listen(host: str, port: int) -> None:
    """Raise OSError at once when ``host``:``port`` cannot be listened on. aiosmtpd binds in its
    own thread and, when it cannot, says so only once its ready_timeout (30 s) is over: `digest
    inbound` on a taken port sat silent that long. Each address the host names is tried as
    asyncio binds it for aiosmtpd just after ("" and "localhost" may name two)."""
    for family, kind, protocol, _, address in socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)


class InboundServer:
    """The receiver on ``host``:``port``, started and stopped from the calling thread."""

    def __init__(
        self,
        services: Services,
        *,
        host: str,
        port: int,
        lmtp: bool,
        max_message_bytes: int,
        max_connections: int = 20,
        session_seconds: float = SESSION_SECONDS,
        port_key: str = "inbound.port",
        rebuild: Callable[[Settings], Services] | None = None,
    ) -> None:
        self.host, self.port, self.lmtp, self.port_key = host, port, lmtp, port_key
        self.handler = InboundHandler(
            services, Mailboxes.from_settings(services.settings), lmtp, rebuild
        )
        self._controller = _GatedController(
            self.handler,
            max_connections=max_connections,
            session_seconds=session_seconds,
            lmtp=lmtp,
            hostname=host,
            port=port,
            data_size_limit=max_message_bytes,
            ident="digest inbound",
            ready_timeout=30.0,
        )

    @classmethod
    def from_settings(
        cls,
        services: Services,
        *,
        host: str | None = None,
        port: int | None = None,
        lmtp: bool | None = None,
        rebuild: Callable[[Settings], Services] | None = None,
    ) -> InboundServer:
        """The receiver as ``[inbound]`` says, but for what the command line overrides; with
        ``rebuild``, it follows edits of the config file (``follow_edits``)."""
        inbound = services.settings.inbound
        return cls(
            services,
            host=host or inbound.host,
            port=port or inbound.port,
            lmtp=inbound.lmtp if lmtp is None else lmtp,
            max_message_bytes=inbound.max_message_bytes,
            max_connections=inbound.max_connections,
            port_key="--port" if port else "inbound.port",
            rebuild=rebuild,
        )

    @property
    def address(self) -> str:
        return f"{'lmtp' if self.lmtp else 'smtp'}://{self.host}:{self.port}"

    def follow_edits(self) -> None:
        """Apply an edit of the config file, if any, before the next message (module docstring);
        a no-op for a receiver built without ``rebuild``."""
        self.handler.follow_edits()

    def describe(self) -> str:
        """One line for the operator: where it listens and for which addresses."""
        mailboxes = self.handler.mailboxes
        return (
            f"inbound: {self.address} takes mail for {mailboxes.bounce_local_part}"
            f"+…@{mailboxes.bounce_domain} (bounces, complaints) and "
            f"{mailboxes.unsubscribe_address} (unsubscribes)"
        )

    def start(self) -> None:
        """Listen; raises ListenError naming the port and its key when it cannot."""
        try:
            _check_can_listen(self.host, self.port)
            self._controller.start()
        except OSError as error:
            self.handler.close()
            raise ListenError.from_os_error(
                "the inbound receiver", self.host, self.port, self.port_key, error
            ) from error
        except (RuntimeError, TimeoutError) as error:
            self.handler.close()
            raise ListenError(
                "the inbound receiver", self.host, self.port, self.port_key, str(error)
            ) from error

    def stop(self) -> None:
        self._controller.stop(no_assert=True)
        self.handler.close()
