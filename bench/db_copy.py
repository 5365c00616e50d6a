"""How fast `digest db copy` moves an SQLite database into PostgreSQL, and in how much memory.

    python bench/db_copy.py [--days 30 90] [--readers 20000] [--feeds 100]

For each ``--days``, a new SQLite database is filled with that many days of the service's life
(bench/year_growth.py's ``filled_database``: articles, editions, the ledger, readers,
pictures), and `digest db copy --to` copies it into a new database of a PostgreSQL cluster the
script starts, as a command of its own. It prints the rows, the time, the rows a second and
the command's peak resident memory: a copy in batches takes about the same memory at any size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.year_growth import filled_database
from tests.servers import postgres_cluster
from tests.test_config import MINIMAL, write_config

ROOT = Path(__file__).resolve().parents[1]


def new_database(server_url: str, name: str) -> str:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def copy_once(server_url: str, days: int, readers: int, feeds: int) -> None:
    with ExitStack() as stack:
        url, store = filled_database(stack, False, days, readers, feeds)
        store.engine.dispose()
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        service = f'[service]\ndatabase_url = "{url}"\ndata_dir = "{folder}/var"\n'
        config = write_config(folder, MINIMAL.replace("[service]\n", service))
        target = new_database(server_url, f"copy_{days}_days")
        environment = {**os.environ, "DIGEST_SECRET_KEY": "bench-secret-key"}
        output = folder / "output.txt"
        command = [str(Path(sys.executable).with_name("digest")), "--config", str(config)]
        started = time.perf_counter()
        with output.open("w") as written:
            process = subprocess.Popen(
                [*command, "db", "copy", "--to", target],
                cwd=ROOT,
                env=environment,
                stdout=written,
                stderr=subprocess.STDOUT,
            )
            # The command's own peak memory, not the largest of every child so far.
            _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - started
        printed = output.read_text()
        if status != 0:
            raise SystemExit(printed)
        copied = next(line for line in printed.splitlines() if line.startswith("Copied "))
        rows = int(copied.split()[1].replace(",", ""))
        own = copied[copied.rindex(" in ") + 4 : copied.index(")") + 1]  # "12.3 s (45,678 rows/s)"
        print(
            f"{days} days: {rows:,} rows in {took:.1f} s ({rows / took:,.0f} rows/s, the command's "
            f"start and end included; the copy itself {own}); peak memory "
            f"{usage.ru_maxrss / 1024:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 90])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=100)
    arguments = parser.parse_args()
    with postgres_cluster() as server:
        for days in arguments.days:
            copy_once(server.url, days, arguments.readers, arguments.feeds)


if __name__ == "__main__":
    main()
