"""The pool of sandbox worker processes, and the one call the rest of Traitor makes.

The caller's thread drives its run: it hands the script to an idle worker, then reads the
worker's frames itself, so console lines reach `on_console` in that thread the moment they
are printed and plugin calls run there too (with that thread's database connection). The
pool only keeps workers: it starts them, checks them out one run at a time, and replaces any
that died, ran past a limit or retired themselves.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsruntime.plugins import Plugin, PluginCall, call_plugin
from jsruntime.protocol import FrameReader, PeerClosed, ProtocolError, encode, write_all
from jsruntime.types import (
    ConsoleLine,
    RunContext,
    RunLimits,
    RunResult,
    SandboxError,
    human_bytes,
    human_seconds,
)

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Environment variables a worker inherits; everything else (database URLs, SECRET_KEY,
# cloud credentials) stays in the parent.
ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from jsruntime.worker import main; main()"
START_TIMEOUT = 30.0
ACK_TIMEOUT = 10.0
# After the worker's own deadline, how long the parent waits before it kills the process:
# the worker stops a script itself within milliseconds; this only catches a wedged one.
KILL_GRACE_SECONDS = 2.0
MAX_ERROR_CHARS = 16384
WATCH_INTERVAL = 0.5


def _now() -> datetime:
    return datetime.now(UTC)


class _Worker:
    """One worker process and the parent's ends of its pipes."""

    def __init__(self, process: subprocess.Popen[bytes], home: str, max_frame: int) -> None:
        self.process = process
        self.pid = process.pid
        self.home = home
        assert process.stdin is not None and process.stdout is not None
        self.write_fd = process.stdin.fileno()
        self.reader = FrameReader(process.stdout.fileno(), max_frame)

    def send(self, message: dict[str, Any]) -> None:
        write_all(self.write_fd, encode(message))

    def exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"was killed ({name})"
        return f"exited with status {code}"

    def signal_kill(self) -> None:
        """SIGKILL the worker's process group; its pipes stay open for whoever reads them."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def kill(self) -> None:
        self.signal_kill()
        self.reap()

    def stop(self, timeout: float = 2.0) -> None:
        """Close its input (the worker exits on end of file), then kill if it lingers."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self.home, ignore_errors=True)


class SandboxPool:
    """Runs scripts in `size` worker processes; thread-safe; see `run`."""

    def __init__(
        self,
        size: int,
        *,
        plugins: dict[str, Plugin] | None = None,
        max_timeout_seconds: float = 600.0,
        max_memory_mb: int = 2048,
        max_output_bytes: int = 16 * 1024 * 1024,
        deny_private: bool | None = None,
    ) -> None:
        if size < 1:
            raise SandboxError("a sandbox pool needs at least one worker")
        self.size = size
        self.plugins = dict(plugins or {})
        self.max_timeout_seconds = max_timeout_seconds
        self.max_memory_mb = max_memory_mb
        self.max_output_bytes = max_output_bytes
        # Control characters are escaped six bytes each in a frame; this is a sanity cap.
        self.max_frame = 8 * max_output_bytes + (1 << 20)
        self._deny_private = deny_private
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._closed = False
        self._helpers: list[threading.Thread] = []
        self._watcher: threading.Thread | None = None
        # Runs waiting for a worker, first come first served. A worker that finishes a run
        # is handed straight to the first of them, its script written by the thread that
        # finished: the worker starts the next script without waiting for another thread
        # to wake up (each such wake-up cost ~0.3 ms per run in a burst).
        self._waiters: collections.deque[_Waiter] = collections.deque()

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> SandboxPool:
        """Start all workers at once (their start-up overlaps), and wait until each is ready."""
        with self._cond:
            wanted = self.size - len(self._idle) - len(self._busy) - self._starting
            self._starting += wanted
        launched = []
        try:
            for _ in range(wanted):
                launched.append(self._launch())
            ready = [self._await_ready(*item) for item in launched]
        except BaseException:
            for process, home in launched:
                _Worker(process, home, self.max_frame).kill()
            with self._cond:
                self._starting -= wanted
                self._cond.notify_all()
            raise
        handed = []
        with self._cond:
            self._starting -= wanted
            for worker in ready:
                handed.append(self._offer_locked(worker))
            self._cond.notify_all()
        for handoff in handed:
            _deliver(handoff)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="sandbox-watch", daemon=True
                )
                self._watcher.start()
        return self

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every worker; runs in progress end as failed. Safe to call twice."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            waiters, self._waiters = list(self._waiters), collections.deque()
            self._cond.notify_all()
        for waiter in waiters:
            waiter.event.set()  # no worker: the run says the pool is shut down
        for worker in busy:
            # Only the signal: the thread driving that run reads the end of file, records
            # the run as failed and reaps the worker itself, so no pipe closes under it.
            worker.signal_kill()
        for worker in idle:
            worker.stop(timeout)
        for helper in [*self._helpers, self._watcher]:
            if helper is not None and helper is not threading.current_thread():
                helper.join(timeout=START_TIMEOUT)
        global _pool
        with _pool_lock:
            if _pool is self:
                _pool = None

    def warm(self, seconds: float) -> None:
        """Ask the idle workers to keep polling for a script for up to `seconds` (at most
        50 ms): called just before runs are due, so they start without a cold wake-up."""
        frame = encode({"t": "warm", "s": seconds})
        with self._cond:
            # Under the lock: no run can be handed to these workers while this is written.
            for worker in self._idle:
                with contextlib.suppress(OSError):
                    write_all(worker.write_fd, frame)

    def worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(w.pid for w in [*self._idle, *self._busy])

    def idle_worker_pids(self) -> list[int]:
        with self._cond:
            return sorted(w.pid for w in self._idle)

    def wait_until_full(self, timeout: float = START_TIMEOUT) -> bool:
        """True once `size` workers are idle (replacements started); for tests and benches."""
        end = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size:
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
            return True

    def _launch(self) -> tuple[subprocess.Popen[bytes], str]:
        home = tempfile.mkdtemp(prefix="traitor-sandbox-")
        # Empty and read-only: a worker has nothing to read there and may write nothing.
        os.chmod(home, 0o500)
        env = {name: os.environ[name] for name in ENV_ALLOWLIST if name in os.environ}
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOT, str(PROJECT_ROOT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=home,
                env=env,
                close_fds=True,
                start_new_session=True,  # its own session and process group, no terminal
            )
        except OSError as exc:
            shutil.rmtree(home, ignore_errors=True)
            raise SandboxError(f"cannot start a sandbox worker: {exc}") from exc
        return process, home

    def _await_ready(self, process: subprocess.Popen[bytes], home: str) -> _Worker:
        worker = _Worker(process, home, self.max_frame)
        try:
            worker.send(
                {
                    "t": "config",
                    "plugins": {name: sorted(p.functions) for name, p in self.plugins.items()},
                    "max_timeout_seconds": self.max_timeout_seconds,
                    "max_memory_mb": self.max_memory_mb,
                }
            )
            message = worker.reader.read(deadline=time.monotonic() + START_TIMEOUT)
        except (OSError, ProtocolError):
            message = {"t": "crash", "e": f"it {worker.exit_description()}"}
        if message is None or message.get("t") != "ready":
            worker.kill()
            why = "it did not answer" if message is None else str(message.get("e", message))
            raise SandboxError(f"a sandbox worker failed to start: {why}")
        # The worker is in its directory now: remove it. Its working directory stays a
        # deleted, empty one (nothing can be created in it), and nothing is left behind on
        # disk however this process ends.
        shutil.rmtree(home, ignore_errors=True)
        return worker

    def _spawn(self) -> _Worker:
        return self._await_ready(*self._launch())

    def _replace_later(self) -> None:
        """Bring the pool back to full size in the background after a worker left."""

        def replenish() -> None:
            with self._cond:
                if self._closed or self._count() >= self.size:
                    return
                self._starting += 1
            worker = None
            try:
                worker = self._spawn()
            except Exception:
                logger.exception("could not replace a sandbox worker")
            handoff = None
            with self._cond:
                self._starting -= 1
                if worker is not None and not self._closed:
                    handoff = self._offer_locked(worker)
                    worker = None
                self._cond.notify_all()
            if worker is not None:
                worker.kill()
            _deliver(handoff)

        helper = threading.Thread(target=replenish, name="sandbox-replenish", daemon=True)
        with self._cond:
            self._helpers = [t for t in self._helpers if t.is_alive()] + [helper]
        helper.start()

    def _count(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    def _take_dead_idle_locked(self) -> list[_Worker]:
        """Idle workers whose process ended (killed, crashed): out of the idle list.

        An idle worker writes nothing, so a readable pipe means end of file: one select()
        over all idle pipes finds every dead one at once."""
        if not self._idle:
            return []
        by_fd = {worker.reader.fd: worker for worker in self._idle}
        readable, _, _ = select.select(list(by_fd), [], [], 0)
        dead = [by_fd[fd] for fd in readable]
        dead += [w for w in self._idle if w not in dead and w.process.poll() is not None]
        if dead:
            self._idle = [w for w in self._idle if w not in dead]
        return dead

    def _bury(self, dead: list[_Worker]) -> None:
        for worker in dead:
            logger.warning("sandbox worker %s died while idle; replacing it", worker.pid)
            worker.kill()
            self._replace_later()

    def _watch(self) -> None:
        """Heal the pool without waiting for a run: look at the idle workers twice a second."""
        while True:
            with self._cond:
                if self._closed:
                    return
                dead = self._take_dead_idle_locked()
                if not dead:
                    self._cond.wait(WATCH_INTERVAL)
                    continue
            self._bury(dead)

    def _checkout(self, frame: bytes) -> tuple[_Worker, datetime | None]:
        """A worker for this run, and when `frame` was written to it (None: not yet)."""
        while True:
            waiter = None
            with self._cond:
                if self._closed:
                    raise SandboxError("the sandbox pool is shut down")
                dead = self._take_dead_idle_locked()
                if not dead:
                    if self._idle:
                        worker = self._idle.pop()  # the most recently used: warm caches
                        self._busy.add(worker)
                        return worker, None
                    if self._count() < self.size:
                        self._starting += 1
                    else:
                        waiter = _Waiter(frame)
                        self._waiters.append(waiter)
            if dead:
                self._bury(dead)
                continue
            if waiter is not None:
                waiter.event.wait()
                if waiter.worker is None:
                    raise SandboxError("the sandbox pool is shut down")
                return waiter.worker, waiter.sent_at
            try:
                worker = self._spawn()
            finally:
                with self._cond:
                    self._starting -= 1
                    self._cond.notify_all()
            with self._cond:
                if not self._closed:
                    self._busy.add(worker)
                    return worker, None
            worker.kill()

    def _offer_locked(self, worker: _Worker) -> tuple[_Waiter, _Worker] | None:
        """A ready worker goes to the first waiting run (returned, to be delivered outside
        the lock), or to the idle list."""
        if self._waiters:
            waiter = self._waiters.popleft()
            self._busy.add(worker)
            return waiter, worker
        self._idle.append(worker)
        self._cond.notify()
        return None

    def _checkin(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = healthy and not self._closed
            if keep:
                handoff = self._offer_locked(worker)
            else:
                self._cond.notify_all()
        if keep:
            _deliver(handoff)
            return
        worker.kill()
        if not self._closed:
            self._replace_later()

    # --- runs --------------------------------------------------------------------------

    def run(
        self,
        script: str,
        context: RunContext,
        limits: RunLimits | None = None,
        on_console: Callable[[ConsoleLine], None] | None = None,
    ) -> RunResult:
        """Run `script` in a fresh interpreter in a worker; block until it ends."""
        if limits is None:
            limits = RunLimits.defaults()
        # The pool's own maxima hold whoever built the limits.
        limits = RunLimits(
            timeout_seconds=min(limits.timeout_seconds, self.max_timeout_seconds),
            memory_mb=min(limits.memory_mb, self.max_memory_mb),
            output_bytes=min(limits.output_bytes, self.max_output_bytes),
            http_response_bytes=limits.http_response_bytes,
        )
        deny_private = self._deny_private
        if deny_private is None:
            from django.conf import settings

            deny_private = bool(settings.TRAITOR_HTTP_DENY_PRIVATE)
        request = {
            "t": "run",
            "script": script,
            "job": context.as_js(),
            "deny_private": deny_private,
            "limits": {
                "timeout_seconds": limits.timeout_seconds,
                "memory_mb": limits.memory_mb,
                "output_bytes": limits.output_bytes,
                "http_response_bytes": limits.http_response_bytes,
            },
        }
        frame = encode(request)
        # A worker that died idle is found when its pipe breaks before it acknowledged the
        # script: the script never started, so it is safe to hand it to another worker.
        for _ in range(3):
            worker, sent_at = self._checkout(frame)
            result = None
            try:
                result = self._drive(worker, frame, sent_at, context, limits, on_console)
            finally:
                if result is None or not result.checked_in:
                    self._checkin(worker, result is not None and result.healthy)
            if result is not None:
                return result.value
        raise SandboxError("no sandbox worker accepted the script (three workers died)")

    def _drive(
        self,
        worker: _Worker,
        frame: bytes,
        sent_at: datetime | None,
        context: RunContext,
        limits: RunLimits,
        on_console: Callable[[ConsoleLine], None] | None,
    ) -> _Outcome | None:
        try:
            if sent_at is None:  # else handed over with the script already written
                sent_at = _now()
                write_all(worker.write_fd, frame)
            ack = worker.reader.read(deadline=time.monotonic() + ACK_TIMEOUT)
        except (OSError, ProtocolError):
            return None
        if ack is None or ack.get("t") != "ack":
            logger.warning("sandbox worker %s did not take a script; replacing it", worker.pid)
            return None
        run = _RunRecorder(context, limits, on_console)
        stamp = ack.get("at")
        if isinstance(stamp, int | float) and math.isfinite(stamp):
            # The worker's clock is this machine's clock: the script's real start, which
            # comes before this thread read the frame. Clamped into [sent, read] anyway.
            run.started_at = min(max(datetime.fromtimestamp(stamp, UTC), sent_at), run.started_at)
        timeout = limits.timeout_seconds
        kill_at = run.started_mono + timeout + KILL_GRACE_SECONDS
        while True:
            try:
                message = worker.reader.read(deadline=kill_at)
            except (PeerClosed, OSError):
                how = worker.exit_description()
                return run.finish("failed", f"the script's sandbox process {how}", False, False)
            except ProtocolError as exc:
                logger.error("sandbox worker %s broke the protocol: %s", worker.pid, exc)
                worker.kill()
                return run.finish("failed", "the script's sandbox process misbehaved", False, False)
            if message is None:
                logger.warning("sandbox worker %s missed its deadline; killing it", worker.pid)
                worker.kill()
                return run.finish("timed_out", f"stopped after {human_seconds(timeout)}", False)
            kind = message.get("t")
            if kind == "line":
                run.line(message)
            elif kind == "call":
                reply = self._serve_call(run, message)
                try:
                    write_all(worker.write_fd, reply)
                except OSError:
                    pass  # the worker died; the next read says how
            elif kind == "done":
                status = message.get("status")
                if status not in ("succeeded", "failed", "timed_out"):
                    worker.kill()
                    return run.finish("failed", "the script's sandbox process misbehaved", False)
                clean = bool(message.get("clean"))
                finished_at = _now()
                if clean:
                    # Free for the next run before this one's result is built.
                    self._checkin(worker, True)
                outcome = run.finish(
                    status,
                    str(message.get("error", ""))[:MAX_ERROR_CHARS],
                    clean,
                    bool(message.get("truncated")),
                    pid=worker.pid,
                    finished=finished_at,
                )
                outcome.checked_in = clean
                return outcome
            else:
                worker.kill()
                return run.finish("failed", "the script's sandbox process misbehaved", False)

    def _serve_call(self, run: _RunRecorder, message: dict[str, Any]) -> bytes:
        began = time.monotonic()
        call = PluginCall(
            job_id=str(run.context.job_id),
            job_name=run.context.job_name,
            run_id=None if run.context.run_id is None else str(run.context.run_id),
            trigger=run.context.trigger,
            deadline=run.started_mono + run.limits.timeout_seconds,
        )
        try:
            args = json.loads(message.get("a", "[]"))
            if not isinstance(args, list):
                raise ValueError
        except ValueError:
            ok, value = False, "plugin arguments must be JSON"
        else:
            ok, value = call_plugin(
                self.plugins, str(message.get("m")), str(message.get("f")), args, call
            )
        try:
            answer = (
                {"t": "ret", "ok": True, "v": value}
                if ok
                else {"t": "ret", "ok": False, "e": value}
            )
            reply = encode(answer)
        except (TypeError, ValueError):
            reply = encode({"t": "ret", "ok": False, "e": "the plugin returned a non-JSON value"})
        run.plugin_seconds += time.monotonic() - began
        return reply


class _Waiter:
    """A run waiting for a worker; the thread that hands one over writes `frame` to it."""

    __slots__ = ("frame", "event", "worker", "sent_at")

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.event = threading.Event()
        self.worker: _Worker | None = None
        # When the frame was written to the worker handed over; None if that failed.
        self.sent_at: datetime | None = None


def _deliver(handoff: tuple[_Waiter, _Worker] | None) -> None:
    """Write the waiting run's script to the worker handed to it, then wake that run."""
    if handoff is None:
        return
    waiter, worker = handoff
    sent_at = _now()
    try:
        write_all(worker.write_fd, waiter.frame)
        waiter.sent_at = sent_at
    except OSError:
        pass  # the worker died; the run's own write finds out, and it tries another
    waiter.worker = worker
    waiter.event.set()


class _Outcome:
    __slots__ = ("value", "healthy", "checked_in")

    def __init__(self, value: RunResult, healthy: bool) -> None:
        self.value = value
        self.healthy = healthy
        # The worker was already given back to the pool.
        self.checked_in = False


class _RunRecorder:
    """Collects one run's console lines under the output cap (the parent enforces it too:
    it never trusts a worker's count) and builds the RunResult."""

    def __init__(
        self,
        context: RunContext,
        limits: RunLimits,
        on_console: Callable[[ConsoleLine], None] | None,
    ) -> None:
        self.context = context
        self.limits = limits
        self.on_console = on_console
        self.started_at = _now()
        self.started_mono = time.monotonic()
        self.lines: list[ConsoleLine] = []
        self.left = limits.output_bytes
        self.truncated = False
        self.plugin_seconds = 0.0

    def line(self, message: dict[str, Any]) -> None:
        if self.left <= 0:
            self.truncated = True
            return
        text = str(message.get("x", ""))
        data = text.encode("utf-8", "replace")
        if len(data) + 1 > self.left:
            text = data[: max(0, self.left - 1)].decode("utf-8", "ignore")
            self.truncated = True
            self.left = 0
        else:
            self.left -= len(data) + 1
        level = message.get("l")
        at = _now()
        stamp = message.get("at")
        if isinstance(stamp, int | float):
            # The worker's clock is this machine's clock; clamp it into the run anyway.
            at = min(max(datetime.fromtimestamp(stamp, UTC), self.started_at), at)
        line = ConsoleLine(
            level=level if level in ("log", "info", "warn", "error", "debug") else "log",
            text=text,
            at=at,
        )
        self.lines.append(line)
        if self.on_console is not None:
            try:
                self.on_console(line)
            except Exception:
                logger.exception(
                    "on_console failed",
                    extra={"job_id": str(self.context.job_id), "run_id": str(self.context.run_id)},
                )

    def finish(
        self,
        status: str,
        error: str,
        healthy: bool,
        truncated: bool = False,
        pid: int | None = None,
        finished: datetime | None = None,
    ) -> _Outcome:
        finished = finished or _now()
        truncated = truncated or self.truncated
        output = "\n".join(line.text for line in self.lines)
        if truncated:
            marker = f"[output truncated: over the {human_bytes(self.limits.output_bytes)} limit]"
            output = f"{output}\n{marker}" if output else marker
        result = RunResult(
            status=status,  # type: ignore[arg-type]
            output=output,
            output_truncated=truncated,
            error=error,
            console=self.lines,
            started_at=self.started_at,
            finished_at=finished,
            duration_ms=(time.monotonic() - self.started_mono) * 1000.0,
            plugin_ms=self.plugin_seconds * 1000.0,
            worker_pid=pid,
        )
        return _Outcome(result, healthy)


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> SandboxPool:
    """The process-wide pool, started on first use with the node's settings."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.closed:
            from django.conf import settings

            from jsruntime.plugins import load_plugins

            pool = SandboxPool(
                settings.TRAITOR_SANDBOX_WORKERS,
                plugins=load_plugins(list(settings.TRAITOR_PLUGINS)),
                max_timeout_seconds=settings.TRAITOR_RUN_TIMEOUT_MAX_SECONDS,
                max_memory_mb=settings.TRAITOR_RUN_MEMORY_MAX_MB,
                max_output_bytes=settings.TRAITOR_RUN_OUTPUT_MAX_BYTES,
            )
            pool.start()
            _pool = pool
        return _pool


def current_pool() -> SandboxPool | None:
    """The process-wide pool if it is running; never starts one."""
    pool = _pool
    return pool if pool is not None and not pool.closed else None


def shutdown_pool() -> None:
    """Stop the process-wide pool if one is running; unlike `get_pool().shutdown()`, this
    never starts workers just to stop them."""
    with _pool_lock:
        pool = _pool
    if pool is not None:
        pool.shutdown()


def _forget_after_fork() -> None:
    # A forked child (a Celery prefork worker, say) must not drive the parent's workers
    # through inherited pipes, and has none of its threads: it starts its own pool.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def _shutdown_at_exit() -> None:
    pool = _pool
    if pool is not None:
        pool.shutdown(timeout=0.5)


atexit.register(_shutdown_at_exit)
