"""A claimed run through the real sandbox: what is recorded, and pruning after it."""

from __future__ import annotations

import pytest
import time_machine

from jobs.models import Job, Run, RunStatus, RunTrigger
from scheduler.decisions import lateness_ms
from scheduler.execution import execute_run
from tests.scheduler.conftest import at, store_job

pytestmark = pytest.mark.django_db

CLAIMED_AT = at("2024-06-01T10:00:00.002+00:00")


def claimed_run(job: Job, fire: str = "2024-06-01T10:00:00+00:00") -> Run:
    """A run as the dispatcher leaves it: running, started at the claim."""
    Job.objects.filter(pk=job.pk).update(last_exec_time=CLAIMED_AT)
    return Run.objects.create(
        job=job,
        trigger=RunTrigger.SCHEDULE,
        scheduled_for=at(fire),
        status=RunStatus.RUNNING,
        started_at=CLAIMED_AT,
        late_ms=2,
        node="node-a",
    )


def test_a_script_that_succeeds_is_recorded_with_its_console_output() -> None:
    job = store_job(
        cron="* * * * *",
        name="greeter",
        next_fire_at=None,
        script="console.log('hello %s', job.name); console.log(job.trigger)",
    )
    run = claimed_run(job)
    assert execute_run(run.id) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.output == "hello greeter\nschedule"
    assert run.error == ""
    assert run.started_at is not None and run.finished_at >= run.started_at
    # Lateness is measured to the script's real start; lastExecTime follows it.
    assert run.late_ms == lateness_ms(run.scheduled_for, run.started_at)
    job.refresh_from_db()
    assert job.last_exec_time == run.started_at


def test_a_script_that_throws_is_failed_with_the_error_and_its_stack() -> None:
    job = store_job(
        cron="* * * * *",
        next_fire_at=None,
        script="console.log('before');\nfunction boom() { throw new Error('bad input'); }\nboom();",
    )
    run = claimed_run(job)
    assert execute_run(run.id) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.output == "before"
    assert "bad input" in run.error
    assert "boom" in run.error  # the JavaScript stack names the function


def test_a_script_over_its_time_limit_is_timed_out() -> None:
    job = store_job(
        cron="* * * * *", next_fire_at=None, timeout_seconds=0.3, script="while (true) {}"
    )
    run = claimed_run(job)
    assert execute_run(run.id) == RunStatus.TIMED_OUT
    run.refresh_from_db()
    assert run.status == RunStatus.TIMED_OUT
    assert run.error


def test_a_newer_run_keeps_last_exec_time_when_an_older_one_finishes() -> None:
    job = store_job(cron="* * * * *", next_fire_at=None)
    run = claimed_run(job)
    newer = at("2024-06-01T10:01:00.001+00:00")
    Job.objects.filter(pk=job.pk).update(last_exec_time=newer)
    execute_run(run.id)
    job.refresh_from_db()
    assert job.last_exec_time == newer


def test_a_run_that_is_no_longer_running_is_left_alone() -> None:
    job = store_job(cron="* * * * *", next_fire_at=None)
    run = claimed_run(job)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.LOST)
    assert execute_run(run.id) == ""
    run.refresh_from_db()
    assert run.status == RunStatus.LOST


def test_after_each_run_the_job_keeps_only_the_newest_runs(settings) -> None:
    settings.TRAITOR_RUNS_KEPT = 3
    job = store_job(cron="* * * * *", next_fire_at=None)
    runs = []
    for minute in range(5):
        with time_machine.travel(at(f"2024-06-01T10:0{minute}:00.001+00:00"), tick=False):
            runs.append(claimed_run(job, f"2024-06-01T10:0{minute}:00+00:00"))
    for run in runs:
        execute_run(run.id)
    kept = list(Run.objects.filter(job=job).order_by("scheduled_for").values_list("pk", flat=True))
    assert kept == [r.pk for r in runs[2:]]


def test_a_recorded_schedule_run_counts_in_the_metrics() -> None:
    from scheduler.metrics import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before_lateness = sample("traitor_fire_lateness_seconds_count")
    before_finished = sample("traitor_runs_finished_total", status="succeeded")
    job = store_job(cron="* * * * *", next_fire_at=None)
    execute_run(claimed_run(job).id)
    assert sample("traitor_fire_lateness_seconds_count") == before_lateness + 1
    assert sample("traitor_runs_finished_total", status="succeeded") == before_finished + 1


def test_the_lateness_histogram_observes_each_runs_late_ms() -> None:
    """/metrics and the runs agree: the histogram observes the stored lateMs of each
    schedule run, measured to the script's start, not to the claim."""
    from datetime import timedelta

    from scheduler.execution import Outcome, RunTicket, record_outcomes
    from scheduler.metrics import REGISTRY

    def bucket(le: str) -> float:
        return REGISTRY.get_sample_value("traitor_fire_lateness_seconds_bucket", {"le": le}) or 0

    fire = at("2024-06-01T10:00:00+00:00")
    # Script starts 0.4, 1.0, 3.7 and 18.2 ms after the fire (claimed at the instant), and
    # one run whose sandbox failed before starting: its start is the claim, 7.9 ms late.
    starts = [0.4, 1.0, 3.7, 18.2, None]
    outcomes = []
    for number, start_ms in enumerate(starts):
        job = store_job(cron="* * * * *", next_fire_at=None, name=f"j{number}")
        run = claimed_run(job)
        ticket = RunTicket.for_job(
            job, run, claimed_start=fire + timedelta(milliseconds=7.9 if start_ms is None else 0)
        )
        started = None if start_ms is None else fire + timedelta(milliseconds=start_ms)
        outcomes.append(
            Outcome(
                ticket=ticket,
                status=RunStatus.SUCCEEDED if started else RunStatus.FAILED,
                started_at=started,
                finished_at=fire + timedelta(milliseconds=30),
                output="",
                output_truncated=False,
                error="",
            )
        )
    before = {le: bucket(le) for le in ("0.001", "0.0025", "0.005", "0.01", "0.02")}
    record_outcomes(outcomes)
    stored = sorted(Run.objects.filter(scheduled_for=fire).values_list("late_ms", flat=True))
    # Worked out by hand: whole milliseconds, rounded down.
    assert stored == [0, 1, 3, 7, 18]
    added = {le: bucket(le) - before[le] for le in before}
    # Cumulative buckets: <=1 ms holds 0 and 1, <=5 ms adds 3, <=10 ms adds 7, <=20 ms adds 18.
    assert added == {"0.001": 2, "0.0025": 2, "0.005": 3, "0.01": 4, "0.02": 5}
