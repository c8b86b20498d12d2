"""A real `python manage.py runnode` in a subprocess, for the end-to-end tests.

Each node gets the data folder it is given (its SQLite file), or its own PostgreSQL
database when the session runs on PostgreSQL. Waits are bounded; `stop_all()` kills
whatever a test left running, so no process outlives the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.environment import free_port

ROOT = Path(__file__).resolve().parents[2]


def database_url_for(name: str) -> str | None:
    """A fresh PostgreSQL database for a node when the session runs on PostgreSQL."""
    server = os.environ.get("TRAITOR_TEST_POSTGRES_SERVER")
    if not server:
        return None
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


class Node:
    def __init__(self, home: Path, name: str, *, database_url: str | None, **env: str) -> None:
        self.home = home
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / f"{name}.log"

    def start(self, timeout: float = 60.0) -> Node:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TRAITOR_") and k != "DJANGO_SETTINGS_MODULE"
        }
        env.setdefault("TRAITOR_SANDBOX_WORKERS", "1")
        env.update(
            TRAITOR_HOME=str(self.home),
            TRAITOR_AUTH="off",
            TRAITOR_NODE_NAME=self.name,
            TRAITOR_SECRET_KEY="e2e-secret",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["TRAITOR_DATABASE_URL"] = self.database_url
        env.update(self.env)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runnode", "-ip", "127.0.0.1", "-p", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"runnode exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"runnode not healthy in {timeout} s: {self.log.read_text()[-3000:]}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.base}{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def runs(self, job_id: str) -> list[dict[str, Any]]:
        """All the job's runs, oldest first."""
        data = self.call("GET", f"/api/runs?id={job_id}&size=200")["data"]
        return list(reversed(data))

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 40.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def new_database_name() -> str:
    return f"e2e_{uuid.uuid4().hex[:12]}"


def wait_until(predicate, timeout: float, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate.__doc__ or predicate}")
        time.sleep(interval)
