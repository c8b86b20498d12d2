"""The loop around the step: it survives a failing step and stops when told to."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from jobs.models import Run, RunStatus, RunTrigger
from scheduler import wakeup
from scheduler.dispatcher import Dispatcher, DispatchSettings
from tests.scheduler.conftest import store_job
from tests.scheduler.nodeproc import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_step_is_retried_and_the_loop_stops_at_once_when_told() -> None:
    started: list = []
    calls = {"n": 0}

    def submit(ticket) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            # The first hand-over fails (say, the run threads are gone): the step raises.
            raise RuntimeError("hand-over failed")
        started.append(ticket.run_id)

    dispatcher = Dispatcher(DispatchSettings(node_name="loop", cluster="default"), submit)
    stop = threading.Event()
    loop = threading.Thread(target=dispatcher.run, args=(stop,))
    job = store_job(cron="0 0 1 1 *", next_fire_at=None)
    first = Run.objects.create(job=job, trigger=RunTrigger.MANUAL, status=RunStatus.PENDING)
    loop.start()
    try:
        wait_until(lambda: calls["n"] >= 1, timeout=10)
        # The loop is still alive: a later run is taken and handed over.
        second = Run.objects.create(job=job, trigger=RunTrigger.MANUAL, status=RunStatus.PENDING)
        wakeup.notify()
        wait_until(lambda: second.id in started, timeout=10)
        assert loop.is_alive()
    finally:
        stop.set()
        wakeup.notify()
        began = time.monotonic()
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert time.monotonic() - began < 2.0
    # The run whose hand-over failed stays `running` on this node: a restart marks it lost.
    assert Run.objects.get(pk=first.id).status == RunStatus.RUNNING


def _due_soon(loop_settings: DispatchSettings) -> tuple[Dispatcher, list, list, float]:
    """A loop that claimed ahead a fire due a moment from now, on the real clock."""
    from datetime import UTC, datetime, timedelta

    started: list = []
    warmed: list[float] = []
    dispatcher = Dispatcher(loop_settings, started.append, warm=warmed.append)
    dispatcher.dispatch_once()  # the first step, with nothing to do
    now = datetime.now(UTC)
    fire = now.replace(microsecond=0) + timedelta(seconds=2)
    store_job(cron="* * * * * *", next_fire_at=fire, name="soon")
    wakeup.wait(0)
    pause = (fire - datetime.now(UTC)).total_seconds() - 0.2
    time.sleep(max(0.0, pause))
    pause = dispatcher.dispatch_once()  # claims it ahead
    assert started == [] and Run.objects.get().status == RunStatus.PENDING
    return dispatcher, started, warmed, pause


def test_a_fire_claimed_ahead_is_started_from_the_end_of_the_loops_sleep() -> None:
    settings = DispatchSettings(
        node_name="loop", cluster="default", lookahead=timedelta(milliseconds=250)
    )
    dispatcher, started, warmed, pause = _due_soon(settings)
    dispatcher._sleep(pause)
    run = Run.objects.get()
    # Started at its instant by the sleep itself, the sandbox asked to stay awake first.
    assert [t.run_id for t in started] == [run.id]
    assert run.status == RunStatus.RUNNING and run.started_at >= run.scheduled_for
    assert warmed == [settings.warm_lead + 0.005]


def test_a_job_disabled_before_the_last_moment_is_not_started_by_it() -> None:
    from jobs.models import Job, JobState

    settings = DispatchSettings(
        node_name="loop", cluster="default", lookahead=timedelta(milliseconds=250)
    )
    dispatcher, started, _warmed, pause = _due_soon(settings)
    # Disabled by another node: no wake-up here, the rows read just before the instant say.
    Job.objects.update(state=JobState.STOPPED, next_fire_at=None)
    dispatcher._sleep(pause)
    assert started == []
    assert Run.objects.count() == 0


def test_a_sleep_for_something_earlier_does_not_run_on_to_the_fires_instant() -> None:
    settings = DispatchSettings(
        node_name="loop", cluster="default", lookahead=timedelta(milliseconds=250)
    )
    dispatcher, started, warmed, _pause = _due_soon(settings)
    # Woken for an earlier instant (say another job's claim): the fire is not started yet.
    dispatcher._sleep(0.02)
    assert started == [] and warmed == []
    assert Run.objects.get().status == RunStatus.PENDING
