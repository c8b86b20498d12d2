"""Loaded by pytest as a plugin (`-p tests.environment`) before Django reads its settings.

It gives the test session its own TRAITOR_HOME, so tests never touch a real node's data, and,
with TRAITOR_TEST_DB=postgresql, starts a private PostgreSQL server on 127.0.0.1 for the
session and points the settings at it. The server lives in a temporary folder and is
stopped when the session ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("TRAITOR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and the developers' machines run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def start_postgres() -> str:
    """Start a throwaway server and return a superuser URL for its `traitor` database."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(
            f"TRAITOR_TEST_DB=postgresql needs PostgreSQL 15 in {PG_BIN} "
            "(apt-get install -y postgresql-15), or TRAITOR_TEST_PG_BIN pointing at its bin/."
        )
    data_root = Path(tempfile.mkdtemp(prefix="traitor-pg-"))
    data_dir = data_root / "data"
    if os.geteuid() == 0:
        shutil.chown(data_root, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data_dir),
                "-w",
                "-l",
                str(data_root / "log"),
                "-o",
                f"-p {port} -k {data_root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )

    def stop() -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(data_root, ignore_errors=True)

    atexit.register(stop)
    url = f"postgresql://postgres@127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN.parent / "bin" / "psql") if (PG_BIN / "psql").exists() else "psql",
                    f"{url}/postgres",
                    "-c",
                    "CREATE DATABASE traitor",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if done.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the test PostgreSQL server did not accept connections in 30 s")
        time.sleep(0.2)
    os.environ["TRAITOR_TEST_POSTGRES_SERVER"] = url
    return f"{url}/traitor"


_home = tempfile.mkdtemp(prefix="traitor-test-home-")
atexit.register(shutil.rmtree, _home, True)
os.environ["TRAITOR_HOME"] = _home
os.environ.setdefault("TRAITOR_SECRET_KEY", "tests-only-secret-key")
os.environ.pop("TRAITOR_DATABASE_URL", None)

if os.environ.get("TRAITOR_TEST_DB", "sqlite") == "postgresql":
    os.environ["TRAITOR_DATABASE_URL"] = start_postgres()
