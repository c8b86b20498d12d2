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
    assert "stopped before the run finished" in stopped.error
