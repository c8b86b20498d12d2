"""POST /api/enable?id=&enable=true|false: start or stop scheduling."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from jobs.models import Job, JobState
from scheduler import wakeup
from tests.api.conftest import NOW, NOW_UNIX, Api

pytestmark = pytest.mark.django_db

MONDAY_8 = 1894003200  # 2030-01-07T08:00:00Z (`date -ud 2030-01-07T08:00:00Z +%s`), a Monday


def test_enabling_a_timing_job_schedules_its_first_fire_after_now(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 8 ? * MON"})
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert status == 200
    assert (body["data"]["state"], body["data"]["status"]) == (1, "enabled")
    assert body["data"]["nextExecTime"] == MONDAY_8
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.ENABLED and job.next_fire_at.timestamp() == MONDAY_8
    assert job.version == 2


def test_the_first_fire_is_strictly_after_now(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 12 * * *"})  # NOW is 12:00:00 exactly
    _, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert body["data"]["nextExecTime"] == NOW_UNIX + 86400


def test_the_job_zone_decides_the_fire(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 8 * * *", "timezone": "Europe/Paris"})
    _, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    # 08:00 in Paris (UTC+1 in winter) the next day, NOW being 13:00 Paris time.
    assert body["data"]["nextExecTime"] == NOW_UNIX + 19 * 3600


def test_enabling_a_delay_job_schedules_its_instant(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 30}, "delay")
    _, body = api.call("POST", f"/api/enable?id={job_id}&enable=TRUE")
    assert body["data"]["nextExecTime"] == NOW_UNIX + 30


def test_a_delay_job_whose_instant_came_too_close_is_refused(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 30}, "delay")
    frozen.move_to(NOW + timedelta(seconds=27))
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert status == 400
    assert body["error"].startswith("execAt") and "5 s" in body["error"]
    assert Job.objects.get(pk=job_id).state == JobState.STOPPED


def test_a_finished_delay_job_needs_a_future_instant(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 30}, "delay")
    Job.objects.filter(pk=job_id).update(state=JobState.DONE)
    frozen.move_to(NOW + timedelta(minutes=1))
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert status == 400 and "in the past" in body["error"]
    assert Job.objects.get(pk=job_id).state == JobState.DONE
    api.call("PUT", f"/api/job?id={job_id}", {"execAt": NOW_UNIX + 600})
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert status == 200 and body["data"]["nextExecTime"] == NOW_UNIX + 600


def test_a_timing_job_whose_cron_no_longer_fires_is_refused(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 0 1 1 ? 2031"})
    frozen.move_to(NOW.replace(year=2032))
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert status == 400 and body["error"].startswith("cron") and "never" in body["error"]


def test_enabling_twice_keeps_the_pending_fire(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 8 ? * MON"})
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    # Past the fire, not yet dispatched: enabling again must not skip it.
    frozen.move_to(NOW.replace(day=7, hour=8, second=1))
    _, body = api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert body["data"]["nextExecTime"] == MONDAY_8
    assert Job.objects.get(pk=job_id).version == 2


def test_disabling_removes_the_job_from_the_schedule(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "0 0 8 ? * MON"})
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    status, body = api.call("POST", f"/api/enable?id={job_id}&enable=false")
    assert status == 200
    assert (body["data"]["state"], body["data"]["nextExecTime"]) == (0, None)
    job = Job.objects.get(pk=job_id)
    assert (job.state, job.next_fire_at, job.version) == (JobState.STOPPED, None, 3)


def test_the_dispatcher_is_woken_after_the_commit(
    api: Api, frozen, django_capture_on_commit_callbacks
) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    wakeup.wait(0)  # clear what creating did
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api.call("POST", f"/api/enable?id={job_id}&enable=true")
        assert wakeup.wait(0) is False  # not before the commit
    assert wakeup.notify in callbacks
    assert wakeup.wait(0) is True


@pytest.mark.parametrize("query", ["enable=yes", "enable=", "", "enable=on"])
def test_a_bad_enable_flag_is_a_400(api: Api, query: str) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    status, body = api.call("POST", f"/api/enable?id={job_id}&{query}")
    assert status == 400 and body["error"].startswith("enable")
    assert Job.objects.get(pk=job_id).state == JobState.STOPPED


def test_unknown_and_malformed_ids(api: Api) -> None:
    assert api.call("POST", f"/api/enable?id={uuid.uuid4()}&enable=true")[0] == 404
    assert api.call("POST", "/api/enable?id=x&enable=true")[0] == 400
    assert api.call("POST", "/api/enable?enable=true")[0] == 400
