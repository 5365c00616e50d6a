"""Prometheus metrics: outcomes counted, the queue's depth read from Redis, and real `digest
worker` and `digest beat` processes serving them, summed over the worker's pool processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from kombu import Connection
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from digest import metrics, pipeline
from digest.clock import FixedClock
from digest.pipeline import BuildOutcome, DeliveryOutcome, PollOutcome
from digest.store.schema import DeliveryRow
from tests.feedserver import answer, feed_server
from tests.servers import free_port, redis_cluster, redis_server, smtp_server
from tests.service_cluster import DIGEST, config_text, fresh_database, process, rss, wait_for
from tests.test_pipeline import (
    DAY1,
    build_without_sending,
    feeds,
    make_settings,
    services_for,
    write_feed,
)

__all__ = ["feeds"]  # the fixture, used by name


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_poll_is_counted_by_result_and_its_articles_by_change() -> None:
    before = (
        sample("digest_polls_total", result="fetched"),
        sample("digest_polls_total", result="not_modified"),
        sample("digest_polls_total", result="error"),
        sample("digest_articles_total", change="new"),
        sample("digest_articles_total", change="updated"),
    )
    metrics.observe_poll(
        PollOutcome(1, "https://a.example/feed", new_articles=4, updated_articles=1)
    )
    metrics.observe_poll(PollOutcome(2, "https://b.example/feed", not_modified=True))
    metrics.observe_poll(PollOutcome(3, "https://c.example/feed", error="HTTP 500"))
    after = (
        sample("digest_polls_total", result="fetched"),
        sample("digest_polls_total", result="not_modified"),
        sample("digest_polls_total", result="error"),
        sample("digest_articles_total", change="new"),
        sample("digest_articles_total", change="updated"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 4, 1]


def test_an_edition_is_counted_when_built_and_not_when_found_built() -> None:
    def built(result: str) -> float:
        return sample("digest_editions_built_total", list="metrics-daily", result=result)

    before = built("built"), built("empty")
    slot = datetime(2026, 12, 4, 7, tzinfo=UTC).isoformat()
    metrics.observe_build(BuildOutcome("metrics-daily", slot, 1, True, False, 12))
    metrics.observe_build(BuildOutcome("metrics-daily", slot, 1, False, False, 12))  # again
    metrics.observe_build(BuildOutcome("metrics-daily", slot, 2, True, True, 0))
    assert (built("built") - before[0], built("empty") - before[1]) == (1, 1)


def test_deliveries_are_counted_by_outcome() -> None:
    outcomes = ("sent", "failed", "skipped", "retrying", "parked")
    before = [sample("digest_deliveries_total", outcome=name) for name in outcomes]
    metrics.observe_delivery(DeliveryOutcome(7, sent=40, failed=2, skipped=3, retrying=4, parked=1))
    after = [sample("digest_deliveries_total", outcome=name) for name in outcomes]
    assert [a - b for a, b in zip(after, before, strict=True)] == [40, 2, 3, 4, 1]


def test_a_skipped_delivery_is_counted_once_as_the_ledger_holds_it(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    """A reader who left before the send is one skipped delivery, however many batches see
    the row: a batch the broker hands out again (its worker lost), or the same rows sent
    twice at once, must not count the rows the first one settled."""
    folder, base_url = feeds
    clock = FixedClock(DAY1)
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    services = services_for(make_settings(tmp_path, base_url), clock)
    try:
        built = build_without_sending(services, "daily")
        store = services.store
        rana = next(s for s in store.active_subscribers("daily") if s.name == "Rana")
        assert store.unsubscribe(rana.id, "daily", clock.now())
        batch = store.pending_deliveries(built.edition_id)
        before = sample("digest_deliveries_total", outcome="skipped")
        for _ in range(3):  # the batch, then twice again as a redelivered task would
            metrics.observe_delivery(pipeline.deliver_batch(services, built.edition_id, batch))
        counted = sample("digest_deliveries_total", outcome="skipped") - before
        ledger = store.delivery_counts(built.edition_id)
    finally:
        services.close()
    assert (ledger.sent, ledger.skipped) == (2, 1)
    assert counted == ledger.skipped


def test_every_metric_spec_says_what_it_measures() -> None:
    names = [spec.name for spec in metrics.ALL]
    assert len(names) == len(set(names))
    for spec in metrics.ALL:
        assert spec.name.startswith("digest_") and spec.help.endswith(".")
        assert spec.kind in {"counter", "histogram", "gauge"}
        assert spec.exposed_by in {"worker", "beat"}


def test_the_queue_depth_is_read_from_the_brokers_lists() -> None:
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        with Connection(url) as connection:
            queue = connection.SimpleQueue("digest")
            for n in range(5):
                queue.put({"n": n})
            taken = queue.get(timeout=5)  # taken and not acknowledged: in hand
            depth = metrics.queue_depth(client, "digest")
            registry = metrics.beat_registry(client, "digest")
            waiting = registry.get_sample_value("digest_queue_waiting", {"queue": "digest"})
            in_hand = registry.get_sample_value("digest_queue_in_hand")
            taken.ack()
            queue.close()
        assert depth == metrics.QueueDepth(waiting=4, in_hand=1)
        assert (waiting, in_hand) == (4, 1)
        client.close()


def test_a_broker_that_does_not_answer_gives_no_queue_sample() -> None:
    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    registry = CollectorRegistry()
    registry.register(metrics.QueueCollector(client, "digest"))
    assert registry.get_sample_value("digest_queue_waiting", {"queue": "digest"}) is None


def test_beat_answers_a_scrape_while_its_broker_hangs(tmp_path: Path) -> None:
    # Read with no timeout, the queue's depth held each scrape for as long as Redis was stalled
    # (its machine paused, packets dropped), instead of giving no sample.
    config = tmp_path / "digest.toml"
    config.write_text(config_text(tmp_path, free_port(), "http://127.0.0.1:9/x"))
    (tmp_path / "members.csv").write_text("email,name\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env["DIGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'digest.db'}"
    digest = [str(DIGEST), "--config", str(config)]
    subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    with redis_cluster() as broker:
        env["DIGEST_BROKER_URL"] = broker.url
        command = [*digest, "beat", "--interval", "60", "--metrics-port", str(port)]
        with process(command, env, tmp_path / "beat.log"):

            def answered() -> bool:
                try:
                    return ("digest_queue_in_hand", ()) in scrape(port)
                except OSError:  # not listening yet
                    return False

            wait_for(answered, "a first scrape with the queue's depth")
            broker.pause()
            try:
                stalled = scrape(port)  # within scrape's own 10 s
            finally:
                broker.resume()
    assert ("digest_queue_in_hand", ()) not in stalled


def test_the_metrics_folders_of_killed_workers_are_removed_by_the_next_to_start(
    tmp_path: Path,
) -> None:
    """A worker's pool processes count into files of a folder of the worker's own, which it
    removes when it stops. A worker killed outright (SIGKILL, its machine's OOM killer) left
    its folder behind, and every restart of such a worker added one. A worker starting
    removes the folders of those that are gone, never one of a worker that runs, even one
    starting at the same moment."""
    config = tmp_path / "digest.toml"
    config.write_text(config_text(tmp_path, free_port(), "http://127.0.0.1:9/x"))
    (tmp_path / "members.csv").write_text("email,name\n")
    scratch = tmp_path / "tmp"  # the workers' temporary folder, watched by this test alone
    scratch.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env |= {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}", "TMPDIR": str(scratch)}
    digest = [str(DIGEST), "--config", str(config)]
    subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)

    def folders() -> set[Path]:
        return {path for path in scratch.rglob("digest-metrics-*") if path.is_dir()}

    def worker(port: int, log: str) -> Any:
        command = [*digest, "worker", "-c", "1", "--metrics-port", str(port)]
        return process(command, env, tmp_path / log)

    def answering(port: int) -> bool:
        try:
            scrape(port)
        except OSError:  # not listening yet
            return False
        return True

    with redis_server() as broker:
        env["DIGEST_BROKER_URL"] = broker
        killed: set[Path] = set()
        for round_ in range(2):
            port = free_port()
            with worker(port, f"killed-{round_}.log") as started:
                wait_for(lambda: answering(port), "the worker's metrics")  # noqa: B023
                os.killpg(started.pid, signal.SIGKILL)
                started.wait()
            killed |= folders()
        assert len(killed) == 2, "each killed worker left its folder (the case at hand)"

        ports = free_port(), free_port()
        with worker(ports[0], "first.log") as first, worker(ports[1], "second.log") as second:
            for port in ports:
                wait_for(lambda: answering(port), "the workers' metrics")  # noqa: B023
            for log in ("first.log", "second.log"):  # stopped once ready, they clean up
                wait_for(lambda: " ready." in (tmp_path / log).read_text(), log)  # noqa: B023
            running = folders()
            assert first.poll() is None and second.poll() is None
        assert running.isdisjoint(killed) and len(running) == 2, (killed, running)
    assert folders() == set(), "a worker that stops removes its own"


def test_a_taken_metrics_port_is_refused_with_the_option_that_set_it(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(config_text(tmp_path, free_port(), "http://127.0.0.1:9/x"))
    (tmp_path / "members.csv").write_text("email,name\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env |= {"DIGEST_BROKER_URL": "redis://127.0.0.1:9/0", "COLUMNS": "200"}
    env["DIGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'digest.db'}"
    upgrade = [str(DIGEST), "--config", str(config), "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(DIGEST), "--config", str(config), "worker", "--metrics-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert f"cannot serve metrics on 127.0.0.1:{port} (--metrics-port = {port})" in message
    assert "Traceback" not in message


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer_:
        text = answer_.read().decode()
    return {
        (sample_.name, tuple(sorted(sample_.labels.items()))): sample_.value
        for family in text_string_to_metric_families(text)
        for sample_ in family.samples
    }


READERS = 3


def test_worker_and_beat_serve_their_metrics(tmp_path: Path, postgres_url: str) -> None:
    database_url = fresh_database(postgres_url)
    (tmp_path / "members.csv").write_text(
        "email,name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(READERS))
    )
    routes = {"/wire.xml": answer(200, rss(datetime.now(UTC)), {"Content-Type": "text/xml"})}
    with redis_server() as broker, smtp_server() as sink, feed_server(routes) as feeds:
        config = tmp_path / "digest.toml"
        config.write_text(config_text(tmp_path, sink.port, feeds.url("/wire.xml")))
        env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
        env["DIGEST_DATABASE_URL"] = database_url
        digest = [str(DIGEST), "--config", str(config)]
        subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([*digest, "poll"], env=env, check=True, capture_output=True)
        env["DIGEST_BROKER_URL"] = broker
        engine = create_engine(database_url)

        def delivered() -> int:
            with engine.connect() as connection:
                query = select(func.count()).where(DeliveryRow.status == "sent")
                return int(connection.execute(query).scalar_one())

        worker_port, beat_port = free_port(), free_port()
        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"

        def ticks_logged() -> int:
            return worker_log.read_text(errors="replace").count("delivery batches handed out")

        try:
            with (
                process(
                    [*digest, "worker", "-c", "2", "--metrics-port", str(worker_port)],
                    env,
                    worker_log,
                ),
                process(
                    [*digest, "beat", "--interval", "1", "--metrics-port", str(beat_port)],
                    env,
                    beat_log,
                ),
            ):
                wait_for(lambda: delivered() == READERS, f"{READERS} deliveries")
                wait_for(lambda: ticks_logged() >= 4, "four ticks")
                before = ticks_logged()
                worker = scrape(worker_port)
                after = ticks_logged()
                beat = scrape(beat_port)
                status = subprocess.run(
                    [*digest, "status", "--json"], env=env, capture_output=True, text=True
                )
        except AssertionError:
            print(worker_log.read_text(errors="replace")[-4000:])
            print(beat_log.read_text(errors="replace")[-2000:])
            raise
        engine.dispose()

    assert worker[("digest_deliveries_total", (("outcome", "sent"),))] == READERS
    assert worker[("digest_deliveries_total", (("outcome", "failed"),))] == 0
    built = ("digest_editions_built_total", (("list", "daily"), ("result", "built")))
    assert worker[built] == 1
    # Ticks run in either of the two pool processes: the endpoint sums both.
    ticks = worker[("digest_task_seconds_count", (("task", "tick"),))]
    assert before <= ticks <= after
    assert worker[("digest_task_seconds_count", (("task", "deliver_batch"),))] >= 1
    assert ("digest_queue_waiting", (("queue", "digest"),)) in beat
    assert ("digest_queue_in_hand", ()) in beat
    assert "worker" not in {spec.exposed_by for spec in metrics.ALL if spec.kind == "gauge"}
    service = json.loads(status.stdout)["service"]
    assert len(service["workers"]) == 1 and service["workers"][0].startswith("celery@")
    assert isinstance(service["queue_waiting"], int) and service["problem"] is None


def test_status_says_when_the_broker_does_not_answer_and_still_shows_the_ledger(
    tmp_path: Path,
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(config_text(tmp_path, free_port(), "http://127.0.0.1:9/x"))
    (tmp_path / "members.csv").write_text("email,name\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env |= {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}", "COLUMNS": "200"}
    digest = [str(DIGEST), "--config", str(config)]
    subprocess.run([*digest, "db", "upgrade"], env=env, check=True, capture_output=True)
    embedded = subprocess.run([*digest, "status", "--json"], env=env, capture_output=True)
    assert json.loads(embedded.stdout)["service"] is None
    env["DIGEST_BROKER_URL"] = f"redis://:secret@127.0.0.1:{free_port()}/0"
    shown = subprocess.run([*digest, "status"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "does not answer" in text and "No editions yet." in text
    assert "secret" not in text


def test_threads_asking_for_a_new_metric_at_once_get_one() -> None:
    """Polls run on threads, and each may be the first to count: one metric is defined."""
    import threading

    spec = metrics.MetricSpec("digest_test_raced_once", "counter", "A metric for this test.")
    start = threading.Barrier(16)
    got: list[object] = []
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            got.append(metrics._metric(spec))
        except BaseException as error:  # a second definition: "Duplicated timeseries"
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(got) == 16 and len({id(metric) for metric in got}) == 1


def test_a_worker_refuses_a_database_whose_schema_is_behind_the_code(tmp_path: Path) -> None:
    from digest.store.db import create_database_engine
    from digest.store.upgrades import head_revision, upgrade

    config = tmp_path / "digest.toml"
    config.write_text(config_text(tmp_path, free_port(), "http://127.0.0.1:9/x"))
    (tmp_path / "members.csv").write_text("email,name\n")
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    engine = create_database_engine(url)
    upgrade(engine, "0006")
    engine.dispose()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    env |= {"DIGEST_BROKER_URL": "redis://127.0.0.1:9/0", "DIGEST_DATABASE_URL": url}
    env["COLUMNS"] = "200"
    for command in ("worker", "beat"):
        result = subprocess.run(
            [str(DIGEST), "--config", str(config), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        message = " ".join((result.stdout + result.stderr).split())
        assert result.returncode == 1, message
        assert f"has schema 0006, this code needs {head_revision()}" in message
        assert "digest db upgrade" in message and "Traceback" not in message
