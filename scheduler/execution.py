"""Running a claimed run through the sandbox and recording what happened.

`execute_run(run_id)` is the whole life of a run after its claim: load the job's current
script, run it in the sandbox pool, store the result, prune old runs. It blocks for as
long as the script runs, so the node calls it on `RunExecutor`'s threads and the
dispatcher never waits for a script.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone as dj_timezone

from jobs.models import FINISHED_STATUSES, Job, Run, RunStatus
from scheduler import metrics
from scheduler.decisions import lateness_ms

logger = logging.getLogger(__name__)

_STATUS_OF_RESULT = {
    "succeeded": RunStatus.SUCCEEDED,
    "failed": RunStatus.FAILED,
    "timed_out": RunStatus.TIMED_OUT,
}


def execute_run(run_id: uuid.UUID) -> str:
    """Run a claimed (`running`) run to its end and record it; returns its final status."""
    run = Run.objects.select_related("job").filter(pk=run_id, status=RunStatus.RUNNING).first()
    if run is None:
        # Deleted with its job, or recorded as lost by a shutdown that gave up waiting.
        return ""
    job = run.job
    try:
        from jsruntime import RunContext, RunLimits, get_pool

        result = get_pool().run(
            job.script,
            context=RunContext(
                job_id=str(job.id),
                job_name=job.name,
                run_id=str(run.id),
                scheduled_for=run.scheduled_for,
                trigger=run.trigger,
            ),
            limits=RunLimits.for_job(job),
        )
    except Exception as exc:
        # The sandbox itself failed (not the script): the run is recorded, the node goes on.
        logger.exception("sandbox failed", extra={"job_id": job.id, "run_id": run.id})
        finished = dj_timezone.now()
        _record(
            run,
            status=RunStatus.FAILED,
            started_at=run.started_at or finished,
            finished_at=finished,
            output="",
            output_truncated=False,
            error=f"the sandbox could not run the script: {exc}",
        )
        return RunStatus.FAILED
    status = _STATUS_OF_RESULT.get(result.status, RunStatus.FAILED)
    _record(
        run,
        status=status,
        started_at=_aware(result.started_at) or run.started_at,
        finished_at=_aware(result.finished_at) or dj_timezone.now(),
        output=result.output or "",
        output_truncated=bool(result.output_truncated),
        error=result.error or "",
    )
    return status


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if dj_timezone.is_naive(value):
        return dj_timezone.make_aware(value, dj_timezone.UTC)
    return value


def _record(
    run: Run,
    *,
    status: str,
    started_at: datetime | None,
    finished_at: datetime,
    output: str,
    output_truncated: bool,
    error: str,
) -> None:
    values: dict[str, object] = {
        "status": status,
        "finished_at": finished_at,
        "output": output,
        "output_truncated": output_truncated,
        "error": error,
    }
    claimed_start = run.started_at
    if started_at is not None:
        # The sandbox's start is when the script really began; lateness is measured to it.
        values["started_at"] = started_at
        if run.scheduled_for is not None:
            values["late_ms"] = lateness_ms(run.scheduled_for, started_at)
    with transaction.atomic():
        written = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(**values)
        if written and started_at is not None and claimed_start is not None:
            # lastExecTime follows the real start, unless a newer run began meanwhile.
            Job.objects.filter(pk=run.job_id, last_exec_time=claimed_start).update(
                last_exec_time=started_at
            )
    if written:
        metrics.RUNS_FINISHED.labels(status).inc()
        prune_runs(run.job_id)


def prune_runs(job_id: uuid.UUID, keep: int | None = None) -> int:
    """Delete the job's finished runs beyond the newest `keep`; returns how many."""
    keep = keep if keep is not None else settings.TRAITOR_RUNS_KEPT
    newest = Run.objects.filter(job_id=job_id).order_by("-created_at")
    # The run_job_newest_idx index answers these without reading the older rows; the
    # common case (nothing beyond `keep`) costs one query.
    if not newest[keep : keep + 1].exists():
        return 0
    kept = list(newest.values_list("pk", flat=True)[:keep])
    deleted, _by_model = (
        Run.objects.filter(job_id=job_id, status__in=FINISHED_STATUSES)
        .exclude(pk__in=kept)
        .delete()
    )
    return deleted


def record_lost_runs(node_name: str, reason: str) -> int:
    """Mark the runs a dead process of `node_name` left going as lost; returns how many."""
    now = dj_timezone.now()
    return Run.objects.filter(node=node_name, status=RunStatus.RUNNING).update(
        status=RunStatus.LOST, finished_at=now, error=reason
    )


class RunExecutor:
    """Threads that carry runs through the sandbox, so the dispatcher never blocks."""

    def __init__(self, threads: int) -> None:
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="traitor-run")
        self._lock = threading.Lock()
        self._in_flight: dict[uuid.UUID, Future[str]] = {}
        self._closed = False

    def submit(self, run_id: uuid.UUID) -> None:
        with self._lock:
            if self._closed:
                # Claimed while stopping: left `running`, the lost-run sweep records it.
                return
            metrics.RUNS_IN_FLIGHT.inc()
            future = self._threads.submit(self._execute, run_id)
            self._in_flight[run_id] = future

    def _execute(self, run_id: uuid.UUID) -> str:
        try:
            close_old_connections()
            return execute_run(run_id)
        except Exception:
            logger.exception("recording a run failed", extra={"run_id": run_id})
            return ""
        finally:
            close_old_connections()
            metrics.RUNS_IN_FLIGHT.dec()
            with self._lock:
                self._in_flight.pop(run_id, None)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def stop(self, timeout: float) -> list[uuid.UUID]:
        """Let the runs in flight finish within `timeout`; the ids of those that did not."""
        with self._lock:
            self._closed = True
            futures = list(self._in_flight.values())
        if futures:
            wait_futures(futures, timeout=timeout)
        with self._lock:
            unfinished = list(self._in_flight)
        # Runs not started yet are dropped; the caller records every unfinished one as lost.
        self._threads.shutdown(wait=False, cancel_futures=True)
        return unfinished
