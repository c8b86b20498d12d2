"""`python manage.py runnode`: flags, and a real node walked through README's own examples."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command

from tests.environment import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START_TIMEOUT = 60.0


# --- Flags (in-process: these stop before anything is served) ------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"mode": "multi"}, "-r/--redis"),
        ({"mode": "multi", "redis": "localhost:6379"}, "-r/--redis: expected redis://"),
        ({"mode": "multi", "redis": "redis://r:6379/0", "mongo": "mysql://m"}, "-mg/--mongo"),
        ({"mode": "multi", "redis": "redis://r:6379/0", "mongo": "mongodb://m:27017"},
         "cluster mode (-m multi) is not built yet"),
        ({"port": 70000}, "-p/--port"),
        ({"port": 0}, "-p/--port"),
        ({"ip": "localhost.example"}, "-ip/--ip"),
        ({"db": "postgresql://elsewhere/x"}, "--db is read before the settings load"),
    ],
)  # fmt: skip
def test_it_refuses_flags_it_cannot_use_with_one_line(options: dict, says: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("runnode", **options)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_multi_mode_without_redis_exits_non_zero_naming_the_flag(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "runnode", "-m", "multi", "-mg", "mongodb://m:27017"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "-r/--redis" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_db_url_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "runnode", "--db", "mysql://x/y"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip() == "--db: expected postgresql://user:password@host:5432/name, " \
        "got 'mysql://x/y'"  # fmt: skip


# --- Settings: a malformed variable stops any command with one line ---------------------


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TRAITOR_RUN_THREADS", "abc", "TRAITOR_RUN_THREADS must be a whole number, got 'abc'"),
        ("TRAITOR_SANDBOX_WORKERS", "x", "TRAITOR_SANDBOX_WORKERS must be a whole number, got 'x'"),
        ("TRAITOR_AUTH", "maybe",
         "TRAITOR_AUTH must be one of on/off, true/false, 1/0; got 'maybe'"),
        ("TRAITOR_DEFAULT_TIMEZONE", "Mars/X",
         "TRAITOR_DEFAULT_TIMEZONE must be an IANA time zone name such as 'UTC', 'Europe/Paris' "
         "or 'America/New_York', got 'Mars/X'"),
        ("TRAITOR_DEFAULT_TIMEZONE", "localtime",
         "TRAITOR_DEFAULT_TIMEZONE: 'localtime' is the host's own zone, which Traitor never uses "
         "(every node must read a cron the same way); give an IANA name such as 'UTC' or "
         "'Europe/Paris'"),
    ],
)  # fmt: skip
def test_a_malformed_setting_stops_the_node_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = _env(tmp_path)
    env[variable] = value
    done = subprocess.run(
        [sys.executable, "manage.py", "runnode", "-ip", "127.0.0.1", "-p", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (done.returncode, done.stderr, done.stdout) == (2, f"traitor: {says}\n", "")


def test_a_malformed_setting_is_one_line_for_every_command(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["TRAITOR_RUN_THREADS"] = "abc"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "traitor: TRAITOR_RUN_THREADS must be a whole number, got 'abc'\n"


def test_other_errors_while_loading_the_settings_keep_their_traceback(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "traitor_site.no_such_settings"
    done = subprocess.run(
        [sys.executable, "manage.py", "runnode"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "No module named 'traitor_site.no_such_settings'" in done.stderr


@pytest.mark.parametrize("name", ["Europe/Paris", " America/New_York "])
def test_a_valid_default_timezone_is_read(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from traitor_site.env import env_timezone

    monkeypatch.setenv("TRAITOR_DEFAULT_TIMEZONE", name)
    assert env_timezone("TRAITOR_DEFAULT_TIMEZONE", "UTC") == name.strip()
    monkeypatch.setenv("TRAITOR_DEFAULT_TIMEZONE", "")
    assert env_timezone("TRAITOR_DEFAULT_TIMEZONE", "UTC") == "UTC"


# --- A real node ------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TRAITOR_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    # The test session's own database is not the node's: the node gets --db or SQLite.
    env.pop("TRAITOR_DATABASE_URL", None)
    env.pop("TRAITOR_SECRET_KEY", None)  # the node generates and keeps its own
    return env


class Node:
    """A `runnode` subprocess whose output is collected line by line."""

    def __init__(self, home: Path, port: int, extra: list[str]) -> None:
        self.port = port
        self.lines: list[str] = []
        self._drained = False  # True once the output's end has been read
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runnode", "-ip", "127.0.0.1", "-p", str(port), *extra],
            cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                self._drained = True
                raise AssertionError("runnode exited:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if " ready (" in line and f"http://127.0.0.1:{self.port}/" in line:
                return
        raise AssertionError("runnode was not ready in time:\n" + "\n".join(self.lines))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        while not self._drained:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                self._drained = True
                break
            self.lines.append(line)
        return code


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[Any]:
    nodes: list[Node] = []

    def start(home: Path, extra: list[str]) -> Node:
        node = Node(home, free_port(), extra)
        nodes.append(node)
        node.wait_ready()
        return node

    yield start
    for node in nodes:
        node.stop()


def _node_database() -> list[str]:
    """Under TRAITOR_TEST_DB=postgresql: a fresh database on the session's server, via --db."""
    server = os.environ.get("TRAITOR_TEST_POSTGRES_SERVER")
    if not server:
        return []
    import psycopg

    name = f"traitor_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return ["--db", f"{server}/{name}"]


def readme_examples() -> list[tuple[str, int]]:
    """The curl commands of README's API section, in order, each with its expected status."""
    text = README.read_text()
    section = text[text.index("<!-- section:api -->") : text.index("<!-- /section:api -->")]
    examples = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        expected = re.search(r"# answers (\d{3})", block)
        command = re.sub(r"\\\n\s*", " ", block)
        command = "\n".join(ln for ln in command.splitlines() if not ln.startswith("#")).strip()
        if command.startswith("curl "):
            examples.append((command, int(expected.group(1)) if expected else 200))
    return examples


def curl_as_request(command: str) -> tuple[str, str, dict[str, str], str | None]:
    """A README curl line as (method, url, headers, body); only the flags README uses."""
    words = shlex.split(command)[1:]
    method, url, headers, body = None, None, {}, None
    while words:
        word = words.pop(0)
        if word == "-s":
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            key, _, value = words.pop(0).partition(":")
            headers[key.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = words.pop(0)
        elif word.startswith("http"):
            url = word
        else:
            raise AssertionError(f"README uses a curl flag this walker does not know: {word}")
    assert url is not None, command
    return method or ("POST" if body is not None else "GET"), url, headers, body


@pytest.mark.e2e
@pytest.mark.django_db  # so the PostgreSQL run walks it too, with --db
def test_a_node_serves_the_readme_examples_and_prints_its_secrets_once(
    tmp_path: Path, start_node: Any
) -> None:
    home = tmp_path / "home"
    db = _node_database()
    node = start_node(home, db)

    token = re.search(r"API token:\s+(\w+)", node.output).group(1)
    password = re.search(r"admin password:\s+(\S+)", node.output).group(1)
    base = f"http://127.0.0.1:{node.port}"
    assert (home / "secret_key").exists()

    examples = readme_examples()
    assert len(examples) >= 10
    job = None
    walked = []
    for command, expected in examples:
        if "$JOB" in command:
            assert job is not None, "README uses $JOB before creating a job"
            command = command.replace("$JOB", job)
        command = command.replace("$TOKEN", token).replace("http://localhost:8080", base)
        method, url, headers, body = curl_as_request(command)
        response = requests.request(
            method, url, headers=headers, data=body.encode() if body else None, timeout=10
        )
        assert response.status_code == expected, (command, response.text, node.output[-3000:])
        assert response.headers["Content-Type"].startswith("application/json")
        answer = response.json()
        if method == "POST" and "/api/job?" in url and expected == 200:
            job = answer["id"]
        walked.append((method, url.split("?")[0].removeprefix(base)))
    assert ("DELETE", "/api/job") in walked and ("POST", "/api/run") in walked

    # The admin, its static files, and an API error page are all served by the node.
    assert requests.get(f"{base}/admin/login/", timeout=10).status_code == 200
    css = requests.get(f"{base}/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    missing = requests.get(f"{base}/api/nothing", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()
    anonymous = requests.get(f"{base}/api/jobList", timeout=10)
    assert anonymous.status_code == 401 and "error" in anonymous.json()

    # The address the ready line prints opens the admin.
    root = requests.get(f"{base}/", timeout=10)
    assert root.status_code == 200 and root.url == f"{base}/admin/login/?next=/admin/"
    assert root.history[0].status_code == 302
    _browser_writes_through_the_api(base, password)

    # A chunked body (no Content-Length) over the limit names the limit, not "0 bytes".
    chunks = (b"x" * 65536 for _ in range(20))  # 1.25 MiB, over the default 1 MiB
    chunked = requests.post(
        f"{base}/api/job?type=timing", data=chunks, timeout=10,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["error"] == (
        "the request body is over the limit of 1048576 bytes (TRAITOR_MAX_BODY_BYTES)"
    )

    assert node.stop() == 0
    assert "stopping" in node.output

    # A second start on the same data: the same token works, and no secret is printed.
    again = start_node(home, db)
    assert password not in again.output and token not in again.output
    assert "admin password" not in again.output
    listed = requests.get(
        f"http://127.0.0.1:{again.port}/api/jobList",
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    # The one /api/run made, and the one the browser session created.
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert again.stop() == 0


def _browser_writes_through_the_api(base: str, password: str) -> None:
    """Log in at /admin/ as a person does, then write JSON with the CSRF token (README)."""
    browser = requests.Session()
    login_page = browser.get(f"{base}/admin/login/", timeout=10)
    assert login_page.status_code == 200 and "Traitor administration" in login_page.text
    logged_in = browser.post(
        f"{base}/admin/login/?next=/admin/",
        data={"username": "admin", "password": password, "next": "/admin/",
              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        timeout=10,
    )  # fmt: skip
    assert logged_in.status_code == 200 and logged_in.url == f"{base}/admin/"
    body = {"name": "from the browser", "cron": "0 0 8 ? * MON"}
    refused = browser.post(f"{base}/api/job?type=timing", json=body, timeout=10)
    assert refused.status_code == 403 and "X-CSRFToken" in refused.json()["error"]
    created = browser.post(
        f"{base}/api/job?type=timing", json=body, timeout=10,
        headers={"X-CSRFToken": browser.cookies["csrftoken"]},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    shown = browser.get(f"{base}/api/job?id={created.json()['id']}", timeout=10)
    assert shown.json()["data"]["name"] == "from the browser"


def test_a_port_in_use_is_one_line_and_exit_1_before_anything_is_created(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "manage.py", "runnode", "-ip", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"CommandError: could not listen on 127.0.0.1:{port}: Address already in use (is another "
        "process using the port? choose another with -p)"
    ]
    # Nothing was printed: the admin's secrets wait for a start that can serve.
    assert "admin password" not in done.stdout


def test_every_setting_is_documented_in_the_readme() -> None:
    settings_text = (ROOT / "traitor_site" / "settings.py").read_text()
    text = README.read_text()
    node = text[text.index("<!-- section:node -->") : text.index("<!-- /section:node -->")]
    names = set(re.findall(r'env_\w+\(\s*"(TRAITOR_\w+)"', settings_text))
    assert len(names) > 20
    # `_MAX_SECONDS`-style ceilings share a row with their default: `X` / `_MAX_SECONDS`.
    missing = [
        name for name in sorted(names)
        if f"`{name}`" not in node and f"`{re.sub(r'_MAX_', '_', name)}` / `_MAX_" not in node
    ]  # fmt: skip
    assert not missing, f"README, section Node, does not document {missing}"


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "manage.py", "runnode", "-p", str(free_port()),
         "--db", f"postgresql://traitor@127.0.0.1:{port}/traitor"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"CommandError: cannot use the database (postgresql 127.0.0.1:{port}/traitor)"
    )
    assert "refused" in lines[0]
