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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import close_old_connections, transaction
from django.db.models import F, Min, Q
from django.utils import timezone as dj_timezone

from jobs.models import ExecType, Job, JobState, Run, RunStatus, RunTrigger
from scheduler import cron, metrics, wakeup
from scheduler.decisions import (
    Action,
    FireDecision,
    FireFacts,
    NextAfter,
    decide_fire,
    lateness_ms,
    rewound_next_fire,
    sleep_seconds,
)
from scheduler.execution import TICKET_FIELDS, RunTicket, prune_after

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
# Asks whatever executes runs to stay awake for the given seconds (runs are about to start).
Warm = Callable[[float], None]
# Waits up to the given seconds until every submitted run has been taken by a run thread.
WaitStarted = Callable[[float], None]
# The runs of this node whose script has ended but whose outcome is not written yet.
FinishedUnrecorded = Callable[[], "frozenset[uuid.UUID]"]


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
    # Before the instant of fires claimed ahead, the loop wakes this early, asks the sandbox
    # to stay awake and waits out the rest in short sleeps: a CPU idle for a second takes
    # about a millisecond to wake on a virtual machine, at every hop of a fire (measured).
    warm_lead: float = 0.01
    # Longest wait, after fires were started, before their rows are written.
    settle_max: float = 0.25
    # Most runs of one job (allowOverlap) going at once; a fire beyond it is skipped.
    max_runs_per_job: int = 3


@dataclass(frozen=True)
class _Planned:
    """A fire claimed ahead of its instant: its run row exists (`pending`, this node), the
    job is advanced past it only when it starts."""

    ticket: RunTicket
    job_version: int
    decision: FireDecision


class Dispatcher:
    def __init__(
        self,
        config: DispatchSettings,
        submit: Submit,
        warm: Warm | None = None,
        wait_started: WaitStarted | None = None,
        finished_unrecorded: FinishedUnrecorded | None = None,
    ) -> None:
        self.config = config
        self.submit = submit
        self.warm = warm
        self.wait_started = wait_started
        self.finished_unrecorded = finished_unrecorded
        # Monotonic time of the last completed step; /healthz reads it.
        self.heartbeat: float | None = None
        self._last_now: datetime | None = None
        # Fires claimed ahead of their instant (lookahead), released when it comes.
        self._planned: list[tuple[datetime, int, _Planned]] = []
        self._planned_jobs: dict[uuid.UUID, datetime] = {}
        self._sequence = itertools.count()

    # --- One step ------------------------------------------------------------------------

    def dispatch_once(self, now: datetime | None = None) -> float:
        """Dispatch everything due at `now` (default: the clock); return seconds to sleep.

        A fire due within the lookahead is claimed ahead by inserting its run (`pending`,
        owned by this node: the unique constraint lets one loop in) and started at its
        instant from what the claim read; the job itself moves past the fire only then, so
        `nextExecTime` stays right until the fire has started.
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
        due = [
            job
            for job in Job.objects.filter(
                cluster=self.config.cluster, state=JobState.ENABLED, next_fire_at__lte=horizon
            )
            .order_by("next_fire_at")
            .only(*_DUE_FIELDS, *TICKET_FIELDS)[: self.config.batch]
            if self._planned_jobs.get(job.id) != job.next_fire_at
        ]
        # Jobs whose fire in the lookahead must wait for its instant: whether it overlaps is
        # decided then, or another loop claimed it ahead.
        waiting: dict[uuid.UUID, datetime] = {}
        if due:
            going = self._jobs_with_runs_going(due)
            immediate = [job for job in due if job.next_fire_at <= now]
            ahead = []
            for job in due:
                if job.next_fire_at <= now:
                    continue
                if self._may_be_skipped(job, going):
                    waiting[job.id] = job.next_fire_at
                else:
                    ahead.append(job)
            for number, chunk in enumerate(_chunks(immediate, self.config.chunk)):
                if number and not fixed_clock:
                    # A long step must not hold back the fires claimed ahead of now.
                    self._release_planned(dj_timezone.now())
                for ticket in self._dispatch_chunk(chunk, going, now):
                    self.submit(ticket)
            for chunk in _chunks(ahead, self.config.chunk):
                waiting.update(self._claim_ahead(chunk, now))

        self.heartbeat = time.monotonic()
        if len(due) >= self.config.batch:
            return 0.0
        current = now if fixed_clock else dj_timezone.now()
        targets = list(waiting.values())
        if self._planned:
            targets.append(self._planned[0][0])
        # Any other fire is claimed a lookahead before its instant (at once if a claim of
        # this step moved it inside the lookahead).
        earliest = (
            Job.objects.filter(
                cluster=self.config.cluster, state=JobState.ENABLED, next_fire_at__isnull=False
            )
            .exclude(pk__in=[*waiting, *self._planned_jobs])
            .aggregate(earliest=Min("next_fire_at"))["earliest"]
        )
        if earliest is not None:
            targets.append(earliest - self.config.lookahead)
        return sleep_seconds(min(targets, default=None), current, self.config.max_sleep)

    def _claim_ahead(self, jobs: list[Job], now: datetime) -> dict[uuid.UUID, datetime]:
        """Insert the runs of fires not yet due; the jobs whose fire another loop took."""
        decided: list[tuple[Job, FireDecision, Run]] = []
        taken_elsewhere: dict[uuid.UUID, datetime] = {}
        with transaction.atomic():
            for job in jobs:
                try:
                    decision = self._decide(job, {}, now)
                except Exception:
                    logger.exception("cannot schedule job; stopping it", extra={"job_id": job.id})
                    metrics.DISPATCH_ERRORS.inc()
                    broken = self._stop_broken_job(job, now)
                    if broken is not None:
                        broken.save(force_insert=True)
                    continue
                run = Run(
                    job_id=job.pk,
                    trigger=RunTrigger.SCHEDULE,
                    scheduled_for=decision.scheduled_for,
                    status=RunStatus.PENDING,
                    # Null until the script starts: lateMs is startedAt - scheduledFor.
                    late_ms=None,
                    node=self.config.node_name,
                )
                decided.append((job, decision, run))
            if not decided:
                return taken_elsewhere
            Run.objects.bulk_create([run for _j, _d, run in decided], ignore_conflicts=True)
            mine = set(
                Run.objects.filter(pk__in=[run.pk for _j, _d, run in decided]).values_list(
                    "pk", flat=True
                )
            )
        for job, decision, run in decided:
            if run.pk not in mine:
                taken_elsewhere[job.id] = decision.scheduled_for
                continue
            ticket = RunTicket.for_job(job, run, claimed_start=decision.scheduled_for)
            planned = _Planned(ticket=ticket, job_version=job.version, decision=decision)
            heapq.heappush(self._planned, (decision.scheduled_for, next(self._sequence), planned))
            self._planned_jobs[job.id] = decision.scheduled_for
            _count_fire(run)
        return taken_elsewhere

    def _release_planned(self, now: datetime, prechecked: _Prechecked | None = None) -> None:
        """Start the fires claimed ahead whose instant has come, then move their jobs on.

        `prechecked` is the jobs' rows read a few milliseconds before the instant (by the
        loop's last moment before it, with no change notified since): the scripts then
        start without a database read first."""
        batch: list[_Planned] = []
        while self._planned and self._planned[0][0] <= now:
            batch.append(heapq.heappop(self._planned)[2])
        if not batch:
            return
        for planned in batch:
            self._planned_jobs.pop(planned.ticket.job_id, None)
        job_ids = [p.ticket.job_id for p in batch]
        if prechecked is not None and prechecked.covers(job_ids):
            stored = prechecked.rows
        else:
            stored = _job_rows(job_ids)
        started: list[_Planned] = []
        cancelled: list[uuid.UUID] = []
        for planned in batch:
            ticket, fire = planned.ticket, planned.ticket.scheduled_for
            row = stored.get(ticket.job_id)
            if row is None:
                continue  # deleted, and its run with it
            state, next_fire_at, version = row
            still_due = state == JobState.ENABLED and next_fire_at == fire
            moved_on_by_another_loop = next_fire_at == planned.decision.next_fire_at and (
                version > planned.job_version
            )
            if not (still_due or moved_on_by_another_loop):
                # Disabled or rescheduled since the claim: the new schedule stands.
                cancelled.append(ticket.run_id)
                continue
            if version != planned.job_version:
                # Changed in the last moment (say, its script): run what it is now.
                job = Job.objects.only(*TICKET_FIELDS).get(pk=ticket.job_id)
                ticket = RunTicket.for_job(job, _run_stub(ticket), claimed_start=fire)
                planned = _Planned(ticket, version, planned.decision)
            # The script starts first; the rows follow (the run's record accepts a run that
            # is still `pending`, in case the script ends before the rows are written).
            ticket = replace(ticket, claimed_start=now)
            self.submit(ticket)
            started.append(planned)
        # The rows wait until the run threads have taken every script of this instant (at
        # most `settle_max`): writing them takes the interpreter for milliseconds, and in
        # the middle of a burst it delayed the last hundred-odd starts by as much (bench).
        if started and self.wait_started is not None:
            self.wait_started(self.config.settle_max)
        else:
            time.sleep(0)
        by_fire: dict[datetime, list[uuid.UUID]] = {}
        for planned in started:
            by_fire.setdefault(planned.ticket.scheduled_for, []).append(planned.ticket.run_id)
        with transaction.atomic():
            self._advance(started, now)
            for fire, run_ids in by_fire.items():
                Run.objects.filter(pk__in=run_ids, status=RunStatus.PENDING).update(
                    status=RunStatus.RUNNING, started_at=now, late_ms=lateness_ms(fire, now)
                )
            if cancelled:
                Run.objects.filter(pk__in=cancelled, status=RunStatus.PENDING).delete()

    def _advance(self, started: list[_Planned], now: datetime) -> None:
        """Move jobs past fires that started; one conditional UPDATE per shared instant."""
        groups: dict[tuple[datetime, datetime | None, bool], list[uuid.UUID]] = {}
        for planned in started:
            decision = planned.decision
            key = (decision.scheduled_for, decision.next_fire_at, decision.finished)
            groups.setdefault(key, []).append(planned.ticket.job_id)
        for (fire, following, finished), job_ids in groups.items():
            values: dict[str, object] = {
                "next_fire_at": following,
                "last_exec_time": now,
                "version": F("version") + 1,
            }
            if finished:
                values["state"] = JobState.DONE
            Job.objects.filter(pk__in=job_ids, next_fire_at=fire, state=JobState.ENABLED).update(
                **values
            )

    def release_unstarted(self) -> int:
        """Give back the fires claimed ahead but not started (on a clean stop)."""
        self._planned.clear()
        self._planned_jobs.clear()
        return unclaim_planned(self.config.node_name)

    def _may_be_skipped(self, job: Job, going: dict[uuid.UUID, int]) -> bool:
        """Whether the job's runs going now would skip its fire: decided at the instant."""
        count = going.get(job.id, 0)
        return count >= self.config.max_runs_per_job if job.allow_overlap else count > 0

    def _jobs_with_runs_going(self, due: list[Job]) -> dict[uuid.UUID, int]:
        """How many runs of each due timing job are going (jobs with none are left out)."""
        watched = [j.id for j in due if j.exec_type == ExecType.TIMING]
        if not watched:
            return {}
        # Read before the rows: a run recorded in between is finished in the rows instead.
        # Runs of other nodes are never in it; they count through the database alone.
        ended = self.finished_unrecorded() if self.finished_unrecorded is not None else frozenset()
        going: dict[uuid.UUID, int] = {}
        for run_id, job_id in Run.objects.filter(job_id__in=watched, status__in=_GOING).values_list(
            "pk", "job_id"
        ):
            if run_id not in ended:
                going[job_id] = going.get(job_id, 0) + 1
        return going

    def _dispatch_chunk(
        self, jobs: list[Job], going: dict[uuid.UUID, int], now: datetime
    ) -> list[RunTicket]:
        """Claim each fire of `jobs` in one short transaction; the tickets of runs to start."""
        runs: list[tuple[Run, Job]] = []
        tickets: list[RunTicket] = []
        stored: set[uuid.UUID] = set()
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
        # Rows stored finished (skipped, or failed for a broken schedule) count towards
        # pruning as recorded runs do: a job whose fires are mostly skipped is pruned too.
        prune_after(
            run.job_id for run, _job in runs if run.pk in stored and run.status not in _GOING
        )
        return tickets

    def _decide(self, job: Job, going: dict[uuid.UUID, int], now: datetime) -> FireDecision:
        is_delay = job.exec_type == ExecType.DELAY
        facts = FireFacts(
            is_delay=is_delay,
            next_fire_at=job.next_fire_at,
            catch_up=job.catch_up,
            allow_overlap=job.allow_overlap,
            previous_run_going=going.get(job.id, 0) > 0,
            runs_going=going.get(job.id, 0),
            max_runs=self.config.max_runs_per_job,
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
        groups: dict[
            tuple[datetime, datetime | None, bool, bool], list[tuple[Job, FireDecision]]
        ] = {}
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
        # lateMs is startedAt - scheduledFor: null for a run that has not started (claimed
        # ahead) or never will (skipped).
        run = Run(
            job_id=job.pk,
            trigger=RunTrigger.SCHEDULE,
            scheduled_for=decision.scheduled_for,
            late=decision.missed,
            missed_fires=decision.missed_fires,
            node=self.config.node_name,
        )
        if decision.action is Action.RUN:
            if decision.scheduled_for > now:
                # Claimed ahead: this node owns it (node set), it starts at its instant.
                run.status = RunStatus.PENDING
            else:
                run.status = RunStatus.RUNNING
                run.started_at = now
                run.late_ms = decision.late_ms
        elif decision.action is Action.SKIP_OVERLAP:
            run.status = RunStatus.SKIPPED
            run.finished_at = now
            run.error = (
                "skipped: the previous run was still going; set allowOverlap to run fires "
                "while another run goes on"
            )
        elif decision.action is Action.SKIP_CAP:
            cap = self.config.max_runs_per_job
            run.status = RunStatus.SKIPPED
            run.finished_at = now
            run.error = (
                f"skipped: the cap of {cap} runs of this job going at once was reached "
                "(allowOverlap); raise TRAITOR_MAX_RUNS_PER_JOB to allow more"
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
            )
            # Not a fire handed back before its instant (a manual run's is its request time).
            .filter(Q(scheduled_for__lte=now) | Q(scheduled_for__isnull=True))
            .values_list("pk", "trigger", "scheduled_for")
        )
        tickets: list[RunTicket] = []
        for run_id, trigger, scheduled_for in pending:
            # A fire handed back by a stopped node and started after the grace is late.
            late = (
                trigger == RunTrigger.SCHEDULE
                and scheduled_for is not None
                and now - scheduled_for > self.config.grace
            )
            with transaction.atomic():
                claimed = Run.objects.filter(pk=run_id, status=RunStatus.PENDING, node="").update(
                    status=RunStatus.RUNNING,
                    node=self.config.node_name,
                    started_at=now,
                    late_ms=None if scheduled_for is None else lateness_ms(scheduled_for, now),
                    late=late,
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
                self._sleep(pause)

    def _sleep(self, pause: float) -> None:
        """Sleep `pause` seconds or until woken.

        When fires claimed ahead are due at the end of the sleep, the last moment before
        their instant is spent getting ready: their jobs' rows are read, the sandbox is
        asked to stay awake, this thread waits in short sleeps, and the fires are started
        at the instant from here. A change notified meanwhile ends the sleep instead, and
        the next step reads everything again."""
        lead = self.config.warm_lead
        instant = self._planned[0][0] if self._planned else None
        # The sleep is for those fires when it ends at their instant (give or take the
        # moment since the pause was computed); otherwise it is for something earlier.
        if instant is None or pause <= lead or instant.timestamp() - (time.time() + pause) > lead:
            wakeup.wait(pause)
            return
        if wakeup.wait(pause - lead):
            return
        if self.warm is not None:
            try:
                self.warm(lead + 0.005)
            except Exception:
                logger.exception("warming the sandbox failed")
        prechecked = None
        try:
            job_ids = [p.ticket.job_id for at, _n, p in self._planned if at <= instant]
            prechecked = _Prechecked(frozenset(job_ids), _job_rows(job_ids))
        except Exception:
            logger.exception("reading the jobs due next failed; the step reads them again")
        # The end is the instant on the wall clock, which fires are measured by (the
        # pause was computed a moment ago, and a step's own time would shift it).
        end = instant.timestamp()
        while (left := end - time.time()) > 0:
            # Shorter than a virtual CPU's halt-poll window: this CPU stays awake.
            if wakeup.wait(min(left, 0.0002)):
                return
        try:
            self._release_planned(dj_timezone.now(), prechecked)
        except Exception:
            # As a failing step: logged, and the loop goes on (unstarted fires are in the
            # database as claimed runs; a restart hands them back).
            metrics.DISPATCH_ERRORS.inc()
            logger.exception("starting the fires claimed ahead failed")


def unclaim_planned(node_name: str) -> int:
    """Undo the claims `node_name` made ahead of fires it never started; returns how many.

    A node that stops (cleanly, or killed) between claiming a fire ahead and its instant
    leaves a `pending` run while its job still points at that fire. Removing the run makes
    the fire an ordinary one again: the restart (or another node) dispatches it, late if its
    instant has passed, and a timing job's missed window still gets one catch-up run. If
    another loop has moved the job past the fire meanwhile (it found the run and left it
    alone), the run is handed to any node instead, so the fire still runs once.
    """
    undone = 0
    planned = Run.objects.filter(
        node=node_name, status=RunStatus.PENDING, trigger=RunTrigger.SCHEDULE
    ).select_related("job")
    for run in planned:
        job = run.job
        moved_past = (job.state == JobState.ENABLED and job.next_fire_at != run.scheduled_for) or (
            job.state == JobState.DONE
        )
        if moved_past:
            Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(node="")
        else:
            # Still pointing at the fire, or stopped (a stopped job's fire must not run).
            undone += Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).delete()[0]
    return undone


JobRow = tuple[int, "datetime | None", int]


@dataclass(frozen=True)
class _Prechecked:
    """Rows (state, next fire, version) of jobs read just before their fires' instant."""

    job_ids: frozenset[uuid.UUID]
    rows: dict[uuid.UUID, JobRow]

    def covers(self, job_ids: list[uuid.UUID]) -> bool:
        return self.job_ids.issuperset(job_ids)


def _job_rows(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, JobRow]:
    return {
        pk: (state, next_fire_at, version)
        for pk, state, next_fire_at, version in Job.objects.filter(pk__in=job_ids).values_list(
            "pk", "state", "next_fire_at", "version"
        )
    }


def _run_stub(ticket: RunTicket) -> Run:
    return Run(
        pk=ticket.run_id,
        job_id=ticket.job_id,
        scheduled_for=ticket.scheduled_for,
        trigger=ticket.trigger,
    )


def _count_fire(run: Run) -> None:
    if run.status == RunStatus.SKIPPED:
        outcome = "skipped_missed" if run.error.startswith("missed") else "skipped_overlap"
    elif run.status == RunStatus.FAILED:
        outcome = "failed"
    else:
        outcome = "run"
    metrics.FIRES.labels(outcome).inc()


def _chunks(items: list[Job], size: int) -> Iterable[list[Job]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
