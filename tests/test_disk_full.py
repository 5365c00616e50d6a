"""The service on a disk that really fills: its SQLite database on a small tmpfs that a filler
file takes to its last byte (tests.small_disk), through the real commands."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import Envelope
from sqlalchemy import create_engine, func, select, text

from digest.store.schema import ArticleRow, FeedRow
from tests import inbound_mail
from tests.feedserver import answer, feed_server
from tests.servers import SmtpSink, free_port, postgres_cluster, smtp_server
from tests.service_cluster import DIGEST, Deployment, config_text, deployment, tally
from tests.small_disk import SmallDisk, small_disk
from tests.test_end_to_end import digest as end_to_end_digest
from tests.test_end_to_end import example_config
from tests.test_inbound_command import start_inbound
from tests.test_signup_serve import confirmation_mails, sign_up, statuses, urls_of
from tests.test_web_serve import digest_process, served_config

pytestmark = pytest.mark.integration

Command = Callable[..., subprocess.CompletedProcess[str]]


def _service(folder: Path, database: str, feed_url: str = "http://127.0.0.1:9/wire.xml") -> Command:
    """``digest`` run on a config in ``folder`` (mail to the outbox) and ``database``."""
    config = folder / "digest.toml"
    (folder / "members.csv").write_text("email,name\nreader@example.org,Reader\n")
    config.write_text(config_text(folder, None, feed_url))
    command = [str(DIGEST), "--config", str(config)]
    environment = {"DIGEST_DATABASE_URL": database, "PATH": "/usr/bin:/bin"}

    def digest(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *arguments], env=environment, capture_output=True, text=True, timeout=120
        )

    return digest


def test_a_database_on_a_full_disk_says_the_disk_is_full_not_to_check_its_folder(
    tmp_path: Path,
) -> None:
    # SQLite says "disk I/O error" when it cannot give the -shm file beside the database its
    # pages, as at the first command after the disk filled: the advice was that of a missing
    # folder ("check that its folder exists ..."), and nothing said the disk was full.
    with small_disk(tmp_path / "disk") as disk:
        database = f"sqlite:///{disk.folder}/digest.db"
        digest = _service(tmp_path, database)
        upgraded = digest("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        disk.fill()
        done = digest("status")
        disk.free()
        again = digest("status")
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"error: cannot open the database {database}: disk I/O error; " in said, said
    assert "the disk that holds it is full: free space there" in said, said
    assert "check that its folder exists" not in said
    assert again.returncode == 0, again.stderr  # nothing was harmed


def test_a_first_start_on_a_full_disk_says_to_free_space_for_the_secret_key(
    tmp_path: Path,
) -> None:
    # The key is made in data_dir at the first start: on a full disk the advice was to make a
    # folder writable that was writable.
    with small_disk(tmp_path / "disk") as disk:
        config = tmp_path / "digest.toml"
        (tmp_path / "members.csv").write_text("email,name\nreader@example.org,Reader\n")
        config.write_text(
            config_text(tmp_path, None, "http://127.0.0.1:9/wire.xml").replace(
                f'data_dir = "{tmp_path}/var"', f'data_dir = "{disk.folder}/var"'
            )
        )
        (disk.folder / "var").mkdir()
        environment = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path}/digest.db", "PATH": "/bin"}
        disk.fill()
        done = subprocess.run(
            [str(DIGEST), "--config", str(config), "run", "--once"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        left = sorted(path.name for path in (disk.folder / "var").iterdir())
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"{disk.folder}/var/secret_key: cannot create the secret key file: No space left on "
        "device; free space on its disk or set DIGEST_SECRET_KEY" in said
    ), said
    assert left == []  # no half-written key, and no temporary file


class FillingSink(SmtpSink):
    """Fills ``disk`` once it has taken ``fill_at`` messages, and frees it ``free_after``
    seconds later, as an operator who read the log would."""

    disk: SmallDisk
    fill_at: int = 50
    free_after: float = 3.0

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.fill_at:
            self.disk.fill()
            threading.Timer(self.free_after, self.disk.free).start()
        return answer


def test_copies_sent_while_the_database_disk_is_full_are_recorded_once_it_has_room(
    tmp_path: Path,
) -> None:
    # The disk of the SQLite database filled mid-edition, with copies taken by the mail server
    # and not yet on the ledger: the log said "the database is unreachable (database or disk is
    # full)" for a minute, and an operator went looking for a server that was not down. Freed
    # within that minute, the copies are recorded and none goes twice.
    readers = 300
    sink = FillingSink("127.0.0.1", free_port())
    with small_disk(tmp_path / "disk", "8m") as disk, smtp_server(sink):
        sink.disk = disk
        database = f"sqlite:///{disk.folder}/digest.db"
        with deployment(tmp_path, database, None, sink, readers) as service:
            done = service.run("send", "daily")
            result = tally(sink, service)
    said = " ".join(done.stderr.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "as sent: the disk that holds the database is full (database or disk is full): free "
        "space there within a minute, or what this records goes again; again in 0.25 s" in said
    ), said
    assert "the database is unreachable" not in said
    assert result.sent == readers and result.duplicates == 0 and result.lost == 0, result


def test_copies_sent_while_the_postgresql_disk_is_full_are_recorded_once_it_has_room(
    tmp_path: Path,
) -> None:
    # The database's tables on a disk of their own (a tablespace) that fills mid-edition:
    # PostgreSQL refuses the ledger's UPDATE ("could not extend file ...: No space left on
    # device"), and the log said the database was unreachable while it answered every query.
    readers = 300
    sink = FillingSink("127.0.0.1", free_port())
    with (
        postgres_cluster() as server,
        small_disk(server.socket_folder / "small", "64m", owner="postgres") as disk,
        smtp_server(sink),
    ):
        sink.disk = disk
        engine = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f"CREATE TABLESPACE small LOCATION '{disk.folder}'"))
            connection.execute(text("CREATE DATABASE digest TABLESPACE small"))
        engine.dispose()
        database = server.url.rsplit("/", 1)[0] + "/digest"
        with deployment(tmp_path, database, None, sink, readers) as service:
            done = service.run("send", "daily")
            result = tally(sink, service)
    said = " ".join(done.stderr.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "as sent: the disk that holds the database is full (could not extend file" in said, said
    assert "the database is unreachable" not in said
    assert result.sent == readers and result.duplicates == 0 and result.lost == 0, result


def _delivered(summary: str) -> int:
    """The cycle summary's count of messages delivered."""
    found = re.search(r"messages delivered\D+(\d+)", summary)
    assert found, summary
    return int(found.group(1))


@contextmanager
def _outbox_filling(tmp_path: Path, readers: int) -> Iterator[tuple[SmallDisk, Path, Deployment]]:
    """A service of ``readers`` (in batches of 100) whose outbox is on a small disk with room
    for about a dozen copies; its database elsewhere."""
    with small_disk(tmp_path / "disk", "8m") as disk:
        outbox = disk.folder / "outbox"
        database = f"sqlite:///{tmp_path}/digest.db"
        with deployment(
            tmp_path,
            database,
            None,
            None,
            readers,
            service_extra=f'outbox = "{outbox}"',
            extra="[worker]\nbatch_size = 100",
        ) as service:
            disk.fill(leave=200_000)
            yield disk, outbox, service


def test_an_outbox_whose_disk_fills_mid_edition_holds_each_copy_once_after_room_comes_back(
    tmp_path: Path,
) -> None:
    # The copies written before the disk filled are on the ledger and in the folder, once; the
    # rest stay pending with no attempt counted, and the next run with room writes exactly
    # them. The cycle summary said "messages delivered 0" while the outbox held the first ones,
    # and each later batch met the full disk again and said so, twice.
    readers = 300
    with _outbox_filling(tmp_path, readers) as (disk, outbox, service):
        first = service.run("run", "--once")
        written = sorted(outbox.iterdir())
        rows = service.rows()
        disk.free()
        second = service.run("run", "--once")
        finally_written = sorted(outbox.iterdir())
        final_rows = service.rows()
    said = " ".join(first.stderr.split())
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"service.outbox: cannot write to {outbox}: No space left on device; " in said, said
    # Once among the cycle's problems, once in the log of the batch that met it.
    assert said.count("problem: service.outbox") == 1, said
    assert said.count("service.outbox: cannot write to") == 2, said
    assert 0 < len(written) < readers
    assert all(path.suffix == ".eml" for path in written)  # no half-written file left
    assert Counter((status, attempts) for status, attempts, _ in rows.values()) == Counter(
        {("sent", 1): len(written), ("pending", 0): readers - len(written)}
    )
    assert _delivered(first.stdout) == len(written), first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "service.outbox" not in second.stderr
    assert _delivered(second.stdout) == readers - len(written), second.stdout
    assert len(finally_written) == readers and set(written) <= set(finally_written)
    assert Counter((status, attempts) for status, attempts, _ in final_rows.values()) == Counter(
        {("sent", 1): readers}
    )


def _big_feed(stories: int) -> bytes:
    """An RSS document of ``stories`` stories of a few kilobytes each."""
    body = "The talks went on into the night, and Iran said it would answer. " * 40
    items = "".join(
        f"<item><title>Iran story {n}</title><link>https://wire.example.org/story/{n}</link>"
        f"<guid>urn:wire:{n}</guid><description>{body}</description></item>"
        for n in range(stories)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example.org/</link>{items}</channel></rss>"
    ).encode()


def test_a_poll_that_fills_the_database_disk_stores_nothing_of_it_and_the_next_takes_it_all(
    tmp_path: Path,
) -> None:
    # Half a feed's articles stored, or its ETag kept without them, would lose the rest for good:
    # the server answers the next poll with 304 Not Modified.
    stories = 200
    feed = answer(200, _big_feed(stories), {"Content-Type": "application/rss+xml", "ETag": '"v1"'})
    with small_disk(tmp_path / "disk") as disk, feed_server({"/wire.xml": feed}) as server:
        database = f"sqlite:///{disk.folder}/digest.db"
        digest = _service(tmp_path, database, server.url("/wire.xml"))
        assert digest("db", "upgrade").returncode == 0
        disk.fill(leave=150_000)  # room for a third of the articles
        full = digest("poll")
        engine = create_engine(database)
        try:
            with engine.connect() as connection:
                stored_when_full = connection.scalar(select(func.count()).select_from(ArticleRow))
                etag_when_full = connection.scalar(select(FeedRow.etag))
            disk.free()
            again = digest("poll")
            with engine.connect() as connection:
                stored = connection.scalar(select(func.count()).select_from(ArticleRow))
        finally:
            engine.dispose()
    said = " ".join(full.stderr.split())
    assert full.returncode == 1, full.stdout + full.stderr
    assert "database or disk is full; the disk that holds it is full: free space there" in said
    assert "Traceback" not in full.stderr
    assert stored_when_full == 0 and etag_when_full is None
    assert again.returncode == 0, again.stdout + again.stderr
    assert stored == stories


def test_send_stopped_by_a_full_outbox_says_how_far_it_went_and_who_sends_the_rest(
    tmp_path: Path,
) -> None:
    # `digest send` ended on the outbox error alone: sent again, it builds a new edition, and
    # nothing said that this one's pending readers wait for the next digest run.
    readers = 300
    with _outbox_filling(tmp_path, readers) as (disk, outbox, service):
        stopped = service.run("send", "daily")
        written = len(list(outbox.iterdir()))
        disk.free()
        rest = service.run("run", "--once")
        final_rows = service.rows()
        finally_written = len(list(outbox.iterdir()))
    said = " ".join(stopped.stdout.split())
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "service.outbox: cannot write to" in stopped.stderr
    assert (
        f"Stopped sending edition 1 of daily: sent {written}, pending {readers - written}; the "
        "next digest run sends the pending ones (digest status)." in said
    ), said
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert _delivered(rest.stdout) == readers - written
    assert finally_written == readers
    assert Counter(status for status, _, _ in final_rows.values()) == {"sent": readers}


def test_a_sign_up_and_a_confirmation_on_a_full_database_disk_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sign-up is taken after its answer: on a full disk it waits and is tried again, and a
    # confirmation (written while the reader waits) is a 503 that asks to come back, not a 500.
    web_port = free_port()
    with small_disk(tmp_path / "disk") as disk, smtp_server() as sink:
        database = f"sqlite:///{disk.folder}/digest.db"
        monkeypatch.setenv("DIGEST_DATABASE_URL", database)  # for the processes started below
        config = served_config(tmp_path, sink.port, web_port)
        assert end_to_end_digest(config, "db", "upgrade", database_url=database).returncode == 0
        with (
            digest_process(config, "serve", "--port", str(web_port)) as (serving, address),
            httpx.Client(timeout=10) as client,
        ):
            disk.fill()
            answer = sign_up(client, address, "nour@example.org", "Nour")
            threading.Timer(3.0, disk.free).start()  # past its first try (within 2 s)
            mail = confirmation_mails(sink, 1)["nour@example.org"]
            confirm = next(url for url in urls_of(mail) if "/confirm/" in url)
            token = re.search(r'name="form_token" value="([^"]+)"', client.get(confirm).text)
            assert token is not None
            disk.fill()
            refused = client.post(confirm, data={"form_token": token.group(1)})
            disk.free()
            confirmed = client.post(confirm, data={"form_token": token.group(1)})
            serving.terminate()
            log = serving.communicate(timeout=20)[1]
        now = statuses(config, database)
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert "a sign-up waits for the database (database or disk is full); tried again in" in log
    assert refused.status_code == 503 and "Please try again in a few minutes" in refused.text
    assert "Traceback" not in log
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert now["nour@example.org"] == "confirmed"


def test_a_bounce_met_by_a_full_database_disk_is_answered_451_and_taken_once_it_has_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answered 250 and lost, the bounce would never come again: the reader stays mailed.
    with small_disk(tmp_path / "disk") as disk, smtp_server() as sink:
        database = f"sqlite:///{disk.folder}/digest.db"
        monkeypatch.setenv("DIGEST_DATABASE_URL", database)
        config = example_config(tmp_path, smtp_port=sink.port)
        config.write_text(config.read_text() + "\n[bounces]\nenabled = true\n")
        first = end_to_end_digest(config, "run", "--once", database_url=database)
        assert first.returncode == 0, first.stderr
        verp = sink.received[0].mail_from
        port = free_port()
        process = start_inbound(config, port)
        try:
            disk.fill()
            with (
                smtplib.SMTP("127.0.0.1", port, timeout=30) as client,
                pytest.raises(smtplib.SMTPDataError) as refused,
            ):
                client.sendmail("", [verp], inbound_mail.dsn(to=verp))
            disk.free()
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.sendmail("", [verp], inbound_mail.dsn(to=verp))
        finally:
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=60)
        engine = create_engine(database)
        try:
            with engine.connect() as connection:
                suppressed = connection.scalar(text("SELECT count(*) FROM suppressions"))
        finally:
            engine.dispose()
    assert refused.value.smtp_code == 451, refused.value
    assert "database or disk is full" in log and "answered 451" in log, log
    assert "Traceback" not in log
    assert suppressed == 1
