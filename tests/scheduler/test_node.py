"""The node's services in this process: the real loop thread, executor and sandbox pool."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from jobs.models import Run, RunStatus, RunTrigger
from scheduler import node
from scheduler.runs import trigger_run
from tests.scheduler.conftest import store_job
from tests.scheduler.nodeproc import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(run_id) -> str:
    return Run.objects.get(pk=run_id).status


def test_start_marks_what_a_dead_predecessor_left_running_as_lost_then_runs_triggers() -> None:
    job = store_job(cron="0 0 1 1 *", next_fire_at=None, script="console.log('ran')")
    left = Run.objects.create(
        job=job, trigger=RunTrigger.MANUAL, status=RunStatus.RUNNING, node="node-t"
    )
    services = node.start_node_services("node-t")
    try:
        assert status_of(left.id) == RunStatus.LOST
        assert "node-t" in Run.objects.get(pk=left.id).error
        run = trigger_run(job.id)
        # The loop is woken by the commit; the run goes through the real sandbox.
        wait_until(lambda: status_of(run.id) == RunStatus.SUCCEEDED, timeout=20)
        assert Run.objects.get(pk=run.id).output == "ran"
        health = Client().get("/healthz")
        assert (health.status_code, health.json()["scheduler"]) == (200, "ok")
    finally:
        services.stop(timeout=5)
    assert not services.thread.is_alive()
    assert node.current() is None


def test_stop_records_a_run_that_outlives_the_grace_as_lost() -> None:
    job = store_job(
        cron="0 0 1 1 *",
        next_fire_at=None,
        script="var t = Date.now(); while (Date.now() - t < 3000) {}",
    )
    services = node.start_node_services("node-s")
    try:
        run = trigger_run(job.id)
        wait_until(lambda: services.executor.in_flight == 1, timeout=10)
    finally:
        began = time.monotonic()
        services.stop(timeout=0.3)
    assert time.monotonic() - began < 10
    stopped = Run.objects.get(pk=run.id)
    assert stopped.status == RunStatus.LOST
    # One style for lost runs, as for a node killed with -9: "lost: the node … stopped …".
    assert stopped.error == "lost: the node node-s stopped before the run finished (waited 0.3 s)"


def test_web_writes_and_the_loop_share_sqlite_without_database_is_locked(settings, caplog) -> None:
    import json
    import threading

    settings.TRAITOR_AUTH = False
    jobs = [store_job(cron="* * * * * *", next_fire_at=None, allow_overlap=True) for _ in range(10)]
    from jobs import services

    for job in jobs:
        services.set_enabled(job.id, True)
    services_ = node.start_node_services("node-w")
    answers: list[int] = []

    def write(job_id) -> None:
        client = Client()
        try:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                answers.append(
                    client.put(
                        f"/api/job?id={job_id}",
                        json.dumps({"description": str(time.monotonic())}),
                        content_type="application/json",
                    ).status_code
                )
                answers.append(client.post(f"/api/trigger?id={job_id}").status_code)
        finally:
            from django.db import connections

            connections.close_all()

    writers = [threading.Thread(target=write, args=(job.id,)) for job in jobs[:3]]
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=30)
        wait_until(lambda: Run.objects.filter(status=RunStatus.SUCCEEDED).count() >= 20, 20)
    finally:
        services_.stop(timeout=10)
    assert answers and set(answers) == {200}
    assert "locked" not in caplog.text
    assert not Run.objects.filter(status=RunStatus.FAILED).exists()


def test_the_tick_after_a_catch_up_that_ended_runs_although_its_row_is_not_written_yet() -> None:
    """A node killed with -9 and restarted 9 s later: the catch-up ends at once, but the
    recorder writes outcomes in batches later; the next tick must still run, not be
    `skipped` as overlapping a run this node already saw end."""
    import threading
    from datetime import timedelta

    import time_machine

    from scheduler.dispatcher import Dispatcher, DispatchSettings
    from scheduler.execution import RunExecutor
    from tests.scheduler.conftest import at

    class HeldRecorder(RunExecutor):
        GATHER_SECONDS = 0.0
        release = threading.Event()

        def _record(self, batch):
            self.release.wait(30)
            super()._record(batch)

    executor = HeldRecorder(threads=2)
    dispatcher = Dispatcher(
        DispatchSettings(node_name="node-c", cluster="default", grace=timedelta(seconds=5)),
        submit=executor.submit,
        finished_unrecorded=executor.finished_unrecorded,
    )
    job = store_job(cron="* * * * * ?", next_fire_at=at("2026-12-03T19:08:15+00:00"))
    try:
        now = at("2026-12-03T19:08:23.930+00:00")
        with time_machine.travel(now, tick=False):
            dispatcher.dispatch_once(now)
        catch_up = Run.objects.get(job=job)
        assert (catch_up.late, catch_up.missed_fires) == (True, 9)
        wait_until(lambda: catch_up.id in executor.finished_unrecorded(), timeout=20)
        assert status_of(catch_up.id) == RunStatus.RUNNING  # not written yet

        now = at("2026-12-03T19:08:24+00:00")
        with time_machine.travel(now, tick=False):
            dispatcher.dispatch_once(now)
        tick = Run.objects.get(job=job, scheduled_for=now)
        assert tick.status == RunStatus.RUNNING, tick.error
    finally:
        HeldRecorder.release.set()
        executor.stop(timeout=20)
    assert status_of(catch_up.id) == RunStatus.SUCCEEDED


def test_a_run_still_going_on_another_node_keeps_the_next_fire_skipped() -> None:
    from datetime import timedelta

    import time_machine

    from scheduler.dispatcher import Dispatcher, DispatchSettings
    from tests.scheduler.conftest import at

    job = store_job(cron="* * * * * ?", next_fire_at=at("2026-12-03T19:08:24+00:00"))
    elsewhere = Run.objects.create(
        job=job,
        trigger=RunTrigger.SCHEDULE,
        scheduled_for=at("2026-12-03T19:08:23+00:00"),
        status=RunStatus.RUNNING,
        started_at=at("2026-12-03T19:08:23+00:00"),
        node="node-b",
    )
    dispatcher = Dispatcher(
        DispatchSettings(node_name="node-c", cluster="default", grace=timedelta(seconds=5)),
        submit=lambda ticket: None,
        # This node has seen some other run end; the other node's run still counts.
        finished_unrecorded=lambda: frozenset({job.id}),
    )
    now = at("2026-12-03T19:08:24+00:00")
    with time_machine.travel(now, tick=False):
        dispatcher.dispatch_once(now)
    assert Run.objects.get(job=job, scheduled_for=now).status == RunStatus.SKIPPED
    assert status_of(elsewhere.id) == RunStatus.RUNNING
