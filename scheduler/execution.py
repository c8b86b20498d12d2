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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone as dj_timezone

from jobs.models import FINISHED_STATUSES, Job, Run, RunStatus
from scheduler import metrics
from scheduler.decisions import lateness_ms

logger = logging.getLogger(__name__)

_GOING = (RunStatus.PENDING, RunStatus.RUNNING)
_STATUS_OF_RESULT = {
    "succeeded": RunStatus.SUCCEEDED,
    "failed": RunStatus.FAILED,
    "timed_out": RunStatus.TIMED_OUT,
}


# The job's columns a run needs besides its id: what runs and within which limits.
TICKET_FIELDS = (
    "name",
    "script",
    "timeout_seconds",
    "memory_mb",
    "output_bytes",
    "http_response_bytes",
)


@dataclass(frozen=True)
class RunTicket:
    """Everything needed to start a claimed run without reading the database first."""

    run_id: uuid.UUID
    job_id: uuid.UUID
    job_name: str
    script: str
    scheduled_for: datetime | None
    trigger: str
    limits: Any
    # What the claim wrote to the job's last_exec_time: replaced by the script's real start
    # unless a newer run started meanwhile.
    claimed_start: datetime | None

    @classmethod
    def for_job(cls, job: Job, run: Run, *, claimed_start: datetime | None) -> RunTicket:
        from jsruntime import RunLimits

        return cls(
            run_id=run.pk,
            job_id=job.pk,
            job_name=job.name,
            script=job.script,
            scheduled_for=run.scheduled_for,
            trigger=run.trigger,
            limits=RunLimits.for_job(job),
            claimed_start=claimed_start,
        )


def execute_run(run_id: uuid.UUID) -> str:
    """Run a claimed (`running`) run to its end and record it; returns its final status."""
    run = Run.objects.select_related("job").filter(pk=run_id, status=RunStatus.RUNNING).first()
    if run is None:
        # Deleted with its job, or recorded as lost by a shutdown that gave up waiting.
        return ""
    return execute_ticket(RunTicket.for_job(run.job, run, claimed_start=run.started_at))


def execute_ticket(ticket: RunTicket) -> str:
    """Run the script, then record the result; blocks while the script runs."""
    try:
        from jsruntime import RunContext, get_pool

        result = get_pool().run(
            ticket.script,
            context=RunContext(
                job_id=str(ticket.job_id),
                job_name=ticket.job_name,
                run_id=str(ticket.run_id),
                scheduled_for=ticket.scheduled_for,
                trigger=ticket.trigger,
            ),
            limits=ticket.limits,
        )
    except Exception as exc:
        # The sandbox itself failed (not the script): the run is recorded, the node goes on.
        logger.exception("sandbox failed", extra={"job_id": ticket.job_id, "run_id": ticket.run_id})
        finished = dj_timezone.now()
        return _record(
            ticket,
            status=RunStatus.FAILED,
            started_at=None,
            finished_at=finished,
            output="",
            output_truncated=False,
            error=f"the sandbox could not run the script: {exc}",
        )
    return _record(
        ticket,
        status=_STATUS_OF_RESULT.get(result.status, RunStatus.FAILED),
        started_at=_aware(result.started_at),
        finished_at=_aware(result.finished_at) or dj_timezone.now(),
        output=result.output or "",
        output_truncated=bool(result.output_truncated),
        error=result.error or "",
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if dj_timezone.is_naive(value):
        return dj_timezone.make_aware(value, dj_timezone.UTC)
    return value


def _record(
    ticket: RunTicket,
    *,
    status: str,
    started_at: datetime | None,
    finished_at: datetime,
    output: str,
    output_truncated: bool,
    error: str,
) -> str:
    values: dict[str, object] = {
        "status": status,
        "finished_at": finished_at,
        "output": output,
        "output_truncated": output_truncated,
        "error": error,
    }
    if started_at is not None:
        # The sandbox's start is when the script really began; lateness is measured to it.
        values["started_at"] = started_at
        if ticket.scheduled_for is not None:
            values["late_ms"] = lateness_ms(ticket.scheduled_for, started_at)
    with transaction.atomic():
        # `pending` too: a run claimed ahead may end before the loop marks it running.
        written = Run.objects.filter(pk=ticket.run_id, status__in=_GOING).update(**values)
        if written and started_at is not None and ticket.claimed_start is not None:
            # lastExecTime follows the real start, unless a newer run began meanwhile.
            Job.objects.filter(pk=ticket.job_id, last_exec_time=ticket.claimed_start).update(
                last_exec_time=started_at
            )
    if not written:
        # Deleted with its job, or recorded as lost by a shutdown that gave up waiting.
        return ""
    metrics.RUNS_FINISHED.labels(status).inc()
    prune_runs(ticket.job_id)
    return status


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
    return Run.objects.filter(node=node_name, status=RunStatus.RUNNING).update(
        status=RunStatus.LOST, finished_at=dj_timezone.now(), error=reason
    )


class RunExecutor:
    """Threads that carry runs through the sandbox, so the dispatcher never blocks."""

    def __init__(self, threads: int) -> None:
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="traitor-run")
        self._lock = threading.Lock()
        self._in_flight: dict[uuid.UUID, Future[str]] = {}
        self._closed = False

    def submit(self, ticket: RunTicket) -> None:
        with self._lock:
            if self._closed:
                # Claimed while stopping: left `running`, the lost-run sweep records it.
                return
            metrics.RUNS_IN_FLIGHT.inc()
            future = self._threads.submit(self._execute, ticket)
            self._in_flight[ticket.run_id] = future

    def _execute(self, ticket: RunTicket) -> str:
        try:
            return execute_ticket(ticket)
        except Exception:
            logger.exception("recording a run failed", extra={"run_id": ticket.run_id})
            return ""
        finally:
            # After the run, not before: the script must not wait for a reconnection.
            close_old_connections()
            metrics.RUNS_IN_FLIGHT.dec()
            with self._lock:
                self._in_flight.pop(ticket.run_id, None)

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
