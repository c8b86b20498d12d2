"""The loop around the step: it survives a failing step and stops when told to."""

from __future__ import annotations

import threading
import time

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
