"""A throw-away PostgreSQL server for tests: ``FFSEG_TEST_POSTGRES_URL`` when set (CI starts one,
see ``.ci/start_postgres``), otherwise the locally installed server (Debian's ``postgresql``
package) started in a temporary folder on a free port, or a skip when none is installed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Set to a SQLAlchemy URL (``postgresql+psycopg://...``) to test against a running server.
ENV = "FFSEG_TEST_POSTGRES_URL"


def _bin_dir() -> Path | None:
    """The folder of ``initdb`` / ``pg_ctl``: on PATH, or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found:  # resolved: a link on PATH may point into Debian's folder
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(versions[-1]).parent if versions else None


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parents[1].name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server() -> Iterator[str]:
    """Start a private server (trust auth, localhost only) and yield its database URL."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (pip install 'ffseg[tune]')")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL is not installed (apt-get install postgresql) and {ENV} is unset")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="ffseg-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr or done.stdout}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "ffseg", "-A", "trust", "--no-sync")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "ffseg", "ffseg")
        yield f"postgresql+psycopg://ffseg@127.0.0.1:{port}/ffseg"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL database to test against (see the module docstring)."""
    url = os.environ.get(ENV)
    if url:
        pytest.importorskip("psycopg", reason="the PostgreSQL driver (pip install 'ffseg[tune]')")
        yield url
        return
    with local_server() as url:
        yield url
