"""``digest send LIST [--wait]``: the edition built now and delivered, on the workers (over a
real redis-server and PostgreSQL, followed on the ledger) or in this process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from aiosmtpd.smtp import Envelope
from celery import Celery
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from digest import pipeline
from digest.cli import app
from digest.cli import send as send_module
from digest.cli.send import _stopped
from digest.clock import FixedClock
from digest.config import load_settings
from digest.delivering import DELIVERY_BATCH_SIZE
from digest.errors import BrokerUnavailableError, NoWorkerError
from digest.sample_server import serve_folder
from digest.send_now import send_now, settled, total
from digest.services import build_services
from digest.store import open_store
from digest.store.db import database_gave_way
from digest.store.deliveries import DeliveryCounts
from digest.store.schema import EditionRow
from tests.members import numbered_readers
from tests.servers import (
    SmtpSink,
    free_port,
    postgres_cluster,
    redis_cluster,
    redis_server,
    smtp_server,
)
from tests.service_cluster import (
    DIGEST,
    Deployment,
    check_repeats,
    deployment,
    fresh_database,
    in_flight_now,
    tally,
    wait_for,
)
from tests.test_lists_cli import digest, write_config
from tests.test_pipeline import write_feed
from tests.test_topic_choices import STORIES, TOPICS, daily_over_every_topic

READERS = 2 * DELIVERY_BATCH_SIZE + 50  # three delivery batches


def test_send_wait_hands_the_edition_to_the_workers_and_follows_it_on_the_ledger(
    tmp_path: Path, postgres_url: str
) -> None:
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, READERS) as service,
    ):
        with service.worker("worker"):
            done = service.run("send", "daily", "--wait")
        if done.returncode != 0:
            service.print_logs()
        result = tally(sink, service)
    result.show("send --wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sent {READERS} / failed 0 / skipped 0" in done.stdout
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS


def test_a_broker_user_with_the_documented_grant_is_enough_for_workers_send_and_status(
    tmp_path: Path,
) -> None:
    # docs/several-machines.md gives an operator whose Redis has users one grant to make:
    # every key and channel, +@all -@dangerous +info. Nothing more may be needed, and nothing
    # in @dangerous (KEYS, CONFIG…) may be taken for granted.
    acl = ("--user", "newsroom", "on", ">the-pass", "~*", "&*", "+@all", "-@dangerous", "+info")
    with redis_cluster(*acl) as redis, smtp_server() as sink:
        broker = f"redis://newsroom:the-pass@127.0.0.1:{redis.port}/0"
        database = f"sqlite:///{tmp_path / 'digest.db'}"
        with deployment(tmp_path, database, broker, sink, READERS) as service:
            with service.worker("worker"):
                done = service.run("send", "daily", "--wait")
                status = service.run("status")
            if done.returncode != 0:
                service.print_logs()
            result = tally(sink, service)
            logs = "".join(log.read_text(errors="replace") for log in service.logs)
    said = " ".join((status.stdout + status.stderr).split())
    assert status.returncode == 0 and "1 answering" in said, said
    assert "refuses a command" not in said and "warn" not in said.lower(), said
    assert done.returncode == 0, done.stdout + done.stderr
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS
    assert "NOPERM" not in logs and "no permissions" not in logs, logs[-3000:]


def test_ctrl_c_while_the_batches_are_handed_out_says_the_delivery_goes_on(
    tmp_path: Path, postgres_url: str
) -> None:
    # It said only "Interrupted.", as if nothing had been done, while the edition was built and
    # half its batches were with the workers; the next tick hands out the rest.
    readers = 1500
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(
            tmp_path,
            fresh_database(postgres_url),
            broker,
            sink,
            readers,
            extra="[worker]\nbatch_size = 1\n",  # a batch task per reader: a long hand-out
        ) as service,
        service.worker("worker"),
    ):
        sending = service.start("send", "daily", "--wait")
        try:
            with redis.Redis.from_url(broker) as client:
                wait_for(
                    lambda: bool(client.exists("digest:lease:deliver:1:held")),
                    "the hand-out under way",
                )
            sending.send_signal(signal.SIGINT)
            said, complained = sending.communicate(timeout=60)
        finally:
            sending.kill()
            sending.wait()
        # The rest in batches of the default size: handed out by the tick as 1,400 tasks of
        # one reader each, it took the worker most of the two minutes wait_for grants, and
        # more on a loaded machine. The workers and beat read the config afresh at each task
        # and tick; what is checked is that the tick hands out the rest, whatever its batches.
        config = service.config.read_text()
        assert "batch_size = 1\n" in config
        service.config.write_text(config.replace("batch_size = 1\n", "batch_size = 500\n"))
        with service.beat():
            wait_for(service.settled, "the rest handed out by a tick and sent")
        result = tally(sink, service)
    result.show("send --wait interrupted while handing out")
    assert sending.returncode == 130, said + complained
    assert complained.strip().endswith("Interrupted."), complained  # as every command
    assert (
        "Stopped handing out edition 1 of daily: its delivery goes on, the next tick hands out "
        "the rest (digest status)." in " ".join(said.split())
    )
    assert result.lost == 0 and result.duplicates == 0 and result.sent == readers


def test_send_without_a_broker_delivers_in_this_process(tmp_path: Path, postgres_url: str) -> None:
    with (
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), None, sink, READERS) as service,
    ):
        done = service.run("send", "daily")
        result = tally(sink, service)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sent {READERS} / failed 0 / skipped 0" in done.stdout
    assert result.lost == 0 and result.duplicates == 0 and result.sent == READERS


def test_send_to_an_unknown_list_names_the_lists_there_are(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parent.parent / "config" / "example.toml"
    done = subprocess.run(
        [str(DIGEST), "--config", str(config), "send", "no-such-list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "No list 'no-such-list'" in done.stderr and "Traceback" not in done.stderr


def test_send_with_the_broker_down_says_so_in_one_line_and_builds_nothing(
    tmp_path: Path,
) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with (
        smtp_server() as sink,
        deployment(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}", down, sink, 3) as service,
    ):
        done = service.run("send", "daily", "--wait")
        with service.engine.connect() as connection:
            editions = connection.execute(select(func.count()).select_from(EditionRow)).scalar()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert down in lines[0] and "DIGEST_BROKER_URL" in lines[0]
    assert editions == 0  # refused before anything was built: the next send builds it whole


class PacedSink(SmtpSink):
    """Takes a message every few milliseconds, so that a send lasts a few seconds."""

    async def handle_DATA(self, server: object, session: Any, envelope: Envelope) -> str:
        await asyncio.sleep(0.008)
        return await super().handle_DATA(server, session, envelope)


def test_send_in_this_process_reports_progress_as_copies_reach_the_ledger(
    tmp_path: Path,
) -> None:
    # The bar of `digest send` in the embedded mode was told once per 500-reader batch: a list
    # of 400 jumped from nothing to all at the end.
    readers = 400  # one batch, sent by this process
    sink = PacedSink("127.0.0.1", free_port())
    database = f"sqlite:///{tmp_path}/digest.db"
    reported: list[DeliveryCounts] = []
    with smtp_server(sink), deployment(tmp_path, database, None, sink, readers) as service:
        services = build_services(load_settings(service.config, service.env))
        try:
            send_now(services, "daily", workers=None, progress=reported.append)
        finally:
            services.close()
    assert len(sink.received) == readers
    assert {total(counts) for counts in reported} == {readers}
    done = [settled(counts) for counts in reported]
    assert done[0] == 0 and done[-1] == readers and done == sorted(done)
    assert [counts.sent for counts in reported] == done  # every copy was taken
    assert len({n for n in done if 0 < n < readers}) >= 2, f"no progress between: {done}"


def _stories_of_every_topic(tmp_path: Path) -> Path:
    """A folder of feeds with a story of each topic, an hour old."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    write_feed(feeds, [(n, STORIES[slug], an_hour_ago) for n, slug in enumerate(TOPICS)])
    return feeds


def _half_the_readers_on_iran_alone(tmp_path: Path, base_url: str) -> Path:
    """The config of a daily over every topic, polled, with six readers, three of whom chose
    Iran alone: the slot has two editions, three copies each."""
    config = write_config(tmp_path, daily_over_every_topic(tmp_path, base_url))
    (tmp_path / "members.csv").write_text(numbered_readers(6))
    members = str(tmp_path / "members.csv")
    assert digest(config, "poll").exit_code == 0
    imported = digest(config, "subscribers", "import", members, "--list", "daily", "--confirmed")
    assert imported.exit_code == 0
    services = build_services(load_settings(config, {}))
    try:
        ids = {reader.email: reader.id for reader in services.store.active_subscribers("daily")}
        for n in range(3):
            services.store.choose_topics(ids[f"reader{n}@example.org"], "daily", ["iran"])
    finally:
        services.close()
    return config


def test_send_counts_every_edition_of_the_slot_when_readers_chose_topics(tmp_path: Path) -> None:
    # Readers who chose some topics get an edition of their own (a variant): `digest send`
    # sent all six copies and printed "sent 3", the counts of one edition of the slot.
    feeds = _stories_of_every_topic(tmp_path)
    with serve_folder(feeds) as base_url:
        config = _half_the_readers_on_iran_alone(tmp_path, base_url)
        done = digest(config, "send", "daily")
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 6
    assert "sent 6 / failed 0 / skipped 0" in done.stdout


class CopiesSeenAtEachStep:
    """A run's observer that notes, at each step of "Delivering", how many copies the mail
    server had taken by then."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        self.taken_at_step: list[int] = []
        self.total = 0

    def stage(self, name: str, total: int) -> None:
        if name == "Delivering":
            self.total = total

    def advance(self, name: str, detail: str = "") -> None:
        if name == "Delivering":
            self.taken_at_step.append(len(self.sink.received))


def test_the_run_bar_moves_as_copies_reach_the_ledger_not_once_per_batch(tmp_path: Path) -> None:
    # `digest run` moved its "Delivering" bar by a whole batch once the batch was over: a list
    # of 400 readers stood at nothing until every copy was sent.
    readers = 400
    sink = PacedSink("127.0.0.1", free_port())
    database = f"sqlite:///{tmp_path}/digest.db"
    observer = CopiesSeenAtEachStep(sink)
    with smtp_server(sink), deployment(tmp_path, database, None, sink, readers) as service:
        services = build_services(load_settings(service.config, service.env))
        try:
            summary = pipeline.run_cycle(
                services, pipeline.InlineDispatcher(services), observer=observer
            )
        finally:
            services.close()
    assert summary.messages_delivered == readers == observer.total
    assert len(observer.taken_at_step) == readers  # the bar ends full
    assert observer.taken_at_step[readers // 2] < readers, "half way with every copy sent"


def test_send_wait_with_no_worker_up_says_so_instead_of_waiting(tmp_path: Path) -> None:
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}", broker, sink, 3) as service,
    ):
        done = service.run("send", "daily", "--wait", "--give-up-after", "2")
        with service.engine.connect() as connection:
            editions = connection.execute(select(func.count()).select_from(EditionRow)).scalar()
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "no digest worker answers" in line and broker in line
    assert editions == 0  # nothing built for no one: without --wait, it would wait in the queue


def test_send_behind_the_latest_edition_says_the_clock_is_behind(tmp_path: Path) -> None:
    # The machine's clock stepped back behind the list's latest edition: the slot asked for is
    # covered by that edition's window and nothing is built, and `digest send` said "the
    # edition ... is empty (lists.daily.send_when_empty is false)", neither of which was so.
    database = f"sqlite:///{tmp_path}/digest.db"
    with smtp_server() as sink, deployment(tmp_path, database, None, sink, 3) as service:
        ahead = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
        services = build_services(load_settings(service.config, service.env))
        try:
            services.clock = FixedClock(ahead)
            assert pipeline.build_edition(services, "daily", ahead).edition_id is not None
        finally:
            services.close()
        sent_before = len(sink.received)
        done = service.run("send", "daily")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "send_when_empty" not in done.stdout
    assert f"is for {ahead.isoformat()}, later than this machine's clock" in done.stdout
    assert "clock behind" in done.stdout
    assert len(sink.received) == sent_before


# How long the `send --wait` below bears with a silent broker or no worker: a few of its checks
# (each a third of it apart), so that a worker busy on a loaded machine is not taken for gone.
GIVE_UP_AFTER = "5"


def _a_worker_answers(broker_url: str) -> None:
    """Until a worker started for the test answers a ping: `send --wait` then starts with one
    up, and its patience is what it bears once following, not how long a worker takes to boot."""
    asking = Celery("test", broker=broker_url)
    try:
        wait_for(lambda: bool(asking.control.ping(timeout=1.0)), "the worker's first answer")
    finally:
        asking.close()


def _every_copy_tried_once(service: Deployment, following: subprocess.Popen[str]) -> None:
    """Until each of the deployment's three copies has been tried and has its error: the mail
    server does not answer, so they wait, pending, to be retried. ``following``, the `send
    --wait` that handed them out, must still be following them: one that ended (a worker slow
    to answer its first ping on a loaded machine) is said at once, with what it printed."""

    def tried() -> bool:
        if following.poll() is not None:
            raise AssertionError(f"send --wait ended early: {following.communicate()}")
        rows = service.rows()
        return len(rows) == 3 and all(error for _, _, error in rows.values())

    wait_for(tried, "every copy tried once")


def test_send_wait_with_the_broker_gone_for_good_says_so_instead_of_waiting(
    tmp_path: Path, postgres_url: str
) -> None:
    # Nothing listens on the mail server's port: the copies wait to be retried, pending. With
    # Redis gone as well, no tick would ever hand them out again, and `send --wait` followed a
    # ledger that could not move, for ever and without a word.
    unreachable = SmtpSink("127.0.0.1", free_port())
    with (
        redis_cluster() as server,
        deployment(tmp_path, fresh_database(postgres_url), server.url, unreachable, 3) as service,
        service.worker("worker"),
    ):
        _a_worker_answers(server.url)
        following = service.start("send", "daily", "--wait", "--give-up-after", GIVE_UP_AFTER)
        try:
            _every_copy_tried_once(service, following)
            server.stop()
            _, said = following.communicate(timeout=60)
        finally:
            following.kill()
            following.wait()
        statuses = service.statuses()
    assert following.returncode == 1, said
    [line] = said.strip().splitlines()
    assert f"the broker {server.url} does not answer" in line
    assert "waits on the ledger: the first tick once the broker is back hands it out" in line
    assert statuses["pending"] == 3  # nothing lost: the ledger keeps them for the next tick


def test_send_wait_rides_out_a_broker_restart_and_gives_up_on_a_long_silence() -> None:
    from worker.inspect import BrokerWatch

    now = [0.0]
    with redis_cluster() as server:
        watch = BrokerWatch(
            server.url,
            meanwhile="it waits",
            patience=15,
            every=2,
            clock=lambda: now[0],
            workers_answer=lambda: True,
        )
        server.stop()
        for now[0] in (2.0, 4.0, 16.0):  # silent for 14 s: borne with
            watch.check()
        server.start()
        now[0] = 18.0
        watch.check()  # back: the silence starts anew at the next one
        server.stop()
        for now[0] in (20.0, 34.0):
            watch.check()
        now[0] = 36.0
        with pytest.raises(BrokerUnavailableError, match="it waits"):
            watch.check()


def test_send_wait_gives_up_on_workers_gone_for_good_but_not_on_one_restarting() -> None:
    from worker.inspect import BrokerWatch

    now, answering = [0.0], [True]
    with redis_cluster() as server:
        watch = BrokerWatch(
            server.url,
            meanwhile="it waits",
            patience=15,
            every=1,
            workers_every=5,
            clock=lambda: now[0],
            workers_answer=lambda: answering[0],
        )
        answering[0] = False
        for now[0] in (5.0, 10.0, 19.0):  # none for 14 s: a worker restarting, borne with
            watch.check()
        answering[0] = True
        now[0] = 24.0
        watch.check()
        answering[0] = False
        for now[0] in (29.0, 34.0, 39.0):
            watch.check()
        now[0] = 44.0
        with pytest.raises(NoWorkerError, match="any more; it waits; start one"):
            watch.check()


@pytest.mark.parametrize("gone", ["broker", "workers"])
def test_send_wait_gives_up_when_told_not_at_the_next_round_check(gone: str) -> None:
    # --give-up-after 3 gave up after 10 s with the workers gone (they were asked every 5 s,
    # and a silence counted from the first unanswered ask) and after 6 s with the broker gone
    # (asked every 2 s): the patience the operator gave was rounded up to the checks' cadence.
    from worker.inspect import BrokerWatch

    now, answering = [0.0], [True]
    with redis_cluster() as server:
        watch = BrokerWatch(
            server.url,
            meanwhile="it waits",
            patience=3,
            clock=lambda: now[0],
            workers_answer=lambda: answering[0],
        )
        if gone == "broker":
            server.stop()
        else:
            answering[0] = False
        expected = BrokerUnavailableError if gone == "broker" else NoWorkerError
        with pytest.raises(expected, match="it waits"):
            for tenth in range(1, 46):  # every tenth of a second, up to 4.5 s
                now[0] = tenth / 10
                watch.check()


def _minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _early_in_a_minute() -> datetime:
    """The minute, once at most 45 seconds of it are gone: `digest send` builds one edition a
    minute, and two sends meant to share one must start early in it."""
    if datetime.now(UTC).second > 45:
        time.sleep(61 - datetime.now(UTC).second)
    return _minute()


def _tries(tmp_path: Path, most: int = 3) -> Iterator[Path]:
    """A fresh folder for each try of sends meant to share a minute: a loaded machine may take
    a minute over two of them, and then the second builds the next minute's edition, which
    is right and not what the test asks. The caller stops at the first try within a minute."""
    for number in range(most):
        folder = tmp_path / f"try-{number}"
        folder.mkdir()
        yield folder
    raise AssertionError(f"{most} tries of two sends each took into the next minute")


def test_send_twice_in_a_minute_says_the_second_built_and_handed_out_nothing(
    tmp_path: Path,
) -> None:
    # The second said "Edition 1 of daily: 3 deliveries handed to the workers", as if it had
    # sent them a second time; it had found the minute's edition and handed out no batch.
    for folder in _tries(tmp_path):
        with (
            redis_server() as broker,
            smtp_server() as sink,
            deployment(
                folder, f"sqlite:///{folder / 'digest.db'}", broker, sink, 3, schedule="* * * * *"
            ) as service,
        ):
            began = _early_in_a_minute()
            first = service.run("send", "daily")
            second = service.run("send", "daily")
            with redis.Redis.from_url(broker) as client:
                queued = client.llen("digest")
        if _minute() == began:
            break
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "Edition 1 of daily: 3 deliveries handed to the workers" in first.stdout
    said = " ".join(second.stdout.split())
    assert "Edition 1 of daily was built already (digest send builds one edition a minute)" in said
    assert "3 of its deliveries are still pending, in the workers' hands" in said
    assert queued == 1  # the first send's one batch, not handed out again


def test_send_wait_with_every_worker_stopped_says_so_instead_of_waiting(
    tmp_path: Path, postgres_url: str
) -> None:
    # As with the broker gone: the copies wait to be retried, and with no worker left to run a
    # batch, `send --wait` followed a ledger that could not move, for ever.
    unreachable = SmtpSink("127.0.0.1", free_port())
    with (
        redis_server() as broker,
        deployment(tmp_path, fresh_database(postgres_url), broker, unreachable, 3) as service,
    ):
        with service.worker("worker"):
            _a_worker_answers(broker)
            following = service.start("send", "daily", "--wait", "--give-up-after", GIVE_UP_AFTER)
            _every_copy_tried_once(service, following)
        try:  # the worker stopped, as its service manager would stop it
            _, said = following.communicate(timeout=60)
        finally:
            following.kill()
            following.wait()
        statuses = service.statuses()
    assert following.returncode == 1, said
    [line] = said.strip().splitlines()
    assert f"no digest worker answers on the broker {broker} any more" in line
    assert "waits on the ledger" in line and "start one (digest worker)" in line
    assert statuses["pending"] == 3


def test_sigterm_while_send_wait_follows_says_where_it_stopped_and_ends_terminated(
    tmp_path: Path,
) -> None:
    # Stopped while following, it said "Stopped following edition 1" with no list and no count,
    # and exited 130 under SIGTERM too, without the "Terminated." (143) every other command
    # stopped so ends with, which a service manager's log and a script look for.
    unreachable = SmtpSink("127.0.0.1", free_port())  # the copies wait pending, to be retried
    with (
        redis_server() as broker,
        deployment(
            tmp_path, f"sqlite:///{tmp_path / 'digest.db'}", broker, unreachable, 3
        ) as service,
        service.worker("worker"),
    ):
        following = service.start("send", "daily", "--wait", "--give-up-after", "10")
        try:
            _every_copy_tried_once(service, following)
            following.send_signal(signal.SIGTERM)
            said, complained = following.communicate(timeout=60)
        finally:
            following.kill()
            following.wait()
        statuses = service.statuses()
    assert following.returncode == 143, said + complained
    assert complained.strip().endswith("Terminated."), complained
    assert (
        "Stopped following edition 1 of daily: sent 0, pending 3; its delivery goes on "
        "(digest status)." in " ".join(said.split())
    ), said
    assert statuses["pending"] == 3  # its delivery goes on: nothing was given up


def test_send_in_this_process_outlasts_a_postgresql_restart(tmp_path: Path) -> None:
    # PostgreSQL stops (as a crash: connections cut) and comes back while `digest send`
    # delivers in its own process: no reader is lost, and a copy goes twice only if the server
    # had taken it when the database went.
    readers = 600
    sink = PacedSink("127.0.0.1", free_port())
    with (
        postgres_cluster() as database,
        smtp_server(sink),
        deployment(tmp_path, fresh_database(database.url), None, sink, readers) as service,
    ):
        sending = service.start("send", "daily")
        try:
            wait_for(lambda: service.sent() >= 100, "the delivery under way")
            database.restart()
            in_flight = in_flight_now(sink, service)
            output, errors = sending.communicate(timeout=180)
        finally:
            if sending.poll() is None:
                sending.kill()
                sending.wait()
        if sending.returncode != 0:  # told to run it again, as the operator would
            again = service.run("send", "daily")
            assert again.returncode == 0, again.stdout + again.stderr
        result = tally(sink, service)
    result.show("postgresql restarted under digest send")
    assert "Traceback" not in output + errors
    assert result.lost == 0
    check_repeats(result, in_flight)


def test_send_right_after_a_rename_builds_a_new_edition_not_the_last_one_again(
    tmp_path: Path,
) -> None:
    # The slot was chosen before the rename was carried over: the new slug had no edition yet,
    # so it was the schedule's latest slot, whose edition the old slug had built; once carried
    # over, that edition was found and the send said it was built already, handing out nothing.
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}", broker, sink, 3) as service,
    ):
        first = service.run("send", "daily")
        assert first.returncode == 0, first.stderr
        assert "Edition 1 of daily: 3 deliveries handed to the workers" in first.stdout
        service.config.write_text(
            service.config.read_text().replace(
                'slug = "daily"', 'slug = "brief"\nprevious_slugs = ["daily"]'
            )
        )
        renamed = service.run("send", "brief")
    assert renamed.returncode == 0, renamed.stderr
    said = " ".join(renamed.stdout.split())
    # An edition of the current minute, after the carried-over one: empty, as its articles
    # went out in edition 1 (no article repeats across editions).
    assert "built already" not in said
    assert "Nothing to send: the edition of brief for" in said and "is empty" in said
    # Not the schedule's slot (1 January, 00:00) that the old slug had built.
    assert f"{datetime.now(UTC):%Y}-01-01T00:00" not in said


def test_ctrl_c_while_this_process_sends_says_where_it_stopped_and_who_sends_the_rest(
    tmp_path: Path,
) -> None:
    # In the embedded mode it said only "Interrupted.": nothing told whether the edition was
    # built, how much of it went, or that the next digest run sends the rest.
    readers = 600
    sink = PacedSink("127.0.0.1", free_port())
    with (
        smtp_server(sink),
        deployment(tmp_path, f"sqlite:///{tmp_path}/digest.db", None, sink, readers) as service,
    ):
        sending = service.start("send", "daily")
        try:
            wait_for(lambda: len(sink.received) >= 20, "the first copies taken")
            sending.send_signal(signal.SIGINT)
            said, complained = sending.communicate(timeout=30)
        finally:
            sending.kill()
            sending.wait()
        shown = " ".join(said.split())
        match = re.search(r"sent (\d+), pending (\d+)", shown)
        assert sending.returncode == 130, said + complained
        assert complained.strip().endswith("Interrupted."), complained  # as every command
        assert "Stopped sending edition 1 of daily" in shown and match, said + complained
        assert "the next digest run sends the pending ones (digest status)" in shown
        sent, pending = int(match[1]), int(match[2])
        assert sent + pending == readers and pending > 0
        rest = service.run("run", "--once")
        result = tally(sink, service)
    assert rest.returncode == 0, rest.stdout + rest.stderr
    # The copy in flight at the interrupt may go twice (same Message-ID); none is lost.
    assert result.lost == 0 and result.duplicates <= 1
    assert result.sent == readers + result.duplicates


def test_ctrl_c_with_the_database_gone_says_no_more_and_a_bug_is_not_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What ``_stopped`` may meet once Ctrl-C broke off a send (a database gone away, which is
    # what the operator stopped it for): nothing more to say, and the interrupt goes on. It
    # caught every Exception, so a bug in it ended the send as a bare "Interrupted." too.
    slot = datetime(2026, 12, 7, 7, tzinfo=UTC)
    with postgres_cluster() as database:
        store = open_store(database.url)
        try:
            database.stop()
            _stopped(SimpleNamespace(store=store), "daily", slot, "sending", lambda *_: "")  # type: ignore[arg-type]
        finally:
            store.engine.dispose()
    assert capsys.readouterr().out == ""

    class Broken:
        def editions_of_slot(self, list_slug: str, slot: datetime) -> list[object]:
            raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        _stopped(SimpleNamespace(store=Broken()), "daily", slot, "sending", lambda *_: "")  # type: ignore[arg-type]


_DELIVERIES = "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, body TEXT)"
# SQLite's max_page_count set below the file's size holds it at its size: a disk full, for it.
_NO_MORE_PAGES = "PRAGMA max_page_count = 1"
_GROW = "INSERT INTO deliveries (body) VALUES (printf('%.*c', 20000, 'x'))"


def _sqlite_error(tmp_path: Path, statement: str, *setup: str) -> OperationalError:
    """The OperationalError SQLite raises for ``statement``, after ``setup``, on a file."""
    engine = create_engine(f"sqlite:///{tmp_path / 'errors.db'}", connect_args={"timeout": 0})
    try:
        with engine.connect() as connection:
            for step in setup:
                connection.exec_driver_sql(step)
            with pytest.raises(OperationalError) as raised:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    return raised.value


def test_the_database_giving_way_is_told_from_a_statement_it_refused(tmp_path: Path) -> None:
    # What stops `digest send` to say how far it went and that the next digest run sends the
    # rest: a database that gave way, which the next run gets past once it passes. A statement
    # refused (the schema not the code's) the next run meets again.
    setup = (_DELIVERIES,)
    refused = [
        _sqlite_error(tmp_path, "SELECT status FROM deliveries", *setup),
        _sqlite_error(tmp_path, "SELECT * FROM editions"),
        _sqlite_error(tmp_path, "SELEC 1"),
    ]
    assert not any(database_gave_way(error) for error in refused), refused
    full = _sqlite_error(tmp_path, _GROW, *setup, _NO_MORE_PAGES)
    assert "database or disk is full" in str(full) and database_gave_way(full)
    holder = sqlite3.connect(tmp_path / "errors.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        locked = _sqlite_error(tmp_path, "SELECT 1 FROM deliveries")
    finally:
        holder.close()
    assert "database is locked" in str(locked) and database_gave_way(locked)
    with postgres_cluster() as server:
        engine = create_engine(server.url)
        try:
            with engine.connect() as connection:
                server.stop()  # as a crash: the connection cut
                with pytest.raises(OperationalError) as lost:
                    connection.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    assert database_gave_way(lost.value), lost.value


@pytest.mark.parametrize(
    ("statement", "setup", "stops"),
    [
        (_GROW, (_DELIVERIES, _NO_MORE_PAGES), True),
        ("SELECT status FROM deliveries", (_DELIVERIES,), False),
    ],
    ids=["a full database says where it stopped", "a refused statement goes on alone"],
)
def test_send_stopped_by_the_database_says_where_it_stopped_only_when_it_gave_way(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statement: str,
    setup: tuple[str, ...],
    stops: bool,
) -> None:
    # Every OperationalError printed "Stopped sending edition N ...: the next digest run sends
    # the pending ones", a schema the code does not expect (which the next run meets again)
    # and a statement's syntax error included.
    error = _sqlite_error(tmp_path, statement, *setup)
    assert database_gave_way(error) is stops, error
    said: list[str] = []

    def failing_send(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(
        send_module, "slot_to_send", lambda *args: datetime(2026, 12, 7, tzinfo=UTC)
    )
    monkeypatch.setattr(send_module, "send_now", failing_send)
    monkeypatch.setattr(send_module, "_stopped", lambda *args: said.append("stopped"))
    services = SimpleNamespace(settings=None)
    with pytest.raises(OperationalError):
        send_module._send_now(services, "daily", None, lambda counts: None)  # type: ignore[arg-type]
    assert said == (["stopped"] if stops else [])


def test_send_and_status_call_the_copy_of_a_reader_suppressed_meanwhile_alike(
    tmp_path: Path,
) -> None:
    # A reader suppressed while the edition went out: `digest send` counted their copy under
    # "suppressed", where `digest status` (and its --json, the ledger, the metrics) say
    # "skipped", and a reader who unsubscribed, not suppressed, was counted there too.
    readers = 200
    sink = PacedSink("127.0.0.1", free_port())
    with (
        smtp_server(sink),
        deployment(
            tmp_path,
            f"sqlite:///{tmp_path}/digest.db",
            None,
            sink,
            readers,
            extra="[worker]\nbatch_size = 10\n",  # the last reader's batch is read last
        ) as service,
    ):
        sending = service.start("send", "daily")
        try:
            wait_for(lambda: len(sink.received) >= 1, "the first copy taken")
            suppressed = CliRunner().invoke(
                app,
                ["--config", str(service.config), "subscribers", "suppress", service.readers[-1]],
                env=service.env,
            )
            assert suppressed.exit_code == 0, suppressed.output
            said, complained = sending.communicate(timeout=60)
        finally:
            sending.kill()
            sending.wait()
        shown = CliRunner().invoke(
            app, ["--config", str(service.config), "status", "--json"], env=service.env
        )
        result = tally(sink, service)
        suppressed_row = service.rows()[service.readers[-1]]
    assert sending.returncode == 0, said + complained
    [edition] = json.loads(shown.stdout)["editions"]
    assert (edition["sent"], edition["failed"], edition["skipped"]) == (readers - 1, 0, 1)
    # One word for one thing: each count of the send named as the status names it.
    assert f"sent {readers - 1} / failed 0 / skipped 1" in " ".join(said.split()), said
    assert "suppressed" not in said
    # The suppressed reader alone has no copy, their row skipped; every other copy went once.
    assert suppressed_row[0] == "skipped"
    assert result.sent == readers - 1 and result.duplicates == 0 and result.lost == 1


def test_send_of_a_list_with_no_reader_says_so_rather_than_counting_nothing(
    tmp_path: Path,
) -> None:
    # A list whose subscriber file holds no one yet: `digest send` built the edition and
    # printed "sent 0 / failed 0 / skipped 0", as if some delivery had been tried, and left
    # the operator to guess why nothing went.
    with (
        smtp_server() as sink,
        deployment(tmp_path, f"sqlite:///{tmp_path}/digest.db", None, sink, 0) as service,
    ):
        done = CliRunner().invoke(
            app, ["--config", str(service.config), "send", "daily"], env=service.env
        )
    said = " ".join(done.stdout.split())
    assert done.exit_code == 0, done.output
    assert "sent 0 / failed 0" not in said
    assert "Edition 1 of daily went to no reader: the list has no confirmed member" in said
    assert "digest subscribers list --list daily" in said
    assert sink.received == []


def test_send_twice_in_a_minute_in_this_process_does_not_count_the_copies_as_sent_again(
    tmp_path: Path,
) -> None:
    # Without a broker, the second send of the minute found the minute's edition, sent nothing
    # and printed "sent 3 / failed 0 / skipped 0" again, as if three more copies had gone; the
    # distributed mode said it was built already.
    for folder in _tries(tmp_path):
        with (
            smtp_server() as sink,
            deployment(
                folder, f"sqlite:///{folder}/digest.db", None, sink, 3, schedule="* * * * *"
            ) as service,
        ):
            began = _early_in_a_minute()
            sends = [
                CliRunner().invoke(
                    app, ["--config", str(service.config), "send", "daily"], env=service.env
                )
                for _ in range(2)
            ]
        if _minute() == began:
            break
    first, second = (" ".join(done.stdout.split()) for done in sends)
    assert all(done.exit_code == 0 for done in sends), [done.output for done in sends]
    assert "sent 3 / failed 0 / skipped 0" in first and "built already" not in first
    assert "Edition 1 of daily was built already (digest send builds one edition a minute)" in (
        second
    )
    assert "none went again" in second
    assert len(sink.received) == 3


def test_send_to_the_workers_names_every_edition_of_the_slot_it_counts(tmp_path: Path) -> None:
    # Readers who chose some topics have an edition of their own: `digest send` said "Edition
    # 1 of daily: 6 deliveries handed to the workers", while edition 1 had three of them and
    # digest status showed the other three under edition 2.
    feeds = _stories_of_every_topic(tmp_path)
    with serve_folder(feeds) as base_url, redis_server() as broker:
        config = _half_the_readers_on_iran_alone(tmp_path, base_url)
        # A process of its own, as an operator runs it: the Celery app configured once, for
        # the broker.
        environment = {key: value for key, value in os.environ.items() if "DIGEST_" not in key}
        done = subprocess.run(
            [str(DIGEST), "--config", str(config), "send", "daily"],
            capture_output=True,
            text=True,
            env={**environment, "DIGEST_BROKER_URL": broker},
            timeout=60,
        )
        shown = digest(config, "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    editions = {
        edition["edition"]: edition["pending"] for edition in json.loads(shown.stdout)["editions"]
    }
    assert sorted(editions.values()) == [3, 3]
    first, second = sorted(editions)
    said = " ".join(done.stdout.split())
    assert f"Editions {first}, {second} of daily: 6 deliveries handed to the workers" in said
