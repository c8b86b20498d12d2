"""`GET /healthz` and `GET /metrics`."""

from __future__ import annotations

import threading

import pytest
from django.test import Client

from jobs.models import JobState, Run, RunStatus, RunTrigger
from scheduler import node
from scheduler.dispatcher import Dispatcher, DispatchSettings
from scheduler.execution import RunExecutor
from tests.scheduler.conftest import at, store_job

pytestmark = pytest.mark.django_db


def test_healthz_is_503_when_this_process_runs_no_dispatcher() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["scheduler"] == "not running in this process"
    assert response.json()["database"] == "ok"


def test_healthz_is_200_when_the_loop_has_stepped_and_the_database_answers(monkeypatch) -> None:
    dispatcher = Dispatcher(DispatchSettings(node_name="node-h", cluster="default"), submit=print)
    dispatcher.dispatch_once()
    # A live thread standing in for the loop's: the real loop is run in test_node.py.
    alive = threading.Event()
    stand_in = threading.Thread(target=alive.wait)
    stand_in.start()
    services = node.NodeServices(
        node_name="node-h", dispatcher=dispatcher, executor=RunExecutor(1), thread=stand_in
    )
    monkeypatch.setattr(node, "_current", services)
    try:
        response = Client().get("/healthz")
    finally:
        alive.set()
        stand_in.join()
        services.executor.stop(0)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "scheduler": "ok",
        "database": "ok",
        "node": "node-h",
        "runsInFlight": 0,
    }


def test_metrics_are_prometheus_text_with_runs_by_status_and_jobs_by_state() -> None:
    job = store_job(cron="* * * * *", next_fire_at=at("2030-01-01T00:00:00+00:00"))
    store_job(cron="* * * * *", next_fire_at=None)
    for status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.LOST):
        Run.objects.create(job=job, trigger=RunTrigger.MANUAL, status=status)
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'traitor_runs{status="succeeded"} 2.0' in text
    assert 'traitor_runs{status="lost"} 1.0' in text
    assert 'traitor_runs{status="running"} 0.0' in text
    assert 'traitor_jobs{state="enabled"} 1.0' in text
    assert 'traitor_jobs{state="stopped"} 1.0' in text
    assert JobState.DONE.label == "done" and 'traitor_jobs{state="done"} 0.0' in text
    for family in (
        "traitor_fires_total",
        "traitor_fire_lateness_seconds_bucket",
        "traitor_runs_in_flight",
        "traitor_runs_finished_total",
    ):
        assert family in text
