"""Two dispatch loops on one database never run a fire twice (C86).

The loops are two threads, each with its own database connection, stepping through the
same instants at the same time: the conditional update and the unique constraint are all
that keeps them apart, as in cluster mode.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections

from jobs.models import Run, RunTrigger
from tests.scheduler.conftest import Loop, at, store_job

pytestmark = pytest.mark.django_db(transaction=True)


def race(loops: list[Loop], instants: list) -> None:
    """Each loop steps through `instants` in its own thread, all released together."""
    barrier = threading.Barrier(len(loops))
    errors: list[BaseException] = []

    def drive(loop: Loop) -> None:
        try:
            for now in instants:
                barrier.wait(timeout=30)
                loop.step(now)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drive, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_c86_two_loops_dispatch_the_daily_fire_once_and_the_next_day_once() -> None:
    # allow_overlap: the collected runs never finish here, and day two must still run.
    job = store_job(
        cron="0 8 * * *", allow_overlap=True, next_fire_at=at("2019-05-29T08:00:00+00:00")
    )
    a, b = Loop(node="node-a"), Loop(node="node-b")
    day_one = [at("2019-05-29T07:59:00+00:00")] + [
        at("2019-05-29T08:00:00+00:00") + timedelta(milliseconds=ms) for ms in range(0, 50, 5)
    ]
    day_two = [at("2019-05-30T08:00:00+00:00") + timedelta(milliseconds=ms) for ms in range(10)]
    race([a, b], day_one + day_two)
    fires = sorted(
        Run.objects.filter(job=job, trigger=RunTrigger.SCHEDULE).values_list(
            "scheduled_for", flat=True
        )
    )
    assert fires == [at("2019-05-29T08:00:00+00:00"), at("2019-05-30T08:00:00+00:00")]
    assert len(a.started) + len(b.started) == 2


def test_two_loops_racing_on_forty_every_second_jobs_run_each_fire_exactly_once() -> None:
    start = at("2024-03-01T00:00:00+00:00")
    jobs = [
        store_job(cron="* * * * * *", allow_overlap=True, next_fire_at=start) for _ in range(40)
    ]
    loops = [Loop(node="node-a"), Loop(node="node-b")]
    instants = [start + timedelta(milliseconds=250 * i) for i in range(12)]  # 3 seconds
    race(loops, instants)
    per_fire = {}
    for job_id, fire in Run.objects.values_list("job_id", "scheduled_for"):
        per_fire[(job_id, fire)] = per_fire.get((job_id, fire), 0) + 1
    expected = {(job.id, start + timedelta(seconds=s)) for job in jobs for s in (0, 1, 2)}
    assert set(per_fire) == expected
    assert set(per_fire.values()) == {1}
    assert sum(len(loop.started) for loop in loops) == len(expected)
