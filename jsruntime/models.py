"""Data the sandbox keeps: the key/value pairs of the shipped `require('store')` plugin."""

from __future__ import annotations

from django.db import models


class ScriptValue(models.Model):
    """One key of one job's store. Keys are scoped by job, so a job can never read another
    job's keys, and they go away with the job."""

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="script_values")
    key = models.CharField(max_length=200)
    # The value as JSON text, exactly as the script gave it (after JSON round-tripping).
    value = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Two nodes setting one new key at once: one insert wins, the other updates.
            models.UniqueConstraint(fields=["job", "key"], name="script_value_one_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.key}"
