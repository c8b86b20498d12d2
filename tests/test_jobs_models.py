"""What the job and run tables must hold, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from jobs.models import Job, Run, RunTrigger

pytestmark = pytest.mark.django_db


def test_a_run_can_be_late_by_more_than_a_32_bit_number_of_milliseconds() -> None:
    job = Job.objects.create(name="n", cron="* * * * *")
    forty_days_ms = 40 * 86_400 * 1000  # 3,456,000,000 > 2,147,483,647
    run = Run.objects.create(job=job, trigger=RunTrigger.SCHEDULE, late_ms=forty_days_ms)
    assert Run.objects.get(pk=run.pk).late_ms == forty_days_ms
