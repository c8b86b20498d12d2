"""GET /api/job?id=: one job, never its script."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import NOW_UNIX, Api

pytestmark = pytest.mark.django_db


def test_it_shows_every_documented_field_and_never_the_script(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "description": "d", "cron": "0 0 8 ? * MON",
                         "script": "secret()"})  # fmt: skip
    status, body = api.call("GET", f"/api/job?id={job_id}")
    assert status == 200
    data = body["data"]
    assert "script" not in data and "secret()" not in str(body)
    assert data["jobId"] == job_id
    assert (data["name"], data["description"], data["cron"]) == ("n", "d", "0 0 8 ? * MON")
    assert (data["execType"], data["type"], data["state"], data["status"]) == (
        0, "timing", 0, "stopped")  # fmt: skip
    assert data["execAt"] is None and data["lastExecTime"] is None
    assert data["nextExecTime"] is None
    assert data["timezone"] == "UTC"
    assert (data["catchUp"], data["allowOverlap"]) == (True, False)
    assert data["createdAt"] == NOW_UNIX and data["updatedAt"] == NOW_UNIX


def test_times_are_unix_seconds_as_numbers(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": str(NOW_UNIX + 90)}, "delay")
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    data = api.job(job_id)
    assert data["execAt"] == NOW_UNIX + 90 and isinstance(data["execAt"], int)
    assert data["nextExecTime"] == NOW_UNIX + 90


def test_a_missing_id_is_a_400(api: Api) -> None:
    status, body = api.call("GET", "/api/job")
    assert status == 400
    assert body["error"].startswith("id")


@pytest.mark.parametrize("bad", ["42", "not-a-uuid", "3f2504e0-4f89-41d3-9a0c"])
def test_a_malformed_id_is_a_400(api: Api, bad: str) -> None:
    status, body = api.call("GET", f"/api/job?id={bad}")
    assert status == 400
    assert body["error"].startswith("id") and "UUID" in body["error"]


def test_an_unknown_id_is_a_404(api: Api) -> None:
    unknown = uuid.uuid4()
    status, body = api.call("GET", f"/api/job?id={unknown}")
    assert status == 404
    assert str(unknown) in body["error"]


def test_a_delay_job_shows_cron_as_null(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 90}, "delay")
    data = api.job(job_id)
    assert (data["type"], data["cron"], data["execAt"]) == ("delay", None, NOW_UNIX + 90)


def test_a_timing_job_shows_exec_at_as_null_even_when_one_was_given(api: Api, frozen) -> None:
    # execAt is kept for a later switch to delay, but does not apply to a timing job.
    job_id = api.create({"name": "t", "cron": "0 0 8 ? * MON", "execAt": NOW_UNIX + 90})
    data = api.job(job_id)
    assert (data["type"], data["cron"], data["execAt"]) == ("timing", "0 0 8 ? * MON", None)


def test_the_list_shows_the_same_nulls(api: Api, frozen) -> None:
    delay = api.create({"name": "d", "execAt": NOW_UNIX + 90}, "delay")
    timing = api.create({"name": "t", "cron": "0 0 8 ? * MON"})
    _, body = api.call("GET", "/api/jobList")
    shown = {job["jobId"]: (job["cron"], job["execAt"]) for job in body["data"]}
    assert shown == {delay: (None, NOW_UNIX + 90), timing: ("0 0 8 ? * MON", None)}
