"""The dispatch loop: find the fires that are due, claim each once, hand the runs over.

One step, `Dispatcher.dispatch_once(now)`, does everything and returns how long the loop
may sleep; tests call it directly with a frozen clock. `Dispatcher.run()` repeats it,
sleeping in `wakeup.wait()` so that a change to any job wakes it at once.

Nothing here assumes it is the only loop. A fire is claimed by a conditional update of the
job (`filter(pk, version, state, next_fire_at).update(next_fire_at=<following>)`: exactly
one loop sees a row count of 1) and recorded by inserting its run, which the unique
constraint `one_run_per_fire` lets happen once per (job, instant). Two loops on one
database, a restart or a failover therefore never run a fire twice.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import close_old_connections, transaction
from django.db.models import F, Max, Min
from django.utils import timezone as dj_timezone

from jobs.models import ExecType, Job, JobState, Run, RunStatus, RunTrigger
from scheduler import cron, metrics, wakeup
from scheduler.decisions import (
    Action,
    FireDecision,
    FireFacts,
    NextAfter,
    decide_fire,
    rewound_next_fire,
    sleep_seconds,
)
from scheduler.execution import TICKET_FIELDS, RunTicket

logger = logging.getLogger(__name__)

# The fields a decision needs; the script stays in the database (it can be large).
_DUE_FIELDS = (
    "id",
    "exec_type",
    "cron",
    "timezone",
    "next_fire_at",
    "version",
    "catch_up",
    "allow_overlap",
)
_GOING = (RunStatus.PENDING, RunStatus.RUNNING)

# Hands a run to start to whatever executes it; it must not block.
Submit = Callable[[RunTicket], None]


@lru_cache(maxsize=4096)
def schedule_of(expr: str, tz: str) -> NextAfter:
    """The parsed schedule, cached: parsing is pure, and a busy node fires the same jobs."""
    return cron.parse(expr, tz).next_after


@dataclass(frozen=True)
class DispatchSettings:
    node_name: str
    cluster: str
    # Later than this after its instant, a fire counts as missed (catch-up rules apply).
    grace: timedelta = timedelta(seconds=5)
    # Longest sleep: a safety net for wall-clock steps and lost wake-ups, not a poll.
    max_sleep: float = 30.0
    # Jobs claimed per transaction: keeps SQLite's write lock short for the web threads.
    chunk: int = 100
    # Due jobs read per step; more are taken by the next step at once.
    batch: int = 1000
    # Fires this close are claimed ahead and released at their instant (0: at the instant).
    lookahead: timedelta = timedelta(0)


class Dispatcher:
    def __init__(self, config: DispatchSettings, submit: Submit) -> None:
        self.config = config
        self.submit = submit
        # Monotonic time of the last completed step; /healthz reads it.
        self.heartbeat: float | None = None
        self._last_now: datetime | None = None
        # Fires claimed ahead of their instant (lookahead), released when it comes.
        self._planned: list[tuple[datetime, int, RunTicket]] = []
        self._sequence = itertools.count()

    # --- One step ------------------------------------------------------------------------

    def dispatch_once(self, now: datetime | None = None) -> float:
        """Dispatch everything due at `now` (default: the clock); return seconds to sleep.

        Fires due within the lookahead are claimed now and released at their instant, so
        that the database work is done before it and the script starts on time.
        """
        fixed_clock = now is not None
        now = now if now is not None else dj_timezone.now()
        if self._last_now is None or now < self._last_now - timedelta(seconds=1):
            # At start, and when the wall clock went back: stored fires may lie in the future
            # of the new clock.
            self.rewind_schedules(now)
        self._last_now = now

        self._release_planned(now)
        for ticket in self._claim_pending_runs(now):
            self.submit(ticket)

        horizon = now + self.config.lookahead
        due = list(
            Job.objects.filter(
                cluster=self.config.cluster, state=JobState.ENABLED, next_fire_at__lte=horizon
            )
            .order_by("next_fire_at")
            .only(*_DUE_FIELDS, *TICKET_FIELDS)[: self.config.batch]
        )
        deferred: dict[uuid.UUID, datetime] = {}
        if due:
            going = self._jobs_with_runs_going(due)
            ready = []
            for job in due:
                if job.next_fire_at > now and job.id in going:
                    # Whether this fire overlaps is decided at its instant, not ahead of it:
                    # the run going on now may well have ended by then.
                    deferred[job.id] = job.next_fire_at
                else:
                    ready.append(job)
            for chunk in _chunks(ready, self.config.chunk):
                for ticket in self._dispatch_chunk(chunk, going, now):
                    if ticket.scheduled_for > now:
                        heapq.heappush(
                            self._planned, (ticket.scheduled_for, next(self._sequence), ticket)
                        )
                    else:
                        self.submit(ticket)

        self.heartbeat = time.monotonic()
        if len(due) >= self.config.batch:
            return 0.0
        current = now if fixed_clock else dj_timezone.now()
        targets = list(deferred.values())
        if self._planned:
            targets.append(self._planned[0][0])
        # Deferred jobs wait for their instant; any other fire is claimed a lookahead before
        # its instant (at once if a claim of this step moved it inside the lookahead).
        earliest = (
            Job.objects.filter(
                cluster=self.config.cluster, state=JobState.ENABLED, next_fire_at__isnull=False
            )
            .exclude(pk__in=list(deferred))
            .aggregate(earliest=Min("next_fire_at"))["earliest"]
        )
        if earliest is not None:
            targets.append(earliest - self.config.lookahead)
        return sleep_seconds(min(targets, default=None), current, self.config.max_sleep)

    def _release_planned(self, now: datetime) -> None:
        released: list[uuid.UUID] = []
        while self._planned and self._planned[0][0] <= now:
            _instant, _seq, ticket = heapq.heappop(self._planned)
            # The script starts first; marking the row follows (the run's own record accepts
            # a run that is still `pending`, in case the script ends before the mark).
            self.submit(ticket)
            released.append(ticket.run_id)
        if released:
            # Let the run threads take the GIL now: otherwise this thread keeps it for up to
            # the switch interval while it writes, and every script starts that much late.
            time.sleep(0)
            Run.objects.filter(
                pk__in=released, status=RunStatus.PENDING, node=self.config.node_name
            ).update(status=RunStatus.RUNNING, started_at=now)

    def release_unstarted(self) -> int:
        """Give back the fires claimed ahead but not started (on a clean stop)."""
        self._planned.clear()
        return unclaim_planned(self.config.node_name)

    def _jobs_with_runs_going(self, due: list[Job]) -> set[uuid.UUID]:
        watched = [j.id for j in due if j.exec_type == ExecType.TIMING and not j.allow_overlap]
        if not watched:
            return set()
        return set(
            Run.objects.filter(job_id__in=watched, status__in=_GOING).values_list(
                "job_id", flat=True
            )
        )

    def _dispatch_chunk(
        self, jobs: list[Job], going: set[uuid.UUID], now: datetime
    ) -> list[RunTicket]:
        """Claim each fire of `jobs` in one short transaction; the tickets of runs to start."""
        runs: list[tuple[Run, Job]] = []
        tickets: list[RunTicket] = []
        with transaction.atomic():
            decided: list[tuple[Job, FireDecision]] = []
            for job in jobs:
                try:
                    decided.append((job, self._decide(job, going, now)))
                except Exception:
                    # A job whose schedule cannot be computed must not stop the others, nor
                    # be retried every step: it is stopped and the failure recorded.
                    logger.exception("cannot schedule job; stopping it", extra={"job_id": job.id})
                    metrics.DISPATCH_ERRORS.inc()
                    broken = self._stop_broken_job(job, now)
                    if broken is not None:
                        runs.append((broken, job))
            for job, decision in self._claim_all(decided, now):
                runs.append((self._run_for(job, decision, now), job))
            if runs:
                # INSERT OR IGNORE / ON CONFLICT DO NOTHING: a fire whose run already exists
                # (the schedule was reset to an instant already dispatched) is not run again.
                Run.objects.bulk_create([run for run, _job in runs], ignore_conflicts=True)
                stored = set(
                    Run.objects.filter(pk__in=[run.pk for run, _job in runs]).values_list(
                        "pk", flat=True
                    )
                )
                tickets = [
                    RunTicket.for_job(job, run, claimed_start=max(now, run.scheduled_for))
                    for run, job in runs
                    if run.pk in stored and run.status in _GOING
                ]
        for run, _job in runs:
            _count_fire(run)
        return tickets

    def _decide(self, job: Job, going: set[uuid.UUID], now: datetime) -> FireDecision:
        is_delay = job.exec_type == ExecType.DELAY
        facts = FireFacts(
            is_delay=is_delay,
            next_fire_at=job.next_fire_at,
            catch_up=job.catch_up,
            allow_overlap=job.allow_overlap,
            previous_run_going=job.id in going,
        )
        next_after = None if is_delay else schedule_of(job.cron, job.timezone)
        # A fire claimed ahead is decided as at its own instant: on time, never missed.
        decision = decide_fire(facts, max(now, job.next_fire_at), next_after, self.config.grace)
        assert decision is not None  # the query only returned fires up to the horizon
        return decision

    def _claim_all(
        self, decided: list[tuple[Job, FireDecision]], now: datetime
    ) -> list[tuple[Job, FireDecision]]:
        """Advance each job past its fire if nobody else did; the fires this loop claimed.

        Jobs that share a fire instant and a next instant (a thousand every-second jobs do)
        are claimed by one conditional UPDATE: a row is only written where the stored
        instant is still the one read, so of two loops only one moves it. Which rows this
        loop wrote is read back (version moved, next fire the one computed here); should
        another writer have produced the same values, the run insert settles it:
        `one_run_per_fire` lets exactly one run per fire in.
        """
        groups: dict[tuple[object, ...], list[tuple[Job, FireDecision]]] = {}
        for job, decision in decided:
            key = (
                decision.scheduled_for,
                decision.next_fire_at,
                decision.action is Action.RUN,
                decision.finished,
            )
            groups.setdefault(key, []).append((job, decision))
        for (fire, following, runs, finished), members in groups.items():
            values: dict[str, object] = {
                "next_fire_at": following,
                # Bumped so that a service that read the job before the claim retries on
                # the new row instead of writing over it.
                "version": F("version") + 1,
            }
            if runs:
                values["last_exec_time"] = max(now, fire)
            if finished:
                values["state"] = JobState.DONE
            Job.objects.filter(
                pk__in=[job.pk for job, _d in members], next_fire_at=fire, state=JobState.ENABLED
            ).update(**values)
        stored = {
            pk: (version, next_fire_at)
            for pk, version, next_fire_at in Job.objects.filter(
                pk__in=[job.pk for job, _d in decided]
            ).values_list("pk", "version", "next_fire_at")
        }
        claimed = []
        for job, decision in decided:
            version, next_fire_at = stored.get(job.pk, (0, None))
            if version > job.version and next_fire_at == decision.next_fire_at:
                claimed.append((job, decision))
        return claimed

    def _run_for(self, job: Job, decision: FireDecision, now: datetime) -> Run:
        """The run row that records a claimed fire."""
        run = Run(
            job_id=job.pk,
            trigger=RunTrigger.SCHEDULE,
            scheduled_for=decision.scheduled_for,
            late_ms=decision.late_ms,
            node=self.config.node_name,
        )
        if decision.action is Action.RUN:
            if decision.scheduled_for > now:
                # Claimed ahead: this node owns it (node set), it starts at its instant.
                run.status = RunStatus.PENDING
            else:
                run.status = RunStatus.RUNNING
                run.started_at = now
        elif decision.action is Action.SKIP_OVERLAP:
            run.status = RunStatus.SKIPPED
            run.finished_at = now
            run.error = (
                "skipped: the previous run was still going; set allowOverlap to run fires "
                "while another run goes on"
            )
        else:
            run.status = RunStatus.SKIPPED
            run.finished_at = now
            run.error = (
                f"missed: no node was dispatching at the fire instant ({decision.late_ms} ms "
                "before); catch-up is off for this job"
            )
        return run

    def _stop_broken_job(self, job: Job, now: datetime) -> Run | None:
        stopped = Job.objects.filter(pk=job.pk, version=job.version).update(
            state=JobState.STOPPED, next_fire_at=None, version=F("version") + 1
        )
        if stopped != 1:
            return None
        return Run(
            job_id=job.pk,
            trigger=RunTrigger.SCHEDULE,
            scheduled_for=job.next_fire_at,
            status=RunStatus.FAILED,
            finished_at=now,
            node=self.config.node_name,
            error=(
                f"the schedule {job.cron!r} ({job.timezone}) could not be computed; "
                "the job was stopped: fix the cron and enable it again"
            ),
        )

    def _claim_pending_runs(self, now: datetime) -> list[RunTicket]:
        """Runs waiting for any node (manual triggers, fires handed back by a stopped node):
        each is taken by exactly one loop."""
        pending = list(
            Run.objects.filter(
                status=RunStatus.PENDING,
                node="",
                job__cluster=self.config.cluster,
                scheduled_for__lte=now,
            ).values_list("pk", flat=True)
        )
        tickets: list[RunTicket] = []
        for run_id in pending:
            with transaction.atomic():
                claimed = Run.objects.filter(pk=run_id, status=RunStatus.PENDING, node="").update(
                    status=RunStatus.RUNNING, node=self.config.node_name, started_at=now
                )
                if claimed != 1:
                    continue
                run = Run.objects.select_related("job").get(pk=run_id)
                Job.objects.filter(pk=run.job_id).update(last_exec_time=now)
                tickets.append(RunTicket.for_job(run.job, run, claimed_start=now))
        return tickets

    def rewind_schedules(self, now: datetime) -> int:
        """Bring stored fires that lie beyond the schedule's next fire back to it.

        After the wall clock steps back, a stored fire can be far ahead of the clock
        (C90: 12 h); the job must follow the new clock. Cheap enough to do at start.
        """
        rewound = 0
        timing = Job.objects.filter(
            cluster=self.config.cluster,
            state=JobState.ENABLED,
            exec_type=ExecType.TIMING,
            next_fire_at__gt=now,
        ).only(*_DUE_FIELDS)
        for job in timing.iterator():
            try:
                corrected = rewound_next_fire(
                    job.next_fire_at, now, schedule_of(job.cron, job.timezone)
                )
            except Exception:
                logger.exception("cannot check job's schedule", extra={"job_id": job.id})
                continue
            if corrected is None:
                continue
            rewound += Job.objects.filter(
                pk=job.pk, version=job.version, next_fire_at=job.next_fire_at
            ).update(next_fire_at=corrected, version=F("version") + 1)
        if rewound:
            logger.warning("wall clock went back: %d schedules follow the new clock", rewound)
        return rewound

    # --- The loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Dispatch until `stop` is set. One failing step is logged and retried."""
        failures = 0
        while not stop.is_set():
            close_old_connections()
            try:
                pause = self.dispatch_once()
                failures = 0
            except Exception:
                failures += 1
                metrics.DISPATCH_ERRORS.inc()
                logger.exception("dispatch step failed (%d in a row); retrying", failures)
                # Back off a little so a broken database does not spin the CPU.
                pause = min(0.1 * 2**failures, 5.0)
            finally:
                close_old_connections()
            if stop.is_set():
                break
            logger.debug("dispatch step done; sleeping %.3f s", pause)
            if pause > 0:
                wakeup.wait(pause)


def unclaim_planned(node_name: str) -> int:
    """Undo the claims `node_name` made ahead of fires it never started; returns how many.

    A node that stops (cleanly, or killed) between claiming a fire ahead and its instant
    leaves a `pending` run and a job already moved past that fire. The run is removed and
    the job's next fire set back to it, as if it had never been claimed: the restart (or
    another node) then dispatches it, late if its instant has passed, and a timing job's
    missed window still gets one catch-up run, not two.
    """
    undone = 0
    planned = Run.objects.filter(
        node=node_name, status=RunStatus.PENDING, trigger=RunTrigger.SCHEDULE
    ).select_related("job")
    for run in planned:
        job = run.job
        with transaction.atomic():
            fire = run.scheduled_for
            moved_past = Job.objects.filter(pk=job.pk, version=job.version)
            if job.state == JobState.DONE and job.next_fire_at is None:
                # The claim ended the job (a delay job, a cron's last fire): revive it.
                restored = moved_past.filter(state=JobState.DONE).update(
                    state=JobState.ENABLED, next_fire_at=fire, version=F("version") + 1
                )
            else:
                restored = moved_past.filter(state=JobState.ENABLED, next_fire_at__gt=fire).update(
                    next_fire_at=fire, version=F("version") + 1
                )
            if not restored:
                # The job was changed or stopped since: its new schedule stands.
                Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
                    status=RunStatus.LOST,
                    finished_at=dj_timezone.now(),
                    error=(
                        f"lost: the node {node_name} stopped before this fire's instant, and "
                        "the job changed meanwhile"
                    ),
                )
                continue
            run.delete()
            # The claim had set lastExecTime to the planned start; back to the real latest.
            latest = Run.objects.filter(job_id=job.pk, started_at__isnull=False).aggregate(
                latest=Max("started_at")
            )["latest"]
            Job.objects.filter(pk=job.pk).update(last_exec_time=latest)
            undone += 1
    return undone


def _count_fire(run: Run) -> None:
    if run.status == RunStatus.SKIPPED:
        outcome = "skipped_missed" if run.error.startswith("missed") else "skipped_overlap"
    elif run.status == RunStatus.FAILED:
        outcome = "failed"
    else:
        outcome = "run"
    metrics.FIRES.labels(outcome).inc()
    if outcome == "run" and run.late_ms is not None:
        metrics.FIRE_LATENESS.observe(run.late_ms / 1000)


def _chunks(items: list[Job], size: int) -> Iterable[list[Job]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
