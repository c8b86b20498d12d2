"""What a node runs beside its web server: the dispatcher and the sandbox pool.

`runnode` calls `start_node_services()` after migrating and before serving, and
`NodeServices.stop()` when it shuts down (SIGTERM or SIGINT).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone as dj_timezone

from jobs.models import Run, RunStatus
from scheduler import wakeup
from scheduler.dispatcher import Dispatcher, DispatchSettings, unclaim_planned
from scheduler.execution import RunExecutor, record_lost_runs

logger = logging.getLogger(__name__)

# Python's thread switch interval while a node runs (Python's default is 5 ms).
THREAD_SWITCH_SECONDS = 0.0005

_current: NodeServices | None = None
_current_lock = threading.Lock()


@dataclass
class NodeServices:
    node_name: str
    dispatcher: Dispatcher | None = None
    executor: RunExecutor | None = None
    thread: threading.Thread | None = None
    # The interpreter's thread switch interval before the node changed it, restored on stop.
    previous_switch: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def alive(self) -> bool:
        """The dispatch loop is running and finished a step recently."""
        if self.thread is None or not self.thread.is_alive() or self._stop.is_set():
            return False
        if self.dispatcher is None or self.dispatcher.heartbeat is None:
            return False
        # A healthy loop completes a step at least every max_sleep seconds.
        age = time.monotonic() - self.dispatcher.heartbeat
        return age < self.dispatcher.config.max_sleep + 30.0

    def stop(self, timeout: float = 30.0) -> None:
        """Stop dispatching, let runs in flight finish or record them, stop the pool."""
        global _current
        self._stop.set()
        wakeup.notify()
        if self.thread is not None:
            self.thread.join(timeout=10.0)
        if self.dispatcher is not None and not (self.thread and self.thread.is_alive()):
            close_old_connections()
            handed_back = self.dispatcher.release_unstarted()
            if handed_back:
                logger.info("%d fires claimed ahead were handed back to any node", handed_back)
        unfinished = self.executor.stop(timeout) if self.executor else []
        if unfinished:
            close_old_connections()
            lost = Run.objects.filter(pk__in=unfinished, status=RunStatus.RUNNING).update(
                status=RunStatus.LOST,
                finished_at=dj_timezone.now(),
                error=(
                    f"lost: the node {self.node_name} stopped before the run finished "
                    f"(waited {timeout:g} s)"
                ),
            )
            logger.warning("stopped with %d runs unfinished, recorded as lost", lost)
        _stop_sandbox_pool()
        if self.previous_switch is not None:
            sys.setswitchinterval(self.previous_switch)
        with _current_lock:
            if _current is self:
                _current = None
        logger.info("node services stopped", extra={"node": self.node_name})


def _warm_sandbox_pool() -> None:
    """Start the sandbox workers now, so the first fire does not wait for them to boot."""
    try:
        from jsruntime import get_pool

        get_pool()
    except Exception:
        # Each run asks for the pool again and records the failure if it persists.
        logger.exception("starting the sandbox pool failed")


def _stop_sandbox_pool() -> None:
    try:
        from jsruntime import get_pool

        get_pool().shutdown()
    except Exception:
        logger.exception("stopping the sandbox pool failed")


def dispatch_settings(node_name: str) -> DispatchSettings:
    return DispatchSettings(
        node_name=node_name,
        cluster=settings.TRAITOR_CLUSTER,
        grace=timedelta(seconds=settings.TRAITOR_MISFIRE_GRACE_SECONDS),
        max_sleep=settings.TRAITOR_DISPATCH_MAX_SLEEP_SECONDS,
        lookahead=timedelta(milliseconds=settings.TRAITOR_DISPATCH_LOOKAHEAD_MS),
        max_runs_per_job=settings.TRAITOR_MAX_RUNS_PER_JOB,
    )


def start_node_services(node_name: str) -> NodeServices:
    """Record what a dead predecessor left running, then start the executor and the loop."""
    global _current
    # Fires a killed predecessor claimed ahead but never started go back to the schedule.
    unclaim_planned(node_name)
    lost = record_lost_runs(
        node_name,
        f"lost: the node {node_name} stopped (killed or crashed) while the run was going",
    )
    if lost:
        logger.warning("%d runs left running by a previous process are now lost", lost)
    previous_switch = sys.getswitchinterval()
    # Run threads wake on a worker's answer and then wait for the interpreter; with Python's
    # 5 ms default switch interval a burst of a hundred fires started ~50 ms later (bench).
    sys.setswitchinterval(min(previous_switch, THREAD_SWITCH_SECONDS))
    threading.Thread(target=_warm_sandbox_pool, name="traitor-pool-start", daemon=True).start()
    # A run thread drives one run in one sandbox worker: one thread per worker, and one
    # more whose run is handed the next free worker with its script already written
    # (bench: 32 threads contending for the interpreter made a burst of 100 fires ~30%
    # later than 3). More would only wait for a worker.
    threads = min(settings.TRAITOR_RUN_THREADS, settings.TRAITOR_SANDBOX_WORKERS + 1)
    executor = RunExecutor(threads=max(1, threads))
    dispatcher = Dispatcher(
        dispatch_settings(node_name),
        submit=executor.submit,
        warm=executor.warm,
        wait_started=executor.wait_started,
        finished_unrecorded=executor.finished_unrecorded,
    )
    services = NodeServices(
        node_name=node_name,
        dispatcher=dispatcher,
        executor=executor,
        previous_switch=previous_switch,
    )
    services.thread = threading.Thread(
        target=_run_loop, args=(dispatcher, services._stop), name="traitor-dispatcher", daemon=True
    )
    services.thread.start()
    with _current_lock:
        _current = services
    logger.info("node services started", extra={"node": node_name})
    return services


def _run_loop(dispatcher: Dispatcher, stop: threading.Event) -> None:
    try:
        dispatcher.run(stop)
    finally:
        # Connections are per thread: this one's would otherwise outlive the loop.
        connections.close_all()


def current() -> NodeServices | None:
    """The services of the node in this process, if it runs any (for /healthz)."""
    return _current
