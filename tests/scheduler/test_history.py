"""Run history: pruning to the newest N per job, and runs a dead process left going."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import Run, RunStatus, RunTrigger
from scheduler.execution import prune_runs, record_lost_runs
from tests.scheduler.conftest import at, store_job

pytestmark = pytest.mark.django_db

T0 = at("2024-01-01T00:00:00+00:00")


def add_runs(job, count: int, status: str = RunStatus.SUCCEEDED, node: str = "node-a") -> list:
    """`count` runs of the job, each a second newer than the job's newest so far."""
    runs = []
    start = Run.objects.filter(job=job).count()
    for i in range(start, start + count):
        run = Run.objects.create(
            job=job,
            trigger=RunTrigger.SCHEDULE,
            scheduled_for=T0 + timedelta(seconds=i),
            status=status,
            node=node,
        )
        Run.objects.filter(pk=run.pk).update(created_at=T0 + timedelta(seconds=i))
        runs.append(run)
    return runs


def test_pruning_keeps_the_newest_n_runs_of_the_job_and_no_other_jobs_runs() -> None:
    job, other = (
        store_job(cron="* * * * *", next_fire_at=None),
        store_job(cron="* * * * *", next_fire_at=None),
    )
    runs = add_runs(job, 8)
    add_runs(other, 8)
    assert prune_runs(job.id, keep=5) == 3
    kept = set(Run.objects.filter(job=job).values_list("pk", flat=True))
    assert kept == {r.pk for r in runs[3:]}
    assert Run.objects.filter(job=other).count() == 8
    assert prune_runs(job.id, keep=5) == 0


def test_pruning_never_deletes_a_run_that_is_still_going() -> None:
    job = store_job(cron="* * * * *", next_fire_at=None)
    oldest_running = add_runs(job, 1, status=RunStatus.RUNNING)[0]
    Run.objects.filter(pk=oldest_running.pk).update(created_at=T0 - timedelta(days=1))
    add_runs(job, 4)
    prune_runs(job.id, keep=2)
    assert Run.objects.filter(job=job).count() == 3
    assert Run.objects.filter(pk=oldest_running.pk).exists()


def test_pruning_uses_the_runs_kept_setting(settings) -> None:
    settings.TRAITOR_RUNS_KEPT = 3
    job = store_job(cron="* * * * *", next_fire_at=None)
    add_runs(job, 6)
    assert prune_runs(job.id) == 3


def test_runs_left_running_by_this_node_become_lost_others_are_untouched() -> None:
    job = store_job(cron="* * * * *", next_fire_at=None)
    mine = add_runs(job, 2, status=RunStatus.RUNNING, node="node-a")
    theirs = add_runs(job, 1, status=RunStatus.RUNNING, node="node-b")
    done = add_runs(job, 1, status=RunStatus.SUCCEEDED, node="node-a")
    assert record_lost_runs("node-a", "lost: the node stopped") == 2
    statuses = dict(Run.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in mine] == ["lost", "lost"]
    assert statuses[theirs[0].pk] == "running"
    assert statuses[done[0].pk] == "succeeded"
    lost = Run.objects.get(pk=mine[0].pk)
    assert lost.finished_at is not None and lost.error == "lost: the node stopped"
