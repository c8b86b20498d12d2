"""`GET /api/runs?id=<jobId>` and `GET /api/run?id=<runId>`: a job's run history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.models import Job, Run, RunStatus, RunTrigger
from tests.api.conftest import NOW, Api

pytestmark = pytest.mark.django_db


def add_run(job_id: str, minute: int, **fields: object) -> Run:
    """A finished schedule run for the fire at NOW + `minute` minutes."""
    fire = NOW + timedelta(minutes=minute)
    values: dict[str, object] = {
        "job_id": job_id,
        "trigger": RunTrigger.SCHEDULE,
        "scheduled_for": fire,
        "status": RunStatus.SUCCEEDED,
        "started_at": fire + timedelta(milliseconds=7),
        "finished_at": fire + timedelta(milliseconds=19, microseconds=600),
        "late_ms": 7,
        "node": "node-a",
        "output": f"run {minute}\n",
    }
    values.update(fields)
    run = Run.objects.create(**values)
    # Stored in fire order: created_at is what "newest first" sorts on.
    Run.objects.filter(pk=run.pk).update(created_at=fire)
    return run


def test_one_run_is_shown_with_its_output_error_and_millisecond_utc_instants(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    run = add_run(
        job_id,
        0,
        status=RunStatus.FAILED,
        error="Error: boom\n    at <eval>:1:7",
        output="before\n",
        output_truncated=True,
    )
    status, body = api.call("GET", f"/api/run?id={run.id}")
    assert status == 200
    assert body == {
        "data": {
            "runId": str(run.id),
            "jobId": job_id,
            "trigger": "schedule",
            "status": "failed",
            "scheduledFor": "2030-01-01T12:00:00.000Z",
            "startedAt": "2030-01-01T12:00:00.007Z",
            "finishedAt": "2030-01-01T12:00:00.019Z",
            "lateMs": 7,
            "late": False,
            "missedFires": 1,
            "node": "node-a",
            "output": "before\n",
            "outputTruncated": True,
            "error": "Error: boom\n    at <eval>:1:7",
        }
    }


def test_a_pending_run_has_no_start_or_end_yet(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    run = Run.objects.create(
        job_id=job_id, trigger=RunTrigger.MANUAL, scheduled_for=NOW, status=RunStatus.PENDING
    )
    _status, body = api.call("GET", f"/api/run?id={run.id}")
    data = body["data"]
    assert (data["status"], data["startedAt"], data["finishedAt"], data["lateMs"]) == (
        "pending",
        None,
        None,
        None,
    )


def test_the_list_is_newest_first_paginated_with_the_total_and_without_output(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    runs = [add_run(job_id, minute) for minute in range(5)]
    other = api.create({"name": "other", "cron": "* * * * *"})
    add_run(other, 0)

    status, body = api.call("GET", f"/api/runs?id={job_id}&page=1&size=2")
    assert status == 200
    assert body["total"] == 5
    assert [r["runId"] for r in body["data"]] == [str(runs[4].id), str(runs[3].id)]
    assert "output" not in body["data"][0]
    assert body["data"][0]["scheduledFor"] == "2030-01-01T12:04:00.000Z"

    _status, body = api.call("GET", f"/api/runs?id={job_id}&page=3&size=2")
    assert [r["runId"] for r in body["data"]] == [str(runs[0].id)]
    _status, body = api.call("GET", f"/api/runs?id={job_id}&page=4&size=2")
    assert body == {"data": [], "total": 5}


def test_the_default_page_is_the_newest_twenty(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    for minute in range(25):
        add_run(job_id, minute)
    _status, body = api.call("GET", f"/api/runs?id={job_id}")
    assert body["total"] == 25
    assert len(body["data"]) == 20
    assert body["data"][0]["scheduledFor"] == "2030-01-01T12:24:00.000Z"


def test_the_list_never_loads_outputs(api: Api, django_assert_max_num_queries) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    for minute in range(3):
        add_run(job_id, minute, output="x" * 100_000)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        api.call("GET", f"/api/runs?id={job_id}")
    page_query = [q["sql"] for q in queries if "jobs_run" in q["sql"] and "LIMIT" in q["sql"]]
    assert page_query and all('"output"' not in sql for sql in page_query)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page: must be between 1 and 1000000, got 0"),
        ("page=two", "page: must be a whole number, got 'two'"),
        ("size=201", "size: must be between 1 and 200, got 201"),
    ],
)
def test_bad_paging_is_a_400_naming_the_parameter(api: Api, query: str, message: str) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    status, body = api.call("GET", f"/api/runs?id={job_id}&{query}")
    assert (status, body) == (400, {"error": message})


def test_unknown_ids_are_404_and_malformed_ones_400(api: Api) -> None:
    unknown = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert api.call("GET", f"/api/run?id={unknown}") == (
        404,
        {"error": f"id: no run has the id {unknown}"},
    )
    assert api.call("GET", f"/api/runs?id={unknown}")[0] == 404
    status, body = api.call("GET", "/api/run?id=nope")
    assert status == 400 and body["error"].startswith("id: 'nope' is not a run id")


def test_deleting_a_job_deletes_its_runs(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    run = add_run(job_id, 0)
    api.call("DELETE", f"/api/job?id={job_id}")
    assert not Job.objects.filter(pk=job_id).exists()
    assert api.call("GET", f"/api/run?id={run.id}")[0] == 404


def test_a_job_of_another_cluster_on_the_same_database_is_not_found(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    run = add_run(job_id, 0)
    Job.objects.filter(pk=job_id).update(cluster="elsewhere")
    assert api.call("GET", f"/api/runs?id={job_id}")[0] == 404
    assert api.call("GET", f"/api/run?id={run.id}")[0] == 404
    assert api.call("POST", f"/api/trigger?id={job_id}")[0] == 404


def test_a_catch_up_run_says_it_was_late_and_how_many_fires_it_stands_for(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    on_time = add_run(job_id, 0)
    catch_up = add_run(job_id, 1, late=True, missed_fires=5, late_ms=270_000)
    _status, body = api.call("GET", f"/api/runs?id={job_id}")
    shown = {r["runId"]: (r["late"], r["missedFires"], r["lateMs"]) for r in body["data"]}
    assert shown == {str(on_time.id): (False, 1, 7), str(catch_up.id): (True, 5, 270_000)}
    _status, body = api.call("GET", f"/api/run?id={catch_up.id}")
    assert (body["data"]["late"], body["data"]["missedFires"]) == (True, 5)
