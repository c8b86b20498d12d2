"""Runs as the API shows them, and the one way to start a run by hand.

A manual run is stored `pending` with no node; whichever dispatch loop steps next takes
it with a conditional update (`pending` → `running`, its node), so a trigger is run
once even with several loops, and the web request never waits for the script.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone as dj_timezone

from jobs.models import Job, Run, RunStatus, RunTrigger
from scheduler import wakeup


def _jobs_here() -> QuerySet[Job]:
    """This node's cluster's jobs: several clusters may share one database."""
    return Job.objects.filter(cluster=settings.TRAITOR_CLUSTER)


class RunNotFound(LookupError):
    """No job or run has the id asked for; the message names it."""


def iso_ms(instant: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds: 2024-01-01T08:00:00.000Z."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_data(run: Run, *, with_output: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "runId": str(run.id),
        "jobId": str(run.job_id),
        "trigger": run.trigger,
        "status": run.status,
        "scheduledFor": iso_ms(run.scheduled_for),
        "startedAt": iso_ms(run.started_at),
        "finishedAt": iso_ms(run.finished_at),
        "lateMs": run.late_ms,
        "late": run.late,
        "missedFires": run.missed_fires,
        "node": run.node,
        "error": run.error,
    }
    if with_output:
        data["output"] = run.output
        data["outputTruncated"] = run.output_truncated
    return data


def trigger_run(job_id: uuid.UUID, *, now: datetime | None = None) -> Run:
    """Queue a run of the job now, whatever its state; the dispatcher starts it at once."""
    now = now if now is not None else dj_timezone.now()
    with transaction.atomic():
        if not _jobs_here().filter(pk=job_id).exists():
            raise RunNotFound(f"id: no job has the id {job_id}")
        run = Run.objects.create(
            job_id=job_id,
            trigger=RunTrigger.MANUAL,
            scheduled_for=now,
            status=RunStatus.PENDING,
        )
        transaction.on_commit(wakeup.notify)
    return run


# The list leaves out the output (up to a megabyte per run); `GET /api/run` gives it.
_LIST_FIELDS = (
    "id",
    "job_id",
    "trigger",
    "status",
    "scheduled_for",
    "started_at",
    "finished_at",
    "late_ms",
    "late",
    "missed_fires",
    "node",
    "error",
)


def list_runs(job_id: uuid.UUID, *, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the job's runs, newest first, and how many it has in all."""
    if not _jobs_here().filter(pk=job_id).exists():
        raise RunNotFound(f"id: no job has the id {job_id}")
    runs = Run.objects.filter(job_id=job_id).order_by("-created_at")
    total = runs.count()
    start = (page - 1) * size
    page_runs = runs.only(*_LIST_FIELDS)[start : start + size]
    return [run_data(r, with_output=False) for r in page_runs], total


def get_run(run_id: uuid.UUID) -> Run:
    try:
        return Run.objects.get(pk=run_id, job__cluster=settings.TRAITOR_CLUSTER)
    except Run.DoesNotExist:
        raise RunNotFound(f"id: no run has the id {run_id}") from None
