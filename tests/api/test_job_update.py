"""PUT /api/job?id=: partial update; an enabled job is rescheduled at once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from jobs.models import Job, JobState
from tests.api.conftest import NOW, NOW_UNIX, Api

pytestmark = pytest.mark.django_db

MONDAY_8 = 1894003200  # 2030-01-07T08:00:00Z (`date -ud 2030-01-07T08:00:00Z +%s`), a Monday


@pytest.fixture
def job_id(api: Api, frozen) -> str:
    return api.create({"name": "n", "cron": "0 0 8 ? * MON", "script": "a()"})


def test_it_changes_only_the_fields_given(api: Api, job_id: str) -> None:
    status, body = api.call("PUT", f"/api/job?id={job_id}", {"description": "new"})
    assert status == 200
    assert body["data"]["description"] == "new"
    job = Job.objects.get(pk=job_id)
    assert (job.name, job.cron, job.script, job.description) == ("n", "0 0 8 ? * MON", "a()",
                                                                  "new")  # fmt: skip


def test_a_rename_does_not_bump_the_version_but_a_new_cron_does(api: Api, job_id: str) -> None:
    api.call("PUT", f"/api/job?id={job_id}", {"name": "renamed"})
    assert Job.objects.get(pk=job_id).version == 1
    api.call("PUT", f"/api/job?id={job_id}", {"cron": "0 30 9 * * *"})
    assert Job.objects.get(pk=job_id).version == 2


def test_an_enabled_job_is_rescheduled_at_once(api: Api, job_id: str, frozen) -> None:
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    assert api.job(job_id)["nextExecTime"] == MONDAY_8
    frozen.move_to(NOW + timedelta(minutes=1))
    status, body = api.call("PUT", f"/api/job?id={job_id}", {"cron": "0 30 12 * * *"})
    assert status == 200
    # 12:30:00Z the same day: NOW is 12:00 and the clock moved one minute.
    assert body["data"]["nextExecTime"] == NOW_UNIX + 30 * 60
    assert body["data"]["state"] == JobState.ENABLED


def test_a_new_timezone_moves_the_next_fire(api: Api, job_id: str) -> None:
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    _, body = api.call("PUT", f"/api/job?id={job_id}", {"timezone": "Asia/Tokyo"})
    # Monday 08:00 in Tokyo (UTC+9) is Sunday 23:00Z.
    assert body["data"]["nextExecTime"] == MONDAY_8 - 9 * 3600
    assert body["data"]["timezone"] == "Asia/Tokyo"


def test_it_turns_an_enabled_timing_job_into_a_delay_job(api: Api, job_id: str) -> None:
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    _, body = api.call("PUT", f"/api/job?id={job_id}", {"execType": 1, "execAt": NOW_UNIX + 60})
    assert (body["data"]["type"], body["data"]["nextExecTime"]) == ("delay", NOW_UNIX + 60)


def test_an_update_that_would_stop_an_enabled_job_from_running_is_refused(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 60}, "delay")
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    frozen.move_to(NOW + timedelta(seconds=58))
    # Switching to timing without a cron leaves it nothing to run on.
    status, body = api.call("PUT", f"/api/job?id={job_id}", {"execType": "timing"})
    assert status == 400 and body["error"].startswith("cron")
    job = Job.objects.get(pk=job_id)
    assert (job.exec_type, job.state, job.version) == (1, JobState.ENABLED, 2)


def test_a_finished_delay_job_given_a_new_time_is_stopped_again(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 60}, "delay")
    Job.objects.filter(pk=job_id).update(state=JobState.DONE)  # as the dispatcher leaves it
    _, body = api.call("PUT", f"/api/job?id={job_id}", {"execAt": NOW_UNIX + 120})
    assert (body["data"]["state"], body["data"]["nextExecTime"]) == (0, None)


def test_the_script_may_be_changed_here_too(api: Api, job_id: str) -> None:
    api.call("PUT", f"/api/job?id={job_id}", {"script": "b()"})
    assert Job.objects.get(pk=job_id).script == "b()"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "the body is empty"),
        ({"state": 1}, "state"),
        ({"nextExecTime": 0}, "nextExecTime"),
        ({"name": ""}, "name"),
        ({"name": 1}, "name"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 0 0 1 1 ? 2020"}, "cron"),
        ({"cron": ""}, "cron"),
        ({"execType": 2}, "execType"),
        ({"execType": True}, "execType"),
        ({"execType": "delay"}, "execAt"),  # a delay job needs an instant
        ({"execAt": NOW_UNIX - 10}, "execAt"),
        ({"execAt": NOW_UNIX + 1}, "execAt"),
        ({"timezone": "Nowhere/Town"}, "timezone"),
        ({"script": 3}, "script"),
        ({"allowOverlap": 1}, "allowOverlap"),
    ],
)
def test_it_refuses_bad_changes_and_changes_nothing(api: Api, job_id: str, body, names) -> None:
    before = Job.objects.get(pk=job_id)
    status, got = api.call("PUT", f"/api/job?id={job_id}", body)
    assert status == 400
    assert got["error"].startswith(names), got["error"]
    after = Job.objects.get(pk=job_id)
    assert (after.name, after.cron, after.exec_type, after.exec_at, after.timezone,
            after.script, after.version, after.updated_at) == (
        before.name, before.cron, before.exec_type, before.exec_at, before.timezone,
        before.script, before.version, before.updated_at)  # fmt: skip


def test_an_unknown_id_is_a_404(api: Api) -> None:
    status, _ = api.call("PUT", f"/api/job?id={uuid.uuid4()}", {"name": "x"})
    assert status == 404


def test_a_malformed_id_is_a_400(api: Api) -> None:
    status, got = api.call("PUT", "/api/job?id=12", {"name": "x"})
    assert status == 400 and got["error"].startswith("id")


def test_execat_accepts_an_iso_instant(api: Api, frozen) -> None:
    job_id = api.create({"name": "d", "execAt": NOW_UNIX + 60}, "delay")
    later = (NOW + timedelta(hours=1)).isoformat()
    _, body = api.call("PUT", f"/api/job?id={job_id}", {"execAt": later})
    assert body["data"]["execAt"] == NOW_UNIX + 3600
    assert datetime.fromisoformat(later).timestamp() == NOW_UNIX + 3600


def _bump_after_read(monkeypatch, times: int) -> None:
    """Make another writer change the job right after each of the next `times` reads.

    This injects the interleaving a dispatcher on another thread or node would cause
    between the update's read and its conditional write; the write itself is real.
    """
    from jobs import services

    real_get_job = services.get_job
    left = [times]

    def get_job_then_someone_writes(job_id, **kwargs):
        job = real_get_job(job_id, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            Job.objects.filter(pk=job_id).update(version=job.version + 1)
        return job

    monkeypatch.setattr(services, "get_job", get_job_then_someone_writes)


def test_a_change_made_meanwhile_is_reread_not_overwritten(api: Api, job_id: str, monkeypatch):
    _bump_after_read(monkeypatch, times=2)
    status, body = api.call("PUT", f"/api/job?id={job_id}", {"cron": "0 30 9 * * *"})
    assert status == 200
    # Two writes by the other party, then ours on top of the third read.
    assert Job.objects.get(pk=job_id).version == 4
    assert body["data"]["cron"] == "0 30 9 * * *"


def test_a_job_that_keeps_changing_is_a_409(api: Api, job_id: str, monkeypatch) -> None:
    _bump_after_read(monkeypatch, times=100)
    status, body = api.call("PUT", f"/api/job?id={job_id}", {"cron": "0 30 9 * * *"})
    assert status == 409 and "try again" in body["error"]
    assert Job.objects.get(pk=job_id).cron == "0 0 8 ? * MON"


def test_a_timing_job_turned_delay_no_longer_shows_its_cron(api: Api, job_id: str) -> None:
    status, body = api.call(
        "PUT", f"/api/job?id={job_id}", {"execType": 1, "execAt": NOW_UNIX + 60}
    )
    assert status == 200
    data = body["data"]
    assert (data["execType"], data["type"], data["cron"], data["execAt"]) == (
        1, "delay", None, NOW_UNIX + 60)  # fmt: skip
    assert api.job(job_id)["cron"] is None
