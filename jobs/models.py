"""Jobs and their runs.

The numeric codes (`exec_type`, `state`) are the original Traitor's and appear as such in
the Web API; the readable names beside them are for humans and for the admin.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def _default_timezone() -> str:
    return settings.TRAITOR_DEFAULT_TIMEZONE


class ExecType(models.IntegerChoices):
    TIMING = 0, "timing"
    DELAY = 1, "delay"


class JobState(models.IntegerChoices):
    STOPPED = 0, "stopped"
    ENABLED = 1, "enabled"
    # A delay job after its one run: it never fires again until given a new instant.
    DONE = 2, "done"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Several clusters may share one database; every query of the scheduler is scoped by it.
    cluster = models.CharField(max_length=64, default="default", db_index=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    exec_type = models.SmallIntegerField(choices=ExecType.choices, default=ExecType.TIMING)
    cron = models.CharField(max_length=200, blank=True, default="")
    exec_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default=_default_timezone)
    script = models.TextField(blank=True, default="")
    state = models.SmallIntegerField(choices=JobState.choices, default=JobState.STOPPED)

    # Scheduling bookkeeping, owned by the scheduler's service functions.
    next_fire_at = models.DateTimeField(null=True, blank=True)
    last_exec_time = models.DateTimeField(null=True, blank=True)
    # Bumped on every change of what/when the job runs; conditional updates compare it so a
    # dispatcher never acts on a schedule that was changed under it.
    version = models.PositiveIntegerField(default=1)

    # Per-job behaviour.
    catch_up = models.BooleanField(
        default=True, help_text="After downtime, fire once for the missed window."
    )
    allow_overlap = models.BooleanField(
        default=False, help_text="Run a new fire even while the previous run is still going."
    )
    # Sandbox limit overrides; null means the node's default. Capped by the operator maximum.
    timeout_seconds = models.FloatField(null=True, blank=True)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    output_bytes = models.PositiveIntegerField(null=True, blank=True)
    http_response_bytes = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dispatcher's hot query: enabled jobs of a cluster by their next fire.
            models.Index(fields=["cluster", "state", "next_fire_at"], name="job_due_idx"),
            # `/api/jobList`, newest first, a page at a time: without it each page sorts the
            # whole table, and on SQLite reading `created_at` of a row walks past its script
            # (the column sits after it in the record), so a page cost a full read of scripts.
            models.Index(fields=["cluster", "-created_at", "-id"], name="job_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def is_timing(self) -> bool:
        return self.exec_type == ExecType.TIMING

    @property
    def is_delay(self) -> bool:
        return self.exec_type == ExecType.DELAY


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    DEBUG = "debug"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    LOST = "lost"


FINISHED_STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.TIMED_OUT,
    RunStatus.SKIPPED,
    RunStatus.LOST,
)


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    # The fire instant this run belongs to (schedule runs); the request time otherwise.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Milliseconds; a catch-up after a month of downtime exceeds a 32-bit integer.
    late_ms = models.BigIntegerField(null=True, blank=True)
    # Dispatched after the misfire grace: a catch-up of a missed window or a late delay fire.
    late = models.BooleanField(default=False)
    # How many ticks of the schedule this run stands for: 1 on time, more for a catch-up
    # (the ticks from scheduled_for up to its dispatch, coalesced into this one run).
    missed_fires = models.PositiveIntegerField(default=1)
    node = models.CharField(max_length=200, blank=True, default="")
    output = models.TextField(blank=True, default="")
    output_truncated = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Exactly one dispatch per (job, fire instant), whoever tries: two loops, a
            # failover and a restart all hit this constraint rather than run a fire twice.
            models.UniqueConstraint(
                fields=["job", "scheduled_for"],
                condition=Q(trigger="schedule"),
                name="one_run_per_fire",
            ),
        ]
        indexes = [
            models.Index(fields=["job", "-created_at"], name="run_job_newest_idx"),
            models.Index(fields=["status", "node"], name="run_status_node_idx"),
        ]

    def __str__(self) -> str:
        return f"run {self.id} of {self.job_id} ({self.status})"
