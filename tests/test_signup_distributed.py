"""Sign-up in the distributed mode, with real processes: `digest serve` answers the form and
hands the sign-up to Redis as the task `digest.sign_up`; a `digest worker` records it and sends
the confirmation mail to the SMTP server; the rate limits live in that Redis, so two `digest
serve` processes share them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import redis
from sqlalchemy import select

from digest.store.schema import SubscriberRow, SubscriptionRow
from tests.servers import free_port, redis_server, smtp_server
from tests.service_cluster import Deployment, deployment, fresh_database, process, wait_for


def serve(service: Deployment, name: str):  # type: ignore[no-untyped-def]
    port = free_port()
    log = service.folder / f"{name}.log"
    service.logs.append(log)
    return port, process([*service.digest, "serve", "--port", str(port)], service.env, log)


def up(address: str) -> bool:
    try:
        return httpx.get(f"{address}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def sign_up(client: httpx.Client, address: str, email: str) -> httpx.Response:
    page = client.get(f"{address}/subscribe/daily").text
    token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert token is not None, page
    return client.post(
        f"{address}/subscribe/daily", data={"form_token": token.group(1), "email": email}
    )


def status(service: Deployment, email: str) -> str | None:
    with service.engine.connect() as connection:
        return connection.execute(
            select(SubscriptionRow.status)
            .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
            .where(SubscriberRow.email == email)
        ).scalar()


def test_the_workers_handle_sign_ups_and_every_web_process_shares_the_limits(
    tmp_path: Path, postgres_url: str
) -> None:
    extra = '\n[web]\nsignup_rate_per_address = "2/hour"\n'
    with (
        redis_server() as broker,
        smtp_server() as sink,
        deployment(tmp_path, fresh_database(postgres_url), broker, sink, 1) as service,
    ):
        service.config.write_text(service.config.read_text() + extra)
        first_port, first = serve(service, "serve-1")
        second_port, second = serve(service, "serve-2")
        queue = redis.Redis.from_url(broker)
        try:
            with first, second, httpx.Client(timeout=10) as client:
                one, two = (f"http://127.0.0.1:{port}" for port in (first_port, second_port))
                wait_for(lambda: up(one) and up(two), "two digest serve processes")
                assert sign_up(client, one, "nour@example.org").status_code == 200
                # No worker yet: the sign-up waits in Redis, nothing is recorded or sent.
                assert queue.llen("digest") == 1
                assert status(service, "nour@example.org") is None
                # The second process counts on the same window: the third sign-up is refused.
                assert sign_up(client, two, "nour@example.org").status_code == 200
                refused = sign_up(client, one, "nour@example.org")
                assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
                assert queue.llen("digest") == 2
                with service.worker("worker", concurrency=1):
                    wait_for(lambda: len(sink.received) >= 2, "two confirmation mails")
                    wait_for(lambda: queue.llen("digest") == 0, "the queue emptied")
        except AssertionError:
            service.print_logs()
            raise
        assert [mail.rcpt_tos for mail in sink.received] == [["nour@example.org"]] * 2
        assert all(b"/confirm/" in mail.data for mail in sink.received)
        assert status(service, "nour@example.org") == "pending"
