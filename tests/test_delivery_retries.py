"""Bounded retries: a server that takes a message and never answers, one that answers 4xx, and
what the operator sees (`digest status`, the run summary, `digest deliveries retry`)."""

from __future__ import annotations

import asyncio
import email
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from sqlalchemy import select
from typer.testing import CliRunner

from digest import pipeline, retries
from digest.cli import app
from digest.clock import FixedClock
from digest.config import Settings, SmtpSettings, load_settings
from digest.errors import DeliveryPermanentError, DeliveryTemporaryError, DeliveryUnknownError
from digest.mail.smtp import SILENT_IN_A_ROW, SmtpTransport
from digest.sample_server import serve_folder
from digest.services import build_services
from digest.store.schema import DeliveryRow, SubscriberRow
from tests.servers import free_port
from tests.service_cluster import config_text, sqlite_database
from tests.smtp_faults import TricklingSink, on_free_port, trickling_server
from tests.test_pipeline import DAY1, write_feed
from tests.test_transport import message, stream

pytestmark = pytest.mark.integration

READERS = ("sam@example.org", "rana@example.org", "li@example.org")


@dataclass
class UnansweredHandler:
    """Takes every message (keeps it) and then never answers its end: with ``hang``, it holds
    the connection open until the client gives up; otherwise it hangs up at once. Offers
    PIPELINING when asked. ``data_reply`` answers the end instead (e.g. a 4xx)."""

    hang: bool = False
    pipelining: bool = False
    data_reply: str | None = None
    taken: list[tuple[str, bytes]] = field(default_factory=list)  # (recipient, content)
    ends: Counter[str] = field(default_factory=Counter)  # ends of message seen per recipient

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return list(responses)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipient = envelope.rcpt_tos[0]
        self.ends[recipient] += 1
        if self.data_reply is not None:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        self.taken.append((recipient, envelope.content))
        if not self.hang:
            assert server.transport is not None
            server.transport.close()
        await asyncio.sleep(30)  # cancelled when the connection goes
        return "250 OK"


def one_cycle(settings: Settings, clock: FixedClock) -> pipeline.CycleSummary:
    """One cycle of `digest run` on services of its own, as each run builds them."""
    services = build_services(settings, clock=clock)
    try:
        return pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
    finally:
        services.close()


@pytest.fixture
def unanswered() -> Iterator[tuple[UnansweredHandler, int]]:
    handler = UnansweredHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


# The transport: a copy whose reply never came is not sent again ------------------------------


@pytest.mark.parametrize("mode", ["sendmail", "ready", "pipelined"])
@pytest.mark.parametrize("hang", [False, True], ids=["hangs-up", "times-out"])
def test_a_copy_whose_reply_never_came_reaches_the_server_once(
    unanswered: tuple[UnansweredHandler, int], mode: str, hang: bool
) -> None:
    handler, port = unanswered
    handler.hang, handler.pipelining = hang, mode == "pipelined"
    settings = SmtpSettings(host="127.0.0.1", port=port, tls="none", timeout_seconds=0.5)
    messages = stream(mode, 3)
    with SmtpTransport(settings, None) as smtp:
        outcomes = list(smtp.send_many(messages))
        with pytest.raises(DeliveryUnknownError, match="reply never came"):
            smtp.send(message(12, 9, "solo@example.org", ready=mode != "sendmail"))
    # A server that lets replies time out SILENT_IN_A_ROW times in a row has stopped
    # answering: the batch draws no more copies (they stay the caller's, untried).
    tried = messages[:SILENT_IN_A_ROW] if hang else messages
    assert [sent for sent, _ in outcomes] == tried
    assert all(isinstance(error, DeliveryUnknownError) for _, error in outcomes)
    assert all(isinstance(error, DeliveryTemporaryError) for _, error in outcomes)
    assert [recipient for recipient, _ in handler.taken] == [
        *(copy.recipient for copy in tried),
        "solo@example.org",
    ], "each copy reached the server once, never again on a new connection"


# The ledger, across cycles ---------------------------------------------------------------------


@dataclass
class Setup:
    folder: Path
    config: Path
    base_url: str

    def settings(self, port: int, *, user: str | None = None, **smtp: int) -> Settings:
        values = {"connections": 4, "max_attempts": 3, "max_retries": 8} | smtp
        retries = (
            f"timeout_seconds = 0.5\nmax_attempts = {values['max_attempts']}\n"
            f"max_retries = {values['max_retries']}\nretry_minutes = 5\nmax_retry_minutes = 60"
        ) + (f'\nuser = "{user}"' if user else "")
        self.config.write_text(
            config_text(
                self.folder,
                port,
                f"{self.base_url}/wire.xml",
                smtp_extra=retries,
                service_extra=sqlite_database(self.folder),
                list_extra="send_when_empty = true",
                schedule="0 7 * * *",
                timezone="Asia/Dubai",
                connections=values["connections"],
            )
        )
        environment = {"DIGEST_SECRET_KEY": "retries-secret", "DIGEST_SMTP_PASSWORD": "wrong"}
        return load_settings(self.config, environment)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    write_feed(feeds, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"{reader},\n" for reader in READERS)
    )
    with serve_folder(feeds) as base_url:
        yield Setup(tmp_path, tmp_path / "digest.toml", base_url)


def cli(config: Path, *args: str) -> Any:
    environment = {"COLUMNS": "250", "DIGEST_SECRET_KEY": "retries-secret"}
    return CliRunner().invoke(app, ["--config", str(config), *args], env=environment)


def ledger(settings: Settings) -> dict[str, tuple[str, int, int, datetime | None]]:
    services = build_services(settings, migrate=False)
    try:
        with services.store.transaction() as session:
            rows = session.execute(
                select(
                    SubscriberRow.email,
                    DeliveryRow.status,
                    DeliveryRow.attempts,
                    DeliveryRow.unknown_attempts,
                    DeliveryRow.next_attempt_at,
                ).join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            ).all()
    finally:
        services.close()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def message_ids(taken: list[tuple[str, bytes]]) -> Counter[str]:
    return Counter(
        str(email.message_from_bytes(content, policy=policy.default)["Message-ID"])
        for _, content in taken
    )


def test_copies_with_no_reply_are_bounded_across_cycles_then_parked_and_shown(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    handler, port = unanswered
    handler.pipelining = True
    settings = setup.settings(port, max_attempts=3)
    clock = FixedClock(DAY1)
    summaries = []
    for _ in range(6):  # every cycle two hours on: past any backoff, within the same slot
        summaries.append(one_cycle(settings, clock))
        clock.advance(timedelta(hours=2))

    assert summaries[0].editions_built == 1 and sum(s.editions_built for s in summaries) == 1
    copies = message_ids(handler.taken)
    assert len(copies) == 3 and set(copies.values()) == {3}, "max_attempts copies per reader"
    assert [s.messages_retrying for s in summaries] == [3, 3, 0, 0, 0, 0]
    assert [s.messages_parked for s in summaries] == [0, 0, 3, 0, 0, 0]
    rows = ledger(settings)
    assert {email: row[:3] for email, row in rows.items()} == dict.fromkeys(
        READERS, ("parked", 3, 3)
    )
    assert any("parked after 3 copies" in problem for problem in summaries[2].problems)

    shown = cli(setup.config, "status")
    assert shown.exit_code == 0, shown.output
    assert "Parked deliveries (3)" in shown.output
    assert all(reader in shown.output for reader in READERS)
    assert "reply never came" in shown.output and "digest deliveries retry" in shown.output
    report = json.loads(cli(setup.config, "status", "--json").output)
    [edition] = report["editions"]
    assert (edition["list"], edition["sent"], edition["parked"], edition["pending"]) == (
        "daily",
        0,
        3,
        0,
    )
    assert {parked["email"] for parked in report["parked"]} == set(READERS)
    assert report["parked_total"] == 3

    # Released by the operator, they go once more in the next cycle (here the server answers).
    released = cli(setup.config, "deliveries", "retry", str(edition["edition"]))
    assert released.exit_code == 0 and "Released 3" in released.output
    assert {row[:3] for row in ledger(settings).values()} == {("pending", 0, 0)}
    assert cli(setup.config, "deliveries", "retry", str(edition["edition"])).exit_code == 1
    handler.hang, handler.data_reply = False, "250 OK"
    assert one_cycle(settings, clock).messages_delivered == 3
    assert {row[0] for row in ledger(settings).values()} == {"sent"}


def test_a_reply_that_times_out_is_bounded_the_same_way(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    handler, port = unanswered
    handler.hang = True  # holds the connection; the client gives up after timeout_seconds
    settings = setup.settings(port, max_attempts=2)
    clock = FixedClock(DAY1)
    services = build_services(settings, clock=clock)
    try:
        built = pipeline.build_edition(services, "daily", datetime(2026, 11, 24, 3, tzinfo=UTC))
        for _ in range(4):
            ids = services.store.pending_deliveries(built.edition_id)
            pipeline.deliver_batch(services, built.edition_id, ids)
            clock.advance(timedelta(hours=2))
    finally:
        services.close()
    assert set(message_ids(handler.taken).values()) == {2}
    rows = ledger(settings).values()
    assert {(status, unknown) for status, _, unknown, _ in rows} == {("parked", 2)}
    # Two replies in a row that never came stop a batch (SILENT_IN_A_ROW): the reader left
    # untried in a round counts that round as a temporary failure, as with a server down.
    assert sorted(attempts for _, attempts, _, _ in rows) == [2, 2, 4]


def test_a_reply_that_trickles_in_is_bounded_the_same_way(setup: Setup) -> None:
    # One byte every 0.15 s, each within the 0.5 s timeout: before each reply had a deadline
    # of its own, the server held every copy for as long as it trickled.
    sink = on_free_port(TricklingSink, step="end", pause=0.15)
    settings = setup.settings(sink.port, max_attempts=2)
    clock = FixedClock(DAY1)
    with trickling_server(sink):
        services = build_services(settings, clock=clock)
        try:
            built = pipeline.build_edition(services, "daily", datetime(2026, 11, 24, 3, tzinfo=UTC))
            for _ in range(4):  # a round stops at two silent copies: one more for the third reader
                ids = services.store.pending_deliveries(built.edition_id)
                pipeline.deliver_batch(services, built.edition_id, ids)
                clock.advance(timedelta(hours=2))
        finally:
            services.close()
    assert Counter(received.rcpt_tos[0] for received in sink.received) == dict.fromkeys(READERS, 2)
    rows = ledger(settings).values()
    assert {(status, unknown) for status, _, unknown, _ in rows} == {("parked", 2)}
    assert all("smtp.timeout_seconds" in error for error in last_errors(settings))


def test_temporary_failures_wait_for_their_backoff_then_fail(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    handler, port = unanswered
    handler.data_reply = "451 4.3.0 Try again later"
    settings = setup.settings(port, max_retries=2)
    clock = FixedClock(DAY1)

    first = one_cycle(settings, clock)
    assert (first.messages_retrying, first.messages_failed) == (3, 0)
    rows = ledger(settings)
    waits = {row[3] - DAY1 for row in rows.values()}  # type: ignore[operator]
    assert all(timedelta(minutes=5) <= wait <= timedelta(minutes=6.25) for wait in waits)
    assert one_cycle(settings, clock).messages_retrying == 0, "not due yet: nothing is sent"
    assert sum(handler.ends.values()) == 3

    clock.advance(timedelta(minutes=6.5))
    assert one_cycle(settings, clock).messages_retrying == 3
    assert sum(handler.ends.values()) == 6
    clock.advance(timedelta(minutes=6.5))
    second = one_cycle(settings, clock)
    assert second.messages_retrying == 0, "the second wait is twice the first"
    clock.advance(timedelta(minutes=6.5))
    third = one_cycle(settings, clock)
    assert (third.messages_retrying, third.messages_failed) == (0, 3)
    assert any("gave up after 3 temporary failures" in p for p in third.problems)
    clock.advance(timedelta(hours=3))
    one_cycle(settings, clock)
    assert set(handler.ends.values()) == {3}, "1 + max_retries attempts per reader"
    assert {row[:3] for row in ledger(settings).values()} == {("failed", 3, 0)}


def test_a_retry_set_by_a_clock_that_ran_fast_is_due_once_it_is_set_right(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    # A machine resumed with a clock a day fast, then set right by NTP: the retries set meanwhile
    # are dated a day ahead, past any wait [smtp] sets (here at most 60 minutes and jitter).
    handler, port = unanswered
    handler.data_reply = "451 4.3.0 Try again later"
    settings = setup.settings(port)
    clock = FixedClock(DAY1 + timedelta(days=1))

    assert one_cycle(settings, clock).messages_retrying == 3
    clock.advance(timedelta(minutes=1))
    within = one_cycle(settings, clock)
    assert within.messages_retrying == 0, "within the longest wait, a retry waits its time"
    clock.set(DAY1 + timedelta(hours=1))
    stepped_back = one_cycle(settings, clock)
    assert stepped_back.messages_retrying == 3, "a day ahead: set by the fast clock, due now"
    assert set(handler.ends.values()) == {2}


def test_the_run_summary_tells_of_parked_deliveries(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    handler, port = unanswered
    setup.settings(port, max_attempts=1)
    result = cli(setup.config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert "messages parked (see digest status)" in result.output
    assert "3 deliveries are parked" in result.output
    assert len(handler.taken) == 3


@dataclass
class GreetingCounter(UnansweredHandler):
    """Counts the sessions opened (one EHLO each) and the logins tried."""

    sessions: int = 0
    logins: int = 0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> list[str]:
        self.sessions += 1
        return await super().handle_EHLO(server, session, envelope, hostname, responses)


def _with_every_login_refused(
    setup: Setup,
    handler: GreetingCounter,
    *command: str,
    password: dict[str, str] | None = None,
) -> tuple[Settings, Any]:
    """``digest COMMAND`` against a server that refuses every login (535), counted in
    ``handler.logins``, with ``password``'s variables (DIGEST_SMTP_PASSWORD by default): the
    settings it ran with, and what it did."""

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        handler.logins += 1
        return AuthResult(success=False, handled=False)  # the server replies 535

    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        settings = setup.settings(controller.port, user="briefing")
        result = CliRunner().invoke(
            app,
            ["--config", str(setup.config), *command],
            env={
                "COLUMNS": "250",
                "DIGEST_SECRET_KEY": "retries-secret",
                **(password or {"DIGEST_SMTP_PASSWORD": "wrong"}),
            },
        )
    finally:
        controller.stop()
    return settings, result


def test_a_refused_login_is_tried_once_a_batch_and_every_reader_waits_for_the_retry(
    setup: Setup,
) -> None:
    # Each copy used to open its own connection and try the login again, twice (once for the
    # pipelined connection, once to say why it failed): hundreds of refused logins a batch,
    # which gets a provider's account or address locked.
    handler = GreetingCounter(pipelining=True)
    settings, result = _with_every_login_refused(setup, handler, "run", "--once")
    assert result.exit_code == 0, result.output
    assert handler.sessions == 1, "one session for the batch, not one or two per reader"
    assert handler.logins <= 2  # smtplib tries each mechanism the server offers once
    assert "refused the login of 'briefing'" in result.output
    rows = ledger(settings)
    assert {email: row[:3] for email, row in rows.items()} == dict.fromkeys(
        READERS, ("pending", 1, 0)
    ), "every reader waits for the retry, none was lost or failed"
    assert all(row[3] is not None for row in rows.values())
    assert not handler.taken


def test_send_says_why_its_copies_wait_as_run_does(setup: Setup) -> None:
    # digest send with a refused login printed "2 deliveries wait to be tried again" and
    # nothing of why; digest run --once said "refused the login". Both say it now.
    _, result = _with_every_login_refused(setup, GreetingCounter(), "send", "daily")
    assert result.exit_code == 0, result.output
    assert f"{len(READERS)} deliveries wait to be tried again" in result.output
    said = " ".join(result.output.split())
    assert (
        "refused the login of 'briefing' (535 5.7.8 Authentication credentials invalid): "
        "check smtp.user and DIGEST_SMTP_PASSWORD"
    ) in said
    assert "wrong" not in said


def test_a_refused_login_names_the_file_the_password_was_read_from(
    setup: Setup, tmp_path: Path
) -> None:
    # The password read from DIGEST_SMTP_PASSWORD_FILE: "check DIGEST_SMTP_PASSWORD" sent the
    # operator to a variable that is not set.
    password_file = tmp_path / "smtp-password"
    password_file.write_text("wrong\n")
    _, result = _with_every_login_refused(
        setup,
        GreetingCounter(),
        "send",
        "daily",
        password={"DIGEST_SMTP_PASSWORD_FILE": str(password_file)},
    )
    said = " ".join(result.output.split())
    assert f"check smtp.user and DIGEST_SMTP_PASSWORD_FILE={password_file}" in said


def test_status_shows_a_parked_delivery_whose_reason_holds_the_servers_odd_text(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    # What a server said ends up in the reason of a parked delivery; read as Rich markup, a
    # "[/bold]" in it made `digest status` fail with a MarkupError.
    handler, port = unanswered
    handler.data_reply = "XYZ [/bold] [red]not SMTP"
    setup.settings(port, max_attempts=1)
    assert cli(setup.config, "run", "--once").exit_code == 0
    shown = cli(setup.config, "status")
    assert shown.exit_code == 0, shown.output
    assert "Parked deliveries (3)" in shown.output
    assert "a reply that is not SMTP: '[/bold]" in shown.output  # shown as it came
    assert "[red]not SMTP'" in shown.output


# The decision on its own -----------------------------------------------------------------------


def test_the_retry_decision() -> None:
    policy = retries.RetryPolicy(max_attempts=3, max_retries=2, retry_minutes=5)
    now = DAY1

    def step(kind: retries.AttemptKind, failures: int, unknown: int, jitter: float = 0.0) -> Any:
        return retries.next_step(
            policy, kind, "boom", failures=failures, unknown=unknown, now=now, jitter=jitter
        )

    assert step("permanent", 1, 0).verdict == "failed"
    assert step("temporary", 1, 0).next_attempt_at == now + timedelta(minutes=5)
    assert step("temporary", 2, 0, 0.999).next_attempt_at < now + timedelta(minutes=12.5)
    assert step("temporary", 3, 0).verdict == "failed"
    assert step("unknown", 2, 2).verdict == "retry"
    assert step("unknown", 3, 3).verdict == "parked"
    assert step("temporary", 3, 2).verdict == "retry", "unanswered copies are not retries"
    capped = retries.retry_wait(policy, 40, 0.0)
    assert capped == timedelta(minutes=policy.max_retry_minutes)
    # The reason the ledger keeps, which `digest status` and `digest deliveries` show.
    assert step("permanent", 1, 0).reason == step("temporary", 1, 0).reason == "boom"
    assert step("temporary", 4, 1).reason == (
        "boom; gave up after 3 temporary failures (smtp.max_retries = 2)"
    )
    assert step("unknown", 3, 3).reason == (
        "boom; parked after 3 copies whose reply never came (smtp.max_attempts = 3): the "
        "reader may have the message already, so it is not sent again unless you release it "
        "(digest deliveries retry EDITION)"
    )


def test_the_wait_doubles_to_its_bound_and_the_jitter_adds_at_most_a_quarter() -> None:
    # What docs/lists-and-delivery.md says of [smtp]: retry_minutes, doubled at each failure
    # in a row up to max_retry_minutes, plus up to a quarter so a list's retries spread out.
    policy = retries.RetryPolicy(retry_minutes=5, max_retry_minutes=60)
    waits = [retries.retry_wait(policy, failures, 0.0) for failures in range(1, 7)]
    assert waits == [timedelta(minutes=minutes) for minutes in (5, 10, 20, 40, 60, 60)]
    jittered = retries.retry_wait(policy, 2, 0.999)
    assert timedelta(minutes=12.4) < jittered < timedelta(minutes=12.5)
    # A retry further ahead than the longest wait was dated by a clock that ran fast; one the
    # policy set itself never is.
    longest = retries.longest_wait(None)  # the outbox's defaults: 6 hours, and a quarter
    assert longest == timedelta(hours=7, minutes=30)
    set_at_most = max(retries.retry_wait(retries.RetryPolicy(), n, 0.999) for n in range(1, 40))
    assert longest - timedelta(minutes=1) < set_at_most <= longest
    smtp = SmtpSettings(
        host="mail.example.org",
        max_attempts=2,
        max_retries=4,
        retry_minutes=2,
        max_retry_minutes=60,
    )
    assert retries.RetryPolicy.from_settings(smtp) == retries.RetryPolicy(2, 4, 2, 60)
    assert retries.longest_wait(smtp) == timedelta(minutes=75)


def test_a_first_wait_of_a_microsecond_still_doubles_to_the_longest_wait() -> None:
    # smtp.retry_minutes only has to be above zero: one of 0.000001 (a test server's) was
    # doubled thirty times and no more, so a delivery failing on and on came back every 18
    # hours, never waiting the 7 days smtp.max_retry_minutes allowed.
    policy = retries.RetryPolicy(retry_minutes=0.000001, max_retry_minutes=7 * 24 * 60)
    assert retries.retry_wait(policy, 40, 0.0) == timedelta(days=7)
    assert retries.retry_wait(policy, 2, 0.0) == timedelta(minutes=0.000002)
    # However long the run of failures, the wait stays the longest one.
    assert retries.retry_wait(retries.RetryPolicy(), 5000, 0.0) == timedelta(hours=6)
    # A first wait set longer than the longest is the longest already.
    reversed_bounds = retries.RetryPolicy(retry_minutes=90, max_retry_minutes=60)
    assert retries.retry_wait(reversed_bounds, 1, 0.0) == timedelta(minutes=60)


def test_a_failure_is_permanent_unknown_or_temporary_by_its_error() -> None:
    kinds = [
        retries.kind_of(error("reader@example.org", "550 no such user"))
        for error in (DeliveryPermanentError, DeliveryUnknownError, DeliveryTemporaryError)
    ]
    assert kinds == ["permanent", "unknown", "temporary"]


def test_a_server_refusing_every_copy_is_ten_problem_lines_and_a_count_not_one_per_reader(
    setup: Setup, unanswered: tuple[UnansweredHandler, int]
) -> None:
    # A server down or refusing all for a while fails every reader alike: a list of 10,000
    # printed 10,000 lines of one reason, burying every other problem of the cycle.
    readers = [f"reader{n}@example.org" for n in range(25)]
    (setup.folder / "members.csv").write_text(
        "email,name\n" + "".join(f"{reader},\n" for reader in readers)
    )
    handler, port = unanswered
    handler.data_reply = "451 4.3.0 Try again later"
    settings = setup.settings(port)
    summary = one_cycle(settings, FixedClock(DAY1))
    assert summary.messages_retrying == 25
    told = [problem for problem in summary.problems if "Try again later" in problem]
    assert len(told) == pipeline.SHOWN_DELIVERY_PROBLEMS
    [count] = [problem for problem in summary.problems if "more copies" in problem]
    assert "15 more copies failed or wait for a retry" in count
    assert {row[0] for row in ledger(settings).values()} == {"pending"}
    assert all("Try again later" in reason for reason in last_errors(settings))


def last_errors(settings: Settings) -> list[str]:
    services = build_services(settings, migrate=False)
    try:
        with services.store.transaction() as session:
            return [str(error) for error in session.scalars(select(DeliveryRow.last_error))]
    finally:
        services.close()
