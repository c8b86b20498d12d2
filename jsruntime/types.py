"""The values that cross the sandbox's interface: what to run, within which limits, and
what came out. Plain data, no Django import at module level, so the worker process and the
parent share them."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RunStatus = Literal["succeeded", "failed", "timed_out"]
ConsoleLevel = Literal["log", "info", "warn", "error", "debug"]
Trigger = Literal["schedule", "manual", "debug"]


class SandboxError(Exception):
    """The sandbox itself failed (a worker could not start, the pool is shut down).

    A script's own failure is never raised: it comes back as a RunResult with status
    "failed" or "timed_out"."""


@dataclass(frozen=True)
class RunContext:
    """Who is running: shown to the script as the `job` global and given to plugins."""

    job_id: uuid.UUID | str
    job_name: str = ""
    run_id: uuid.UUID | str | None = None
    scheduled_for: datetime | None = None
    trigger: Trigger = "manual"

    def as_js(self) -> dict[str, Any]:
        """The `job` global: JSON only, so instants travel as ISO-8601 strings."""
        return {
            "id": str(self.job_id),
            "name": self.job_name,
            "runId": None if self.run_id is None else str(self.run_id),
            "scheduledFor": None
            if self.scheduled_for is None
            else self.scheduled_for.isoformat().replace("+00:00", "Z"),
            "trigger": self.trigger,
        }


@dataclass(frozen=True)
class RunLimits:
    """What one run may use. Built from settings; a job may override each value up to the
    operator's maximum (`TRAITOR_*_MAX_*`)."""

    timeout_seconds: float
    memory_mb: int
    output_bytes: int
    http_response_bytes: int

    @classmethod
    def defaults(cls) -> RunLimits:
        return cls.for_overrides()

    @classmethod
    def for_job(cls, job: Any) -> RunLimits:
        """The job's own limits (`timeout_seconds`, `memory_mb`, `output_bytes`,
        `http_response_bytes`; None means the node default), capped by the maxima."""
        return cls.for_overrides(
            timeout_seconds=getattr(job, "timeout_seconds", None),
            memory_mb=getattr(job, "memory_mb", None),
            output_bytes=getattr(job, "output_bytes", None),
            http_response_bytes=getattr(job, "http_response_bytes", None),
        )

    @classmethod
    def for_overrides(
        cls,
        *,
        timeout_seconds: float | None = None,
        memory_mb: int | None = None,
        output_bytes: int | None = None,
        http_response_bytes: int | None = None,
    ) -> RunLimits:
        from django.conf import settings

        def pick(value: float | None, default: float, maximum: float) -> float:
            chosen = default if value is None or value <= 0 else value
            return min(chosen, maximum)

        return cls(
            timeout_seconds=float(
                pick(
                    timeout_seconds,
                    settings.TRAITOR_RUN_TIMEOUT_SECONDS,
                    settings.TRAITOR_RUN_TIMEOUT_MAX_SECONDS,
                )
            ),
            memory_mb=int(
                pick(memory_mb, settings.TRAITOR_RUN_MEMORY_MB, settings.TRAITOR_RUN_MEMORY_MAX_MB)
            ),
            output_bytes=int(
                pick(
                    output_bytes,
                    settings.TRAITOR_RUN_OUTPUT_BYTES,
                    settings.TRAITOR_RUN_OUTPUT_MAX_BYTES,
                )
            ),
            http_response_bytes=int(
                pick(
                    http_response_bytes,
                    settings.TRAITOR_HTTP_RESPONSE_BYTES,
                    settings.TRAITOR_HTTP_RESPONSE_MAX_BYTES,
                )
            ),
        )


@dataclass(frozen=True)
class ConsoleLine:
    level: ConsoleLevel
    text: str
    at: datetime


@dataclass
class RunResult:
    status: RunStatus
    output: str
    output_truncated: bool
    error: str
    console: list[ConsoleLine]
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    # Wall time the run spent waiting on plugin calls served by the parent process: part of
    # duration_ms and of the run's time limit, reported apart so a slow plugin is visible.
    plugin_ms: float = 0.0
    worker_pid: int | None = field(default=None, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def human_bytes(size: int) -> str:
    """1048576 -> "1 MB", 1536 -> "1.5 KB": for messages a person reads."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == math.floor(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def human_seconds(seconds: float) -> str:
    """30.0 -> "30 s", 0.25 -> "0.25 s"."""
    return f"{seconds:g} s"
