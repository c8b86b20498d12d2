"""One dispatch step against a real database, with the clock frozen at chosen instants.

The loop's `submit` only collects the started run ids here: what a run does in the sandbox
is tested in test_execution.py and end to end in test_runnode_firing.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from jobs.models import Job, JobState, Run, RunStatus, RunTrigger
from scheduler import wakeup
from tests.scheduler.conftest import Loop, at, store_job

pytestmark = pytest.mark.django_db


def fires(job: Job) -> list[tuple[str, str]]:
    """The job's schedule runs as (fire instant, status), oldest first."""
    return [
        (r.scheduled_for.isoformat(), r.status)
        for r in Run.objects.filter(job=job, trigger=RunTrigger.SCHEDULE).order_by("scheduled_for")
    ]


def step_at(loop: Loop, text: str, *, keep_running: bool = False) -> float:
    """One step at the instant `text`; runs started earlier have finished unless kept."""
    if not keep_running:
        Run.objects.filter(status=RunStatus.RUNNING).update(status=RunStatus.SUCCEEDED)
    now = at(text)
    with time_machine.travel(now, tick=False):
        return loop.step(now)


def test_c87_a_new_daily_job_is_not_due_before_its_first_instant(loop: Loop) -> None:
    job = store_job(cron="0 8 * * *", next_fire_at=at("2018-02-01T08:00:00+00:00"))
    assert step_at(loop, "2018-02-01T07:59:00+00:00") == 30.0  # capped sleep, nothing due
    assert step_at(loop, "2018-02-01T07:59:59.990+00:00") == pytest.approx(0.01)
    assert fires(job) == []

    step_at(loop, "2018-02-01T08:00:00.004+00:00")
    assert fires(job) == [("2018-02-01T08:00:00+00:00", "running")]
    run = Run.objects.get(job=job)
    assert run.late_ms == 4
    assert run.started_at == at("2018-02-01T08:00:00.004+00:00")
    assert loop.started == [run.id]
    job.refresh_from_db()
    assert job.next_fire_at == at("2018-02-02T08:00:00+00:00")
    assert job.last_exec_time == at("2018-02-01T08:00:00.004+00:00")

    # A restart later that day runs nothing "because it restarted".
    restarted = Loop(node="node-a")
    step_at(restarted, "2018-02-01T13:00:00+00:00")
    assert len(fires(job)) == 1
    step_at(restarted, "2018-02-02T08:00:00+00:00")
    assert [f for f, _ in fires(job)] == ["2018-02-01T08:00:00+00:00", "2018-02-02T08:00:00+00:00"]


def test_c83_a_job_added_while_the_loop_sleeps_wakes_it_and_fires_on_its_minute() -> None:
    loop = Loop(max_sleep=3600.0)
    store_job(cron="0 * * * *", next_fire_at=at("2023-07-12T11:00:00+00:00"))
    assert step_at(loop, "2023-07-12T10:00:00+00:00") == 3600.0
    wakeup.wait(0)  # start from a clear flag

    job = store_job(cron="* * * * *", next_fire_at=at("2023-07-12T10:01:00+00:00"))
    wakeup.notify()  # what the services do on commit
    assert wakeup.wait(5.0) is True  # returns at once, not after the hour
    assert step_at(loop, "2023-07-12T10:00:30+00:00") == 30.0
    for instant in ("10:01:00", "10:02:00", "10:03:00"):
        step_at(loop, f"2023-07-12T{instant}.002+00:00")
    assert fires(job) == [
        ("2023-07-12T10:01:00+00:00", "succeeded"),
        ("2023-07-12T10:02:00+00:00", "succeeded"),
        ("2023-07-12T10:03:00+00:00", "running"),
    ]


def test_c84_downtime_gives_one_late_fire_for_the_window_then_the_schedule(loop: Loop) -> None:
    # Stopped at 14:56:30 (Shanghai) with 14:57 stored; restarted at 15:01:30.
    job = store_job(
        cron="* * * * *", timezone="Asia/Shanghai", next_fire_at=at("2015-11-24T14:57:00+08:00")
    )
    step_at(loop, "2015-11-24T15:01:30+08:00")
    step_at(loop, "2015-11-24T15:01:31+08:00")  # a second step in the same window: nothing
    step_at(loop, "2015-11-24T15:02:00+08:00")
    step_at(loop, "2015-11-24T15:03:00+08:00")
    runs = list(Run.objects.filter(job=job).order_by("scheduled_for"))
    assert [r.started_at for r in runs] == [
        at("2015-11-24T15:01:30+08:00"),
        at("2015-11-24T15:02:00+08:00"),
        at("2015-11-24T15:03:00+08:00"),
    ]
    # The catch-up belongs to the first missed instant and says how late it is.
    assert runs[0].scheduled_for == at("2015-11-24T14:57:00+08:00")
    assert runs[0].late_ms == 270_000
    assert [r.late_ms for r in runs[1:]] == [0, 0]
    # It is marked late and stands for 14:57, 14:58, 14:59, 15:00 and 15:01.
    assert [(r.late, r.missed_fires) for r in runs] == [(True, 5), (False, 1), (False, 1)]


def test_c85_a_delay_job_missed_while_down_fires_once_and_ends(loop: Loop) -> None:
    job = store_job(
        exec_at=at("2018-01-04T09:00:00+00:00"), next_fire_at=at("2018-01-04T09:00:00+00:00")
    )
    step_at(loop, "2018-01-04T09:30:00+00:00")
    assert fires(job) == [("2018-01-04T09:00:00+00:00", "running")]
    assert Run.objects.get(job=job).late_ms == 1_800_000
    assert (Run.objects.get(job=job).late, Run.objects.get(job=job).missed_fires) == (True, 1)
    job.refresh_from_db()
    assert (job.state, job.next_fire_at) == (JobState.DONE, None)

    second_restart = Loop(node="node-a")
    step_at(second_restart, "2018-01-04T09:45:00+00:00")
    assert len(fires(job)) == 1


def test_a_missed_window_with_catch_up_off_is_recorded_as_skipped(loop: Loop) -> None:
    job = store_job(cron="* * * * *", catch_up=False, next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:07:10+00:00")
    assert fires(job) == [("2020-05-01T10:00:00+00:00", "skipped")]
    assert Run.objects.get(job=job).error.startswith("missed:")
    # The skipped window is 10:00 to 10:07: eight ticks.
    assert (Run.objects.get(job=job).late, Run.objects.get(job=job).missed_fires) == (True, 8)
    assert loop.started == []
    job.refresh_from_db()
    assert job.next_fire_at == at("2020-05-01T10:08:00+00:00")
    assert job.last_exec_time is None


def test_a_fire_is_skipped_while_the_previous_run_is_still_going(loop: Loop) -> None:
    job = store_job(cron="* * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:00:00+00:00")
    step_at(loop, "2020-05-01T10:01:00+00:00", keep_running=True)  # 10:00 still going
    assert fires(job) == [
        ("2020-05-01T10:00:00+00:00", "running"),
        ("2020-05-01T10:01:00+00:00", "skipped"),
    ]
    assert "allowOverlap" in Run.objects.get(job=job, status=RunStatus.SKIPPED).error
    job.refresh_from_db()
    assert job.last_exec_time == at("2020-05-01T10:00:00+00:00")

    step_at(loop, "2020-05-01T10:02:00+00:00")
    assert fires(job)[-1] == ("2020-05-01T10:02:00+00:00", "running")


def test_allow_overlap_starts_the_fire_even_while_a_run_goes_on(loop: Loop) -> None:
    job = store_job(
        cron="* * * * *", allow_overlap=True, next_fire_at=at("2020-05-01T10:00:00+00:00")
    )
    step_at(loop, "2020-05-01T10:00:00+00:00")
    step_at(loop, "2020-05-01T10:01:00+00:00", keep_running=True)
    assert [s for _, s in fires(job)] == ["running", "running"]
    assert len(loop.started) == 2


def test_c92_a_one_shot_cron_runs_once_however_often_the_loop_ticks(loop: Loop) -> None:
    job = store_job(
        cron="15 6 10 18 8 ? 2025",
        timezone="Asia/Shanghai",
        next_fire_at=at("2025-08-18T10:06:15+08:00"),
    )
    for ms in (0, 1, 250, 999):
        step_at(loop, f"2025-08-18T10:06:15.{ms:03d}+08:00", keep_running=True)
    assert fires(job) == [("2025-08-18T02:06:15+00:00", "running")]
    job.refresh_from_db()
    assert (job.state, job.next_fire_at) == (JobState.DONE, None)


def test_c90_a_clock_set_back_twelve_hours_follows_the_new_wall_clock(loop: Loop) -> None:
    job = store_job(cron="* * * * *", next_fire_at=at("2019-08-22T14:00:00+00:00"))
    step_at(loop, "2019-08-22T14:00:00+00:00")
    step_at(loop, "2019-08-22T14:00:10+00:00")
    # The clock is set back to 02:00:00.
    assert step_at(loop, "2019-08-22T02:00:00+00:00") == 30.0
    job.refresh_from_db()
    assert job.next_fire_at == at("2019-08-22T02:01:00+00:00")
    for instant in ("02:01:00", "02:02:00", "02:03:00"):
        step_at(loop, f"2019-08-22T{instant}+00:00")
    assert [f for f, _ in fires(job)] == [
        "2019-08-22T02:01:00+00:00",
        "2019-08-22T02:02:00+00:00",
        "2019-08-22T02:03:00+00:00",
        "2019-08-22T14:00:00+00:00",
    ]


def test_a_clock_stepped_forward_gives_one_catch_up_not_a_loop(loop: Loop) -> None:
    job = store_job(cron="* * * * *", next_fire_at=at("2019-08-22T02:01:00+00:00"))
    step_at(loop, "2019-08-22T14:00:10+00:00")
    assert step_at(loop, "2019-08-22T14:00:11+00:00") == 30.0
    assert len(fires(job)) == 1
    job.refresh_from_db()
    assert job.next_fire_at == at("2019-08-22T14:01:00+00:00")


def test_a_job_whose_schedule_breaks_is_stopped_and_the_others_still_fire(loop: Loop) -> None:
    broken = store_job(cron="not a cron", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    healthy = store_job(cron="* * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:00:00+00:00")
    assert fires(healthy) == [("2020-05-01T10:00:00+00:00", "running")]
    broken.refresh_from_db()
    assert (broken.state, broken.next_fire_at) == (JobState.STOPPED, None)
    failed = Run.objects.get(job=broken)
    assert failed.status == RunStatus.FAILED
    assert "not a cron" in failed.error


def test_a_fire_already_recorded_is_not_run_again_when_the_schedule_is_reset_to_it(
    loop: Loop,
) -> None:
    # An edit recomputed next_fire_at to the instant that was just dispatched.
    job = store_job(cron="* * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:00:00+00:00")
    Job.objects.filter(pk=job.pk).update(next_fire_at=at("2020-05-01T10:00:00+00:00"), version=9)
    step_at(loop, "2020-05-01T10:00:00.500+00:00", keep_running=True)
    assert fires(job) == [("2020-05-01T10:00:00+00:00", "running")]
    assert len(loop.started) == 1
    job.refresh_from_db()
    assert job.next_fire_at == at("2020-05-01T10:01:00+00:00")


def test_a_manual_run_waiting_for_a_node_is_taken_by_one_loop() -> None:
    job = store_job(cron="* * * * *", next_fire_at=None)
    now = at("2020-05-01T10:00:00+00:00")
    pending = Run.objects.create(
        job=job, trigger=RunTrigger.MANUAL, scheduled_for=now, status=RunStatus.PENDING
    )
    first, second = Loop(node="node-a"), Loop(node="node-b")
    step_at(first, "2020-05-01T10:00:00.010+00:00")
    step_at(second, "2020-05-01T10:00:00.020+00:00", keep_running=True)
    assert (first.started, second.started) == ([pending.id], [])
    pending.refresh_from_db()
    assert (pending.status, pending.node) == (RunStatus.RUNNING, "node-a")
    job.refresh_from_db()
    assert job.last_exec_time == at("2020-05-01T10:00:00.010+00:00")


def test_stopped_jobs_and_other_clusters_are_left_alone(loop: Loop) -> None:
    stopped = store_job(cron="* * * * *", next_fire_at=None)
    elsewhere = store_job(
        cron="* * * * *", cluster="other", next_fire_at=at("2020-05-01T10:00:00+00:00")
    )
    assert step_at(loop, "2020-05-01T10:00:00+00:00") == 30.0
    assert fires(stopped) == fires(elsewhere) == []


def test_the_loop_sleeps_until_the_earliest_fire_of_all_jobs(loop: Loop) -> None:
    store_job(cron="*/5 * * * *", next_fire_at=at("2020-05-01T10:05:00+00:00"))
    store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    assert step_at(loop, "2020-05-01T10:00:00.250+00:00") == pytest.approx(0.75)


def test_a_fire_within_the_lookahead_is_claimed_ahead_and_started_at_its_instant() -> None:
    loop = Loop(lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    assert step_at(loop, "2020-05-01T10:00:00.700+00:00") == pytest.approx(0.05)
    assert step_at(loop, "2020-05-01T10:00:00.800+00:00") == pytest.approx(0.2)
    # Claimed by this node, not started yet; the job still shows the fire as its next.
    run = Run.objects.get(job=job)
    assert (run.status, run.node, run.started_at) == (RunStatus.PENDING, "node-a", None)
    assert loop.started == []
    job.refresh_from_db()
    assert (job.next_fire_at, job.last_exec_time) == (at("2020-05-01T10:00:01+00:00"), None)
    # A second step inside the window claims nothing more.
    assert step_at(loop, "2020-05-01T10:00:00.900+00:00", keep_running=True) == pytest.approx(0.1)
    assert Run.objects.filter(job=job).count() == 1

    step_at(loop, "2020-05-01T10:00:01.001+00:00", keep_running=True)
    run.refresh_from_db()
    assert loop.started == [run.id]
    assert (run.status, run.started_at) == (RunStatus.RUNNING, at("2020-05-01T10:00:01.001+00:00"))
    assert run.late_ms == 1  # startedAt - scheduledFor
    job.refresh_from_db()
    assert job.next_fire_at == at("2020-05-01T10:00:02+00:00")
    assert job.last_exec_time == at("2020-05-01T10:00:01.001+00:00")


def test_a_job_disabled_after_its_fire_was_claimed_ahead_does_not_run() -> None:
    loop = Loop(lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    step_at(loop, "2020-05-01T10:00:00.800+00:00")
    Job.objects.filter(pk=job.pk).update(state=JobState.STOPPED, next_fire_at=None, version=5)
    step_at(loop, "2020-05-01T10:00:01+00:00")
    assert loop.started == []
    assert Run.objects.filter(job=job).count() == 0


def test_a_script_changed_after_the_claim_ahead_runs_as_changed() -> None:
    started = []
    from scheduler.dispatcher import Dispatcher, DispatchSettings

    dispatcher = Dispatcher(
        DispatchSettings(node_name="n", cluster="default", lookahead=timedelta(seconds=0.25)),
        submit=started.append,
    )
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    dispatcher.dispatch_once(at("2020-05-01T10:00:00.800+00:00"))
    Job.objects.filter(pk=job.pk).update(script="console.log('new')", version=7)
    dispatcher.dispatch_once(at("2020-05-01T10:00:01+00:00"))
    assert [t.script for t in started] == ["console.log('new')"]


def test_a_fire_that_may_overlap_is_decided_at_its_instant_not_ahead() -> None:
    loop = Loop(lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:00:00+00:00")
    # The 10:00:00 run is still going 200 ms before the next fire: not claimed yet.
    assert step_at(loop, "2020-05-01T10:00:00.800+00:00", keep_running=True) == pytest.approx(0.2)
    assert Run.objects.filter(job=job).count() == 1
    # It ended in time: the fire runs.
    step_at(loop, "2020-05-01T10:00:01+00:00")
    assert fires(job)[-1] == ("2020-05-01T10:00:01+00:00", "running")


def test_a_fire_claimed_ahead_by_a_node_that_stops_goes_back_to_the_schedule() -> None:
    first = Loop(node="node-a", lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    step_at(first, "2020-05-01T10:00:00.900+00:00")
    assert first.dispatcher.release_unstarted() == 1
    assert Run.objects.filter(job=job).count() == 0
    job.refresh_from_db()
    assert (job.next_fire_at, job.last_exec_time) == (at("2020-05-01T10:00:01+00:00"), None)
    # Down for three seconds: one late run for the window, from the unstarted fire on.
    second = Loop(node="node-b")
    step_at(second, "2020-05-01T10:00:04.300+00:00", keep_running=True)
    run = Run.objects.get(job=job)
    assert (run.scheduled_for, run.late_ms, run.node) == (
        at("2020-05-01T10:00:01+00:00"),
        3300,
        "node-b",
    )
    # Under the 5 s grace: not late, but it stands for the ticks 01, 02, 03 and 04.
    assert (run.late, run.missed_fires) == (False, 4)
    assert first.started == []


def test_a_delay_job_claimed_ahead_by_a_killed_node_still_fires_once() -> None:
    from scheduler.dispatcher import unclaim_planned

    first = Loop(node="node-a", lookahead=timedelta(milliseconds=250))
    exec_at = at("2020-05-01T10:00:01+00:00")
    job = store_job(exec_at=exec_at, next_fire_at=exec_at)
    step_at(first, "2020-05-01T10:00:00.900+00:00")
    assert fires(job) == [("2020-05-01T10:00:01+00:00", "pending")]
    # Killed before the instant: the restart undoes the claim, then dispatches it late.
    assert unclaim_planned("node-a") == 1
    restarted = Loop(node="node-a")
    step_at(restarted, "2020-05-01T10:00:09+00:00", keep_running=True)
    assert fires(job) == [("2020-05-01T10:00:01+00:00", "running")]
    job.refresh_from_db()
    assert (job.state, job.next_fire_at) == (JobState.DONE, None)


def test_a_fire_claimed_ahead_by_a_dead_node_runs_once_if_another_loop_moved_past_it() -> None:
    from scheduler.dispatcher import unclaim_planned

    first = Loop(node="node-a", lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:01+00:00"))
    step_at(first, "2020-05-01T10:00:00.900+00:00")
    # node-a dies; node-b reaches the fire, finds node-a's run and leaves it alone.
    other = Loop(node="node-b")
    step_at(other, "2020-05-01T10:00:01.010+00:00", keep_running=True)
    assert other.started == []
    job.refresh_from_db()
    assert job.next_fire_at == at("2020-05-01T10:00:02+00:00")
    # node-a's restart hands the fire to any node: it runs once, late.
    assert unclaim_planned("node-a") == 0
    step_at(other, "2020-05-01T10:00:01.500+00:00", keep_running=True)
    assert fires(job) == [("2020-05-01T10:00:01+00:00", "running")]
    assert len(other.started) == 1


def test_a_late_fire_whose_next_falls_inside_the_lookahead_is_claimed_at_once() -> None:
    loop = Loop(lookahead=timedelta(milliseconds=250))
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    # Dispatched 0.9 s late (a restart): the next fire, 10:00:01, is 100 ms away.
    assert step_at(loop, "2020-05-01T10:00:00.900+00:00") == 0.0
    assert step_at(loop, "2020-05-01T10:00:00.901+00:00") == pytest.approx(0.099)
    assert fires(job) == [
        ("2020-05-01T10:00:00+00:00", "succeeded"),
        ("2020-05-01T10:00:01+00:00", "pending"),
    ]


def test_an_on_time_fire_stands_for_one_tick_and_is_not_late(loop: Loop) -> None:
    job = store_job(cron="*/15 * * * * *", next_fire_at=at("2021-03-01T00:00:15+00:00"))
    step_at(loop, "2021-03-01T00:00:15.003+00:00")
    step_at(loop, "2021-03-01T00:00:30+00:00")
    runs = Run.objects.filter(job=job).order_by("scheduled_for")
    assert [(r.late, r.missed_fires, r.late_ms) for r in runs] == [(False, 1, 3), (False, 1, 0)]


def test_a_catch_up_across_a_spring_forward_gap_counts_the_ticks_that_exist(loop: Loop) -> None:
    # Hourly at :30 in New York; down from 00:30 to 04:10 local on 2021-03-14, when 02:30
    # does not exist (clocks go from 02:00 to 03:00): 00:30, 01:30, 03:30 are the ticks.
    job = store_job(
        cron="30 * * * *",
        timezone="America/New_York",
        next_fire_at=at("2021-03-14T00:30:00-05:00"),
    )
    step_at(loop, "2021-03-14T04:10:00-04:00")
    run = Run.objects.get(job=job)
    assert (run.late, run.missed_fires) == (True, 3)
    job.refresh_from_db()
    assert job.next_fire_at == at("2021-03-14T04:30:00-04:00")


def test_a_very_long_window_is_counted_up_to_the_cap(loop: Loop) -> None:
    from scheduler.decisions import MAX_COUNTED_TICKS

    # Every second, down for two days: 172,801 ticks, reported as the cap.
    job = store_job(cron="* * * * * *", next_fire_at=at("2022-01-01T00:00:00+00:00"))
    step_at(loop, "2022-01-03T00:00:00+00:00")
    run = Run.objects.get(job=job)
    assert (run.late, run.missed_fires) == (True, MAX_COUNTED_TICKS)


def late_ms_matches_start(run: Run) -> bool:
    """lateMs is exactly startedAt - scheduledFor (whole ms), and null with no start."""
    if run.started_at is None:
        return run.late_ms is None
    return run.late_ms == (run.started_at - run.scheduled_for) // timedelta(milliseconds=1)


def test_late_ms_is_the_start_minus_the_fire_and_null_for_runs_that_did_not_start() -> None:
    from scheduler.runs import trigger_run

    loop = Loop(lookahead=timedelta(milliseconds=250))
    # Skipped for a missed window with catch-up off, and for overlap: never started.
    missed = store_job(cron="* * * * *", catch_up=False, next_fire_at=at("2020-05-01T10:00:00Z"))
    busy = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:07:10Z"))
    step_at(loop, "2020-05-01T10:07:10.003+00:00")
    step_at(loop, "2020-05-01T10:07:11.002+00:00", keep_running=True)
    skipped = list(Run.objects.filter(status=RunStatus.SKIPPED))
    assert {r.job_id for r in skipped} == {missed.id, busy.id}
    assert [(r.started_at, r.late_ms) for r in skipped] == [(None, None), (None, None)]

    # Claimed ahead: pending with no lateMs until its instant, then the start minus the fire.
    ahead = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:07:13Z"))
    step_at(loop, "2020-05-01T10:07:12.900+00:00")
    pending = Run.objects.get(job=ahead)
    assert (pending.status, pending.late_ms) == (RunStatus.PENDING, None)
    step_at(loop, "2020-05-01T10:07:13.006+00:00", keep_running=True)
    pending.refresh_from_db()
    assert (pending.status, pending.late_ms) == (RunStatus.RUNNING, 6)

    # A manual run: null while queued, the start minus its request time once taken.
    with time_machine.travel(at("2020-05-01T10:07:13.100+00:00"), tick=False):
        manual = trigger_run(missed.id)
    assert manual.late_ms is None
    step_at(loop, "2020-05-01T10:07:13.145+00:00", keep_running=True)
    manual.refresh_from_db()
    assert (manual.status, manual.late_ms) == (RunStatus.RUNNING, 45)

    assert all(late_ms_matches_start(r) for r in Run.objects.all())


def test_skipped_fires_prune_the_job_runs_too(settings) -> None:
    """Pruning followed recorded outcomes only: a job whose fires were mostly skipped
    (overlap) kept growing past TRAITOR_RUNS_KEPT."""
    settings.TRAITOR_RUNS_KEPT = 3
    loop = Loop()
    job = store_job(cron="* * * * * *", next_fire_at=at("2020-05-01T10:00:00+00:00"))
    step_at(loop, "2020-05-01T10:00:00+00:00")
    for second in range(1, 11):  # the 10:00:00 run goes on: ten skipped fires
        step_at(loop, f"2020-05-01T10:00:{second:02}+00:00", keep_running=True)
    # The newest three (skipped) and the run still going, which pruning never deletes.
    assert fires(job) == [
        ("2020-05-01T10:00:00+00:00", "running"),
        ("2020-05-01T10:00:08+00:00", "skipped"),
        ("2020-05-01T10:00:09+00:00", "skipped"),
        ("2020-05-01T10:00:10+00:00", "skipped"),
    ]


def test_allow_overlap_runs_at_most_the_cap_of_runs_of_a_job_at_once() -> None:
    loop = Loop(max_runs_per_job=3)
    job = store_job(
        cron="* * * * * *", allow_overlap=True, next_fire_at=at("2020-05-01T10:00:00+00:00")
    )
    step_at(loop, "2020-05-01T10:00:00+00:00")
    for second in range(1, 5):  # every run outlasts the period
        step_at(loop, f"2020-05-01T10:00:0{second}+00:00", keep_running=True)
    assert [s for _, s in fires(job)] == ["running"] * 3 + ["skipped"] * 2
    assert len(loop.started) == 3
    capped = Run.objects.filter(job=job, status=RunStatus.SKIPPED).first()
    assert capped.error == (
        "skipped: the cap of 3 runs of this job going at once was reached (allowOverlap); "
        "raise TRAITOR_MAX_RUNS_PER_JOB to allow more"
    )
    # One ends: the next fire runs again.
    Run.objects.filter(job=job, scheduled_for=at("2020-05-01T10:00:00+00:00")).update(
        status=RunStatus.SUCCEEDED
    )
    step_at(loop, "2020-05-01T10:00:05+00:00", keep_running=True)
    assert fires(job)[-1] == ("2020-05-01T10:00:05+00:00", "running")


def test_the_node_takes_the_cap_from_the_setting(settings) -> None:
    from scheduler.node import dispatch_settings

    settings.TRAITOR_MAX_RUNS_PER_JOB = 7
    assert dispatch_settings("n").max_runs_per_job == 7
