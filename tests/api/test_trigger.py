"""`POST /api/trigger?id=`: run a job now, whatever its state."""

from __future__ import annotations

import pytest

from jobs.models import Run, RunStatus, RunTrigger
from scheduler import wakeup
from tests.api.conftest import NOW, Api
from tests.scheduler.conftest import Loop

pytestmark = pytest.mark.django_db


def test_a_stopped_job_is_queued_to_run_now_and_the_answer_is_the_run_id(
    api: Api, frozen, django_capture_on_commit_callbacks
) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 1 1 *", "script": "console.log(1)"})
    wakeup.wait(0)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = api.call("POST", f"/api/trigger?id={job_id}")
    assert status == 200
    run = Run.objects.get(pk=body["data"])
    assert (str(run.job_id), run.trigger, run.status) == (job_id, RunTrigger.MANUAL, "pending")
    assert run.scheduled_for == NOW
    assert wakeup.wait(0) is True  # the dispatcher is woken to take it


def test_the_next_dispatch_step_starts_the_triggered_run_on_its_node(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 1 1 *"})
    _status, body = api.call("POST", f"/api/trigger?id={job_id}")
    loop = Loop(node="node-7")
    loop.step(NOW)
    run = Run.objects.get(pk=body["data"])
    assert (run.status, run.node, run.started_at) == (RunStatus.RUNNING, "node-7", NOW)
    assert [str(r) for r in loop.started] == [body["data"]]
    assert api.job(job_id)["lastExecTime"] == NOW.timestamp()


def test_an_unknown_job_is_a_404(api: Api) -> None:
    status, body = api.call("POST", "/api/trigger?id=3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    assert status == 404
    assert body == {"error": "id: no job has the id 3f2504e0-4f89-41d3-9a0c-0305e82c3301"}


@pytest.mark.parametrize("query", ["", "?id=", "?id=42"])
def test_a_missing_or_malformed_id_is_a_400_naming_id(api: Api, query: str) -> None:
    status, body = api.call("POST", f"/api/trigger{query}")
    assert status == 400
    assert body["error"].startswith("id: ")


def test_get_is_not_allowed(api: Api) -> None:
    status, _body = api.call("GET", "/api/trigger?id=3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    assert status == 405


def test_without_a_token_it_is_refused(db: None) -> None:
    from rest_framework.test import APIClient

    response = APIClient().post("/api/trigger?id=3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    assert response.status_code == 401
