"""POST /api/run: create and enable in one step, type from ?type= or the body's execType."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobState
from tests.api.conftest import NOW_UNIX, Api

pytestmark = pytest.mark.django_db

MONDAY_8 = 1894003200  # 2030-01-07T08:00:00Z, a Monday


@pytest.mark.parametrize("exec_type", [0, "0", "timing", "TIMING"])
def test_a_timing_job_from_every_exectype_form(api: Api, frozen, exec_type) -> None:
    body = {"name": "n", "execType": exec_type, "cron": "0 0 8 ? * MON", "script": "x()"}
    status, got = api.call("POST", "/api/run", body)
    assert status == 200
    # Like create: the documented `id`, and `data` as the original server answered.
    assert got["id"] == got["data"]
    job = Job.objects.get(pk=got["data"])
    assert (job.exec_type, job.state) == (0, JobState.ENABLED)
    assert job.next_fire_at.timestamp() == MONDAY_8


@pytest.mark.parametrize("exec_type", [1, "1", "delay", "Delay"])
def test_a_delay_job_from_every_exectype_form(api: Api, frozen, exec_type) -> None:
    body = {"name": "n", "execType": exec_type, "execAt": str(NOW_UNIX + 10)}
    status, got = api.call("POST", "/api/run", body)
    assert status == 200
    job = Job.objects.get(pk=got["data"])
    assert (job.exec_type, job.state) == (1, JobState.ENABLED)
    assert job.next_fire_at.timestamp() == NOW_UNIX + 10


def test_the_type_may_come_from_the_query(api: Api, frozen) -> None:
    status, got = api.call("POST", "/api/run?type=delay", {"name": "n", "execAt": NOW_UNIX + 10})
    assert status == 200 and set(got) == {"id", "data"}
    assert got["id"] == got["data"] == str(Job.objects.get().id)


@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        ("/api/run", {"name": "n", "cron": "* * * * *"}, "type"),
        ("/api/run", {"name": "n", "execType": 3, "cron": "* * * * *"}, "execType"),
        ("/api/run", {"name": "n", "execType": [0], "cron": "* * * * *"}, "execType"),
        ("/api/run?type=delay", {"name": "n", "execType": 0, "cron": "* * * * *"}, "type"),
        ("/api/run?type=timing", {"name": "n"}, "cron"),
        ("/api/run?type=timing", {"name": "n", "cron": "0 0 0 1 1 ? 2020"}, "cron"),
        ("/api/run?type=delay", {"name": "n", "execAt": NOW_UNIX + 4}, "execAt"),
        ("/api/run?type=delay", {"name": "n", "execAt": NOW_UNIX + 60, "x": 1}, "x"),
    ],
)
def test_refusals_store_nothing(api: Api, frozen, path, body, names) -> None:
    status, got = api.call("POST", path, body)
    assert status == 400 and got["error"].startswith(names), got
    assert Job.objects.count() == 0


def test_other_methods_are_a_json_405(api: Api) -> None:
    status, got = api.call("DELETE", "/api/run")
    assert status == 405 and "POST" in got["error"]
