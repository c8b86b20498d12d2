"""The dispatch decisions, on plain values: no database, no clock of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler import cron
from scheduler.decisions import (
    Action,
    FireFacts,
    decide_fire,
    lateness_ms,
    rewound_next_fire,
    sleep_seconds,
)

GRACE = timedelta(seconds=5)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def every_minute(tz: str = "UTC"):
    return cron.parse("* * * * *", tz).next_after


def facts(next_fire_at: datetime, **overrides: object) -> FireFacts:
    values: dict[str, object] = {
        "is_delay": False,
        "next_fire_at": next_fire_at,
        "catch_up": True,
        "allow_overlap": False,
        "previous_run_going": False,
    }
    values.update(overrides)
    return FireFacts(**values)  # type: ignore[arg-type]


def test_a_fire_that_has_not_come_is_not_due() -> None:
    stored = at("2018-02-01T08:00:00+00:00")
    assert (
        decide_fire(facts(stored), at("2018-02-01T07:59:59.999+00:00"), every_minute(), GRACE)
        is None
    )


def test_an_on_time_fire_runs_and_moves_to_the_next_tick() -> None:
    stored = at("2018-02-01T08:00:00+00:00")
    decision = decide_fire(
        facts(stored), at("2018-02-01T08:00:00.004+00:00"), every_minute(), GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.scheduled_for == stored
    assert decision.late_ms == 4
    assert decision.missed is False
    assert decision.next_fire_at == at("2018-02-01T08:01:00+00:00")


def test_c84_a_long_downtime_gives_one_late_fire_then_the_schedule() -> None:
    # Stopped at 14:56:30 with 14:57 stored; restarted at 15:01:30 (five ticks missed).
    stored = at("2015-11-24T14:57:00+08:00")
    now = at("2015-11-24T15:01:30+08:00")
    decision = decide_fire(facts(stored), now, every_minute("Asia/Shanghai"), GRACE)
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.missed is True
    assert decision.scheduled_for == stored
    assert decision.late_ms == 4 * 60_000 + 30_000
    # The next fire is the first tick after the restart, not 14:58 (no burst of replays).
    assert decision.next_fire_at == at("2015-11-24T15:02:00+08:00")


def test_a_missed_window_with_catch_up_off_is_skipped_and_the_schedule_resumes() -> None:
    stored = at("2015-11-24T14:57:00+08:00")
    now = at("2015-11-24T15:01:30+08:00")
    decision = decide_fire(facts(stored, catch_up=False), now, every_minute(), GRACE)
    assert decision is not None
    assert decision.action is Action.SKIP_MISSED
    assert decision.next_fire_at == at("2015-11-24T15:02:00+08:00")


def test_catch_up_off_still_runs_a_fire_that_is_only_a_little_late() -> None:
    stored = at("2020-01-01T00:00:00+00:00")
    decision = decide_fire(
        facts(stored, catch_up=False), stored + timedelta(seconds=4), every_minute(), GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.missed is False


def test_c85_a_delay_job_whose_instant_passed_fires_once_and_finishes() -> None:
    stored = at("2018-01-04T09:00:00+00:00")
    decision = decide_fire(
        facts(stored, is_delay=True), at("2018-01-04T09:30:00+00:00"), None, GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.missed is True
    assert decision.late_ms == 30 * 60_000
    assert decision.next_fire_at is None
    assert decision.finished is True


def test_a_delay_job_missed_with_catch_up_off_is_skipped_and_finishes() -> None:
    stored = at("2018-01-04T09:00:00+00:00")
    decision = decide_fire(
        facts(stored, is_delay=True, catch_up=False), at("2018-01-04T09:30:00+00:00"), None, GRACE
    )
    assert decision is not None
    assert decision.action is Action.SKIP_MISSED
    assert decision.finished is True


def test_a_timing_fire_is_skipped_while_the_previous_run_is_going() -> None:
    stored = at("2020-01-01T00:01:00+00:00")
    decision = decide_fire(facts(stored, previous_run_going=True), stored, every_minute(), GRACE)
    assert decision is not None
    assert decision.action is Action.SKIP_OVERLAP
    assert decision.next_fire_at == at("2020-01-01T00:02:00+00:00")


def test_allow_overlap_runs_even_while_the_previous_run_is_going() -> None:
    stored = at("2020-01-01T00:01:00+00:00")
    decision = decide_fire(
        facts(stored, previous_run_going=True, allow_overlap=True), stored, every_minute(), GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN


def test_a_delay_fire_is_never_lost_to_an_overlap() -> None:
    stored = at("2020-01-01T00:01:00+00:00")
    decision = decide_fire(
        facts(stored, is_delay=True, previous_run_going=True), stored, None, GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN


def test_c92_a_one_shot_cron_fires_once_and_then_has_no_next_fire() -> None:
    schedule = cron.parse("15 6 10 18 8 ? 2025", "Asia/Shanghai")
    stored = schedule.next_after(at("2025-08-18T10:06:00+08:00"))
    assert stored == at("2025-08-18T10:06:15+08:00")
    decision = decide_fire(
        facts(stored), stored + timedelta(milliseconds=3), schedule.next_after, GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.finished is True


def test_an_every_second_cron_a_little_late_coalesces_the_tick_it_overran() -> None:
    schedule = cron.parse("* * * * * *", "UTC")
    stored = at("2020-01-01T00:00:00+00:00")
    decision = decide_fire(
        facts(stored), at("2020-01-01T00:00:01.200+00:00"), schedule.next_after, GRACE
    )
    assert decision is not None
    assert decision.action is Action.RUN
    assert decision.next_fire_at == at("2020-01-01T00:00:02+00:00")


def test_c90_a_clock_set_back_rewinds_the_stored_fire_to_the_new_wall_clock() -> None:
    stored = at("2019-08-22T14:01:00+00:00")
    now = at("2019-08-22T02:00:00+00:00")
    assert rewound_next_fire(stored, now, every_minute()) == at("2019-08-22T02:01:00+00:00")


def test_a_stored_fire_computed_on_a_steady_clock_is_not_rewound() -> None:
    stored = at("2019-08-22T14:01:00+00:00")
    assert rewound_next_fire(stored, at("2019-08-22T14:00:10+00:00"), every_minute()) is None
    assert rewound_next_fire(stored, at("2019-08-22T14:01:30+00:00"), every_minute()) is None


def test_lateness_is_whole_milliseconds_and_never_negative() -> None:
    fire = at("2020-01-01T00:00:00+00:00")
    assert lateness_ms(fire, fire + timedelta(microseconds=12_999)) == 12
    assert lateness_ms(fire, fire - timedelta(milliseconds=3)) == 0


@pytest.mark.parametrize(
    ("earliest", "expected"),
    [
        ("2020-01-01T00:00:00.250+00:00", 0.25),
        ("2019-12-31T23:59:59+00:00", 0.0),
        ("2020-01-01T01:00:00+00:00", 30.0),
        (None, 30.0),
    ],
)
def test_the_loop_sleeps_until_the_earliest_fire_within_the_cap(earliest, expected) -> None:
    now = at("2020-01-01T00:00:00+00:00")
    assert sleep_seconds(at(earliest) if earliest else None, now, 30.0) == pytest.approx(expected)


def test_an_overlapping_job_at_its_cap_of_runs_going_is_skipped_below_it_runs() -> None:
    fire = at("2024-01-01T10:00:00+00:00")
    for going, action in ((2, Action.RUN), (3, Action.SKIP_CAP), (5, Action.SKIP_CAP)):
        overlapping = facts(
            fire, allow_overlap=True, previous_run_going=True, runs_going=going, max_runs=3
        )
        decision = decide_fire(overlapping, fire, every_minute(), GRACE)
        assert decision is not None and decision.action is action
    # No cap asked for: runs, however many go.
    uncapped = facts(fire, allow_overlap=True, previous_run_going=True, runs_going=50)
    assert decide_fire(uncapped, fire, every_minute(), GRACE).action is Action.RUN
