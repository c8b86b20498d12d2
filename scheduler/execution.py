"""Running a claimed run through the sandbox and recording what happened.

A run's life after its claim: `run_ticket()` runs the script in the sandbox pool (no
database: the ticket carries the script), `record_outcomes()` stores results and prunes old
runs. `execute_run(run_id)` does both for one run. In a node, `RunExecutor` runs tickets on
its threads, so the dispatcher never waits for a script, and one recorder thread writes
the outcomes in batches, so that writing rows never delays the start of another script.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone as dj_timezone

from jobs.models import FINISHED_STATUSES, Job, Run, RunStatus
from scheduler import metrics
from scheduler.decisions import lateness_ms

if TYPE_CHECKING:
    from jsruntime.types import Trigger

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
    return record_outcomes([run_ticket(ticket)])[0]


@dataclass(frozen=True)
class Outcome:
    """How a run ended, before it is stored."""

    ticket: RunTicket
    status: str
    # When the script really began (the sandbox's clock); None if it never did.
    started_at: datetime | None
    finished_at: datetime
    output: str
    output_truncated: bool
    error: str


def run_ticket(ticket: RunTicket) -> Outcome:
    """Run the ticket's script in the sandbox pool; never raises, never reads the database."""
    try:
        from jsruntime import RunContext, get_pool

        result = get_pool().run(
            ticket.script,
            context=RunContext(
                job_id=str(ticket.job_id),
                job_name=ticket.job_name,
                run_id=str(ticket.run_id),
                scheduled_for=ticket.scheduled_for,
                # One of RunTrigger's values, which are the sandbox's trigger names.
                trigger=cast("Trigger", ticket.trigger),
            ),
            limits=ticket.limits,
        )
    except Exception as exc:
        # The sandbox itself failed (not the script): the run is recorded, the node goes on.
        logger.exception("sandbox failed", extra={"job_id": ticket.job_id, "run_id": ticket.run_id})
        return Outcome(
            ticket=ticket,
            status=RunStatus.FAILED,
            started_at=None,
            finished_at=dj_timezone.now(),
            output="",
            output_truncated=False,
            error=f"the sandbox could not run the script: {exc}",
        )
    return Outcome(
        ticket=ticket,
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


_RECORDED_FIELDS = [
    "status",
    "started_at",
    "late_ms",
    "finished_at",
    "output",
    "output_truncated",
    "error",
]
# Runs recorded per job since its last prune, in this process.
_since_prune: Counter[uuid.UUID] = Counter()
_since_prune_lock = threading.Lock()


def record_outcomes(outcomes: list[Outcome]) -> list[str]:
    """Store the outcomes in one transaction; each one's final status ("" if not stored).

    A run is only written while it is still `pending` or `running`: one recorded lost by a
    shutdown that gave up waiting, or deleted with its job, stays as it is.
    """
    statuses = [""] * len(outcomes)
    with transaction.atomic():
        going = set(
            Run.objects.filter(
                pk__in=[o.ticket.run_id for o in outcomes], status__in=_GOING
            ).values_list("pk", flat=True)
        )
        rows: list[Run] = []
        moved: list[When] = []
        observed: list[int] = []
        for index, outcome in enumerate(outcomes):
            ticket = outcome.ticket
            if ticket.run_id not in going:
                continue
            started = outcome.started_at or ticket.claimed_start
            # The sandbox's start is when the script really began; lateness is measured to
            # it, and the histogram observes this very value, so /metrics and lateMs agree.
            late_ms = (
                lateness_ms(ticket.scheduled_for, started)
                if ticket.scheduled_for is not None and started is not None
                else None
            )
            if late_ms is not None and ticket.trigger == "schedule":
                observed.append(late_ms)
            rows.append(
                Run(
                    pk=ticket.run_id,
                    status=outcome.status,
                    started_at=started,
                    late_ms=late_ms,
                    finished_at=outcome.finished_at,
                    output=outcome.output,
                    output_truncated=outcome.output_truncated,
                    error=outcome.error,
                )
            )
            statuses[index] = outcome.status
            if outcome.started_at is not None and ticket.claimed_start is not None:
                # lastExecTime follows the real start, unless a newer run began meanwhile.
                moved.append(
                    When(
                        pk=ticket.job_id,
                        last_exec_time=ticket.claimed_start,
                        then=Value(outcome.started_at),
                    )
                )
        if rows:
            Run.objects.bulk_update(rows, _RECORDED_FIELDS, batch_size=200)
        if moved:
            job_ids = {o.ticket.job_id for o in outcomes}
            Job.objects.filter(pk__in=job_ids).update(
                last_exec_time=Case(*moved, default=F("last_exec_time"))
            )
    for status in statuses:
        if status:
            metrics.RUNS_FINISHED.labels(status).inc()
    for late_ms in observed:
        metrics.FIRE_LATENESS.observe(late_ms / 1000)
    prune_after(o.ticket.job_id for o, status in zip(outcomes, statuses, strict=True) if status)
    return statuses


def prune_after(job_ids: Iterable[uuid.UUID]) -> None:
    """Prune each job every few rows recorded (one id per run recorded or fire skipped): a
    check per row per job would double the writes."""
    keep = settings.TRAITOR_RUNS_KEPT
    every = max(1, min(10, keep // 10))
    due: list[uuid.UUID] = []
    with _since_prune_lock:
        for job_id in job_ids:
            _since_prune[job_id] += 1
            if _since_prune[job_id] >= every:
                del _since_prune[job_id]
                due.append(job_id)
    for job_id in due:
        prune_runs(job_id, keep)


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
    """Threads that carry runs through the sandbox, and one thread that records them."""

    # How long the recorder lets outcomes gather before writing them together: long enough
    # that a burst of fires sharing an instant has started before it writes (bench: at 100
    # jobs/s, 0.02 s gave p99 135 ms, 0.1 s 85 ms; longer gained nothing), short enough that
    # a finished run is not shown `running` for long.
    GATHER_SECONDS = 0.1
    MAX_BATCH = 500

    def __init__(self, threads: int) -> None:
        # Plain threads on one queue (a put is cheap and wakes one thread; no future per
        # run): a burst of a hundred tickets is handed over in well under a millisecond.
        self._tickets: queue.SimpleQueue[RunTicket | None] = queue.SimpleQueue()
        # Notified when a run thread took the last queued ticket.
        self._taken = threading.Condition()
        self._threads = [
            threading.Thread(target=self._run_loop, name=f"traitor-run-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        self._changed = threading.Condition()
        self._in_flight: dict[uuid.UUID, RunTicket] = {}
        self._closed = False
        # Set once stop() gave up waiting: tickets still queued are not started.
        self._dropping = False
        self._outcomes: queue.SimpleQueue[Outcome | None] = queue.SimpleQueue()
        # Runs whose script has ended but whose outcome is not written yet (the recorder
        # gathers for GATHER_SECONDS): the dispatcher's overlap check must not count them
        # as going, although their rows still say `running`.
        self._finished_unrecorded: set[uuid.UUID] = set()
        self._finished_lock = threading.Lock()
        self._recorder = threading.Thread(
            target=self._record_loop, name="traitor-recorder", daemon=True
        )
        self._recorder.start()

    def submit(self, ticket: RunTicket) -> None:
        with self._changed:
            if self._closed:
                # Claimed while stopping: left as it is, the lost-run sweep records it.
                return
            self._in_flight[ticket.run_id] = ticket
        metrics.RUNS_IN_FLIGHT.inc()
        self._tickets.put(ticket)

    def wait_started(self, timeout: float) -> None:
        """Wait up to `timeout` s until every submitted ticket was taken by a run thread."""
        deadline = time.monotonic() + timeout
        with self._taken:
            while not self._tickets.empty():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._taken.wait(left)

    def _run_loop(self) -> None:
        try:
            while (ticket := self._tickets.get()) is not None:
                if self._tickets.empty():
                    with self._taken:
                        self._taken.notify_all()
                if self._dropping:
                    continue  # not started: dropped, recorded lost by the caller of stop()
                self._execute(ticket)
        finally:
            connections.close_all()

    def warm(self, seconds: float) -> None:
        """Runs are about to start: ask the sandbox workers to stay awake (see the pool)."""
        from jsruntime.pool import current_pool

        pool = current_pool()
        if pool is not None:
            pool.warm(seconds)

    def _execute(self, ticket: RunTicket) -> None:
        outcome = run_ticket(ticket)
        with self._finished_lock:
            self._finished_unrecorded.add(ticket.run_id)
        self._outcomes.put(outcome)

    def finished_unrecorded(self) -> frozenset[uuid.UUID]:
        """The runs of this node whose script has ended and whose row is not written yet."""
        with self._finished_lock:
            return frozenset(self._finished_unrecorded)

    def _record_loop(self) -> None:
        try:
            while True:
                first = self._outcomes.get()
                if first is None:
                    return
                batch, stop = self._gather(first)
                self._record(batch)
                if stop:
                    return
        finally:
            connections.close_all()

    def _gather(self, first: Outcome) -> tuple[list[Outcome], bool]:
        # Scripts that start in this moment matter more than rows: writing waits a little
        # and then stores everything that ended meanwhile in one transaction. The wait is
        # one sleep, not a wake-up per outcome: this thread takes no interpreter time from
        # the run threads while a burst of fires starts.
        batch = [first]
        time.sleep(self.GATHER_SECONDS)
        while len(batch) < self.MAX_BATCH:
            try:
                item = self._outcomes.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _record(self, batch: list[Outcome]) -> None:
        for attempt in range(3):
            try:
                close_old_connections()
                record_outcomes(batch)
                break
            except Exception:
                logger.exception("recording %d runs failed (attempt %d)", len(batch), attempt + 1)
                time.sleep(0.2 * (attempt + 1))
        # Recorded or given up on: either way no longer in flight (a run left `running`
        # is recorded lost when this node starts again).
        with self._changed:
            for outcome in batch:
                self._in_flight.pop(outcome.ticket.run_id, None)
            self._changed.notify_all()
        # Only now (written, or given up on and left to the lost-run sweep): until then the
        # dispatcher learns from this set that these runs have ended.
        with self._finished_lock:
            self._finished_unrecorded.difference_update(o.ticket.run_id for o in batch)
        metrics.RUNS_IN_FLIGHT.dec(len(batch))

    @property
    def in_flight(self) -> int:
        with self._changed:
            return len(self._in_flight)

    def stop(self, timeout: float) -> list[uuid.UUID]:
        """Let the runs in flight finish within `timeout`; the ids of those that did not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._closed = True
            while self._in_flight and time.monotonic() < deadline:
                self._changed.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = list(self._in_flight)
            self._dropping = True
        self._outcomes.put(None)
        self._recorder.join(timeout=10.0)
        # Runs not started yet are dropped; the caller records every unfinished one as lost.
        for _thread in self._threads:
            self._tickets.put(None)
        return unfinished
