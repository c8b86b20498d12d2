"""The scheduler tests' shared helpers: a job stored as the services leave it, and a loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs.models import ExecType, Job, JobState
from scheduler.dispatcher import Dispatcher, DispatchSettings


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def store_job(*, next_fire_at: datetime | None, **fields: Any) -> Job:
    """A job in the state the API's services leave it: enabled iff it has a next fire."""
    values: dict[str, Any] = {
        "name": "job",
        "exec_type": ExecType.DELAY if "exec_at" in fields else ExecType.TIMING,
        "cron": "",
        "timezone": "UTC",
        "script": "console.log('hi')",
        "state": JobState.ENABLED if next_fire_at else JobState.STOPPED,
        "next_fire_at": next_fire_at,
        "cluster": "default",
    }
    values.update(fields)
    return Job.objects.create(**values)


class Loop:
    """A dispatcher whose started runs are collected instead of executed."""

    def __init__(self, node: str = "node-a", **overrides: Any) -> None:
        config = DispatchSettings(node_name=node, cluster="default", **overrides)
        self.started: list[Any] = []
        self.dispatcher = Dispatcher(
            config, submit=lambda ticket: self.started.append(ticket.run_id)
        )

    def step(self, now: datetime) -> float:
        return self.dispatcher.dispatch_once(now)


@pytest.fixture
def loop() -> Loop:
    return Loop(grace=timedelta(seconds=5), max_sleep=30.0)
