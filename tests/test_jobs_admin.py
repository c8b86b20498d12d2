"""The admin writes through the same service functions as the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client

from jobs.models import Job, JobState

pytestmark = pytest.mark.django_db

MONDAY_8 = 1894003200  # 2030-01-07T08:00:00Z (`date -ud 2030-01-07T08:00:00Z +%s`)
NOON_30 = 1893501000  # 2030-01-01T12:30:00Z


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(datetime(2030, 1, 1, 12, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("root", "", None))
    return client


def _form(**fields: str) -> dict[str, str]:
    form = {"name": "from admin", "description": "", "exec_type": "0", "cron": "0 0 8 ? * MON",
            "exec_at_0": "", "exec_at_1": "", "timezone": "UTC", "script": "x()",
            "catch_up": "on", "timeout_seconds": "", "memory_mb": "", "output_bytes": "",
            "http_response_bytes": ""}  # fmt: skip
    form.update(fields)
    return form


def test_adding_a_job_creates_it_stopped(admin_client: Client) -> None:
    response = admin_client.post("/admin/jobs/job/add/", _form())
    assert response.status_code == 302, response.content[:2000]
    job = Job.objects.get()
    assert (job.name, job.cron, job.state, job.next_fire_at) == (
        "from admin", "0 0 8 ? * MON", JobState.STOPPED, None)  # fmt: skip


def test_a_bad_cron_is_shown_on_the_form_and_nothing_is_stored(admin_client: Client) -> None:
    response = admin_client.post("/admin/jobs/job/add/", _form(cron="61 * * * *"))
    assert response.status_code == 200
    assert b"cron" in response.content and b"errorlist" in response.content
    assert not Job.objects.exists()


def test_the_enable_action_schedules_and_a_change_reschedules(frozen, admin_client) -> None:
    # The clock is frozen before logging in: a session from 2026 has expired by 2030.
    admin_client.post("/admin/jobs/job/add/", _form())
    job = Job.objects.get()
    admin_client.post(
        "/admin/jobs/job/", {"action": "enable_jobs", "_selected_action": [str(job.pk)]}
    )
    job.refresh_from_db()
    assert job.state == JobState.ENABLED and job.next_fire_at.timestamp() == MONDAY_8
    response = admin_client.post(f"/admin/jobs/job/{job.pk}/change/", _form(cron="0 30 12 * * *"))
    assert response.status_code == 302
    job.refresh_from_db()
    # 12:30Z the same day: the frozen clock says Tuesday 2030-01-01 12:00Z.
    assert job.next_fire_at.timestamp() == NOON_30
    assert job.version == 3
    admin_client.post(
        "/admin/jobs/job/", {"action": "disable_jobs", "_selected_action": [str(job.pk)]}
    )
    job.refresh_from_db()
    assert (job.state, job.next_fire_at) == (JobState.STOPPED, None)


def test_deleting_in_the_admin_deletes_the_job(admin_client: Client) -> None:
    admin_client.post("/admin/jobs/job/add/", _form())
    job = Job.objects.get()
    response = admin_client.post(f"/admin/jobs/job/{job.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Job.objects.exists()


def test_the_lists_render(admin_client: Client) -> None:
    admin_client.post("/admin/jobs/job/add/", _form())
    assert admin_client.get("/admin/jobs/job/").status_code == 200
    assert admin_client.get("/admin/jobs/run/").status_code == 200


def test_the_operator_ceilings_hold_in_the_admin_too(admin_client: Client, settings) -> None:
    settings.TRAITOR_RUN_MEMORY_MAX_MB = 512
    response = admin_client.post("/admin/jobs/job/add/", _form(memory_mb="1024"))
    assert response.status_code == 200
    assert b"memoryMb: must be at most 512" in response.content
    assert not Job.objects.exists()
