"""DELETE /api/job?id=: the job goes, with its runs, and leaves the schedule."""

from __future__ import annotations

import uuid

import pytest

from jobs.models import Job, Run, RunTrigger
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def test_it_deletes_an_enabled_job_and_its_runs(api: Api, frozen) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    Run.objects.create(job_id=job_id, trigger=RunTrigger.MANUAL)
    status, body = api.call("DELETE", f"/api/job?id={job_id}")
    assert (status, body) == (200, {"data": job_id})
    assert not Job.objects.exists() and not Run.objects.exists()
    assert api.call("GET", f"/api/job?id={job_id}")[0] == 404


def test_deleting_twice_is_a_404(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *"})
    api.call("DELETE", f"/api/job?id={job_id}")
    status, body = api.call("DELETE", f"/api/job?id={job_id}")
    assert status == 404 and job_id in body["error"]


def test_an_unknown_id_deletes_nothing(api: Api) -> None:
    api.create({"name": "n", "cron": "* * * * *"})
    assert api.call("DELETE", f"/api/job?id={uuid.uuid4()}")[0] == 404
    assert api.call("DELETE", "/api/job?id=nope")[0] == 400
    assert Job.objects.count() == 1
