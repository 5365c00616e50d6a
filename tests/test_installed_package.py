"""digest as an operator has it: the wheel built from this tree, installed in a virtual
environment of its own, run from folders that are not the checkout.

The wheel is built once per session (hatchling, offline) and installed without its dependencies
into a new environment that sees this one's packages (a path line) but neither the checkout
nor its editable install. Every command runs from a folder that holds a `digest/` and a
`worker/` of its own, each failing on import: the installed copy must be the one that runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

import digest
from digest.errors import DigestError
from digest.example import EXAMPLE_PARTS, write_example
from tests.servers import free_port, redis_server

ROOT = Path(__file__).resolve().parents[1]
SHADOW = 'raise SystemExit("imported the working directory\'s {name}, not the installed one")\n'


def shadowed(folder: Path) -> Path:
    """``folder`` holding a `digest/` and a `worker/` that fail on import."""
    for package in ("digest", "worker"):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text(SHADOW.format(name=package))
    return folder


class Installed:
    """The installed wheel: its file, and the environment it is installed in."""

    def __init__(self, wheel: Path, environment: Path) -> None:
        self.wheel = wheel
        self.bin = environment / "bin"

    def run(
        self, *arguments: str, cwd: Path, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        environment.pop("PYTHONPATH", None)
        return subprocess.run(
            [str(self.bin / "digest"), *arguments],
            cwd=cwd,
            env={**environment, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *arguments: str, cwd: Path, extra: dict[str, str] | None = None) -> str:
        done = self.run(*arguments, cwd=cwd, extra=extra)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(base / "dist")],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    (wheel,) = (base / "dist").glob("digest-*.whl")
    environment = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True, timeout=60
    )
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(
        subprocess.run(
            [str(environment / "bin/python"), "-c", where],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
    )  # fmt: skip
    # This environment's dependencies, as a plain path: its editable install's own path file
    # (which names the checkout) is not read from there.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(environment / "bin/python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return Installed(wheel, environment)


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """The working directory of the commands: neither the checkout nor the config's folder."""
    return shadowed(tmp_path / "here")


@pytest.fixture(scope="session")
def written_example(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example written out by the installed command."""
    folder = tmp_path_factory.mktemp("etc")
    printed = installed.ok("config", "example", str(folder), cwd=shadowed(folder / "here"))
    config = folder / "example.toml"
    assert f"digest --config {config} run --once" in printed
    return config


@pytest.fixture
def example(written_example: Path, tmp_path: Path) -> Path:
    """A copy of the written example for one test (its data goes beside it), its sample server
    on a free port."""
    folder = tmp_path / "etc"
    shutil.copytree(written_example.parent, folder, ignore=shutil.ignore_patterns("here"))
    config = folder / "example.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("8421", str(free_port())))
    return config


def test_the_installed_copy_runs_not_the_checkout_nor_the_working_directory(
    installed: Installed, here: Path
) -> None:
    imported = "import digest, worker.app; print(digest.__file__, worker.app.__file__)"
    done = subprocess.run(
        [str(installed.bin / "python"), "-P", "-c", imported],
        cwd=here, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    for path in done.stdout.split():
        assert Path(path).is_relative_to(installed.bin.parent), path
    assert installed.ok("--version", cwd=here) == f"digest {digest.__version__}\n"
    assert installed.wheel.name == f"digest-{digest.__version__}-py3-none-any.whl"


def test_the_wheel_carries_templates_migrations_the_example_and_its_type_marker(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    # Walked, not asked of git: a packager runs these tests from the sdist.
    shipped = {
        "templates": "digest/templates",
        "digest/store/migrations": "digest/store/migrations",
    }
    shipped |= {f"config/{part}": f"digest/example/{part}" for part in EXAMPLE_PARTS}
    wanted = {
        f"{inside}/{path.relative_to(ROOT / folder).as_posix()}".removesuffix("/.")
        for folder, inside in shipped.items()
        for path in [ROOT / folder, *(ROOT / folder).rglob("*")]
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert len(wanted) > 40 and wanted <= names, sorted(wanted - names)
    # Not the data the example writes beside itself when run from a checkout.
    assert not any(name.startswith("digest/example/var/") for name in names)
    assert "digest/py.typed" in names
    assert f"digest-{digest.__version__}.dist-info/licenses/LICENSE" in names


def test_a_first_edition_from_the_installed_copy_in_a_folder_of_its_own(
    installed: Installed, example: Path, here: Path
) -> None:
    checked = installed.ok("--config", str(example), "config", "check", cwd=here)
    assert "8 feeds, 12 topics, 2 lists" in checked
    assert "Database at revision" in installed.ok(
        "--config", str(example), "db", "upgrade", cwd=here
    )
    summary = installed.ok("--config", str(example), "run", "--once", cwd=here)
    assert re.search(r"messages delivered\s*│\s*14\b", summary), summary
    # Data the service writes is relative to the config file's folder, as the example says,
    # and nothing goes to the working directory.
    assert len(list((example.parent / "var/outbox").glob("*.eml"))) == 14
    preview = installed.ok("--config", str(example), "preview", "gulf-weekly", cwd=here)
    assert f"{example.parent}/var/preview/gulf-weekly.html" in preview
    assert sorted(path.name for path in here.iterdir()) == sorted(["digest", "worker"])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_installed_copy_upgrades_a_postgresql_database(
    installed: Installed, example: Path, here: Path, database_url: str
) -> None:
    printed = installed.ok(
        "--config", str(example), "db", "upgrade",
        cwd=here, extra={"DIGEST_DATABASE_URL": database_url},
    )  # fmt: skip
    assert "Database at revision" in printed


def test_the_installed_copy_serves_its_pages_and_stylesheet(
    installed: Installed, example: Path, here: Path
) -> None:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [str(installed.bin / "digest"), "--config", str(example), "serve", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=here, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first, first + server.stdout.read()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            home = client.get("/")
            assert home.status_code == 200 and "/editions/gulf-weekly" in home.text
            style = re.search(r'href="(/static/site\.css[^"]*)"', home.text)
            assert style is not None
            sheet = client.get(style.group(1))
            assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
            assert client.get("/subscribe/gulf-weekly").status_code == 200
    finally:
        server.terminate()
        server.wait(30)


def test_the_installed_worker_runs_the_ticks_of_the_installed_beat(
    installed: Installed, example: Path, here: Path
) -> None:
    # Celery finds the app and beat's scheduler by their import paths (worker.app,
    # worker.app:TickScheduler): the installed ones, not the working directory's worker/.
    installed.ok("--config", str(example), "db", "upgrade", cwd=here)
    logs = {name: here / f"{name}.log" for name in ("worker", "beat")}

    def said() -> str:
        return "".join(log.read_text() for log in logs.values())

    with redis_server() as broker:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        started = []
        try:
            for command in (["worker", "--concurrency", "1"], ["beat", "--interval", "1"]):
                with logs[command[0]].open("w") as log:
                    started.append(
                        subprocess.Popen(
                            [str(installed.bin / "digest"), "--config", str(example), *command],
                            cwd=here, stdout=subprocess.DEVNULL, stderr=log,
                            env={**environment, "DIGEST_BROKER_URL": broker},
                            start_new_session=True,
                        )
                    )  # fmt: skip
            deadline = time.monotonic() + 60
            while "tick: " not in logs["worker"].read_text() and time.monotonic() < deadline:
                assert all(process.poll() is None for process in started), said()
                time.sleep(0.2)
            assert "Task digest.tick" in logs["worker"].read_text(), said()
            assert "succeeded" in logs["worker"].read_text(), said()
        finally:
            # Killed, pool and all: how they stop is the service tests' matter, and a worker's
            # warm shutdown takes half a minute.
            for process in started:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)


def test_with_no_config_the_installed_copy_says_how_to_write_the_example(
    installed: Installed, here: Path
) -> None:
    done = installed.run("config", "check", cwd=here)
    assert done.returncode == 2
    assert "digest config example FOLDER" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_example_is_never_written_over(tmp_path: Path) -> None:
    config = write_example(tmp_path / "etc")
    config.write_text("# edited\n")
    with pytest.raises(DigestError, match=r"etc/example\.toml: already exists; .* move it away"):
        write_example(tmp_path / "etc")
    assert config.read_text() == "# edited\n"
    (tmp_path / "other/samples").mkdir(parents=True)
    with pytest.raises(DigestError, match=r"other/samples: already exists"):
        write_example(tmp_path / "other")
    assert not (tmp_path / "other/example.toml").exists()
