"""One pool of real sandbox workers for the session, and a real HTTP server on 127.0.0.1.

Nothing here is mocked: scripts run in real worker processes on real dukpy. The pool is
shut down at the end of the session, so no worker outlives the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jsruntime import RunContext, RunLimits, RunResult, SandboxPool
from jsruntime.plugins import load_plugins

CONTEXT = RunContext(job_id="00000000-0000-0000-0000-000000000001", job_name="probe")


def limits(**overrides: float) -> RunLimits:
    """Small, fast limits for tests; each test raises what it needs."""
    values = {
        "timeout_seconds": 5.0,
        "memory_mb": 128,
        "output_bytes": 1024 * 1024,
        "http_response_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return RunLimits(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pool() -> Iterator[SandboxPool]:
    sandbox = SandboxPool(
        2,
        plugins=load_plugins(["jsruntime.store", "tests.jsruntime.sample_plugin"]),
        max_timeout_seconds=60,
        max_memory_mb=1024,
    ).start()
    yield sandbox
    sandbox.shutdown()


@pytest.fixture()
def run(pool: SandboxPool):
    """run(script, **limit overrides) -> RunResult, with the probe job's context."""

    def go(script: str, context: RunContext = CONTEXT, **overrides: float) -> RunResult:
        return pool.run(script, context, limits(**overrides))

    return go


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/hello":
            self._send(200, b"hello from the test server", {"Content-Type": "text/plain"})
        elif path == "/missing":
            self._send(404, b"no such page")
        elif path == "/slow":
            time.sleep(3)
            self._send(200, b"late")
        elif path == "/big":
            self._send(200, b"x" * (2 * 1024 * 1024))
        elif path == "/big-unannounced":
            # No Content-Length: the cap must hold while reading, not only from the header.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"y" * 65536)
        elif path == "/to-metadata":
            self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-hello":
            self._send(302, b"", {"Location": "/hello"})
        else:
            self._send(404, b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        reply = (
            f"{self.command} {self.path} {self.headers.get('Content-Type')} "
            f"{self.headers.get('X-Test')} {body.decode()}"
        ).encode()
        self._send(201, reply, {"Content-Type": "text/plain; charset=utf-8"})


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
