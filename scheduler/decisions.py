"""What the dispatcher does with a job's fire: pure functions over plain values.

No Django import and no clock of its own: the dispatcher passes `now` and the job's facts,
so every rule here is tested with plain datetimes. The dispatcher turns a `FireDecision`
into one conditional update and one run row.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

# The schedule of a timing job: the first fire strictly after an instant, or None.
NextAfter = Callable[[datetime], "datetime | None"]

# Ticks a catch-up run is counted up to (an every-second job down for a day has 86,400);
# a longer window reports this many. Counting costs ~5 us a tick, once per shared window.
MAX_COUNTED_TICKS = 100_000


class Action(enum.Enum):
    # Start the script for this fire.
    RUN = "run"
    # The previous run of this timing job is still going and the job does not allow overlap.
    SKIP_OVERLAP = "skip_overlap"
    # The fire was missed (no node was up at its instant) and the job has catch-up off.
    SKIP_MISSED = "skip_missed"
    # The job allows overlap, but as many of its runs as the cap allows are still going.
    SKIP_CAP = "skip_cap"


@dataclass(frozen=True)
class FireFacts:
    """What the dispatcher knows about a job whose stored next fire has come."""

    is_delay: bool
    # The stored next fire: the instant not yet dispatched (aware UTC).
    next_fire_at: datetime
    catch_up: bool
    allow_overlap: bool
    # A run of this job is pending or running (on any node).
    previous_run_going: bool
    # How many runs of this job are pending or running (on any node).
    runs_going: int = 0
    # Most runs of one job going at once when it allows overlap; None: no cap.
    max_runs: int | None = None


@dataclass(frozen=True)
class FireDecision:
    action: Action
    # The fire instant the run row belongs to; the unique constraint is on it.
    scheduled_for: datetime
    # How long after its instant the fire is being dispatched.
    late_ms: int
    # Later than the grace: no node was up at the instant (or the node was stalled).
    missed: bool
    # The next instant to store; None when the job has no further fire.
    next_fire_at: datetime | None
    # Ticks of the schedule this fire stands for: 1 on time; a catch-up coalesces the ticks
    # from its instant up to `now` into one run.
    missed_fires: int = 1

    @property
    def finished(self) -> bool:
        """The job never fires again: a delay job after its fire, or an exhausted cron."""
        return self.next_fire_at is None


def decide_fire(
    facts: FireFacts,
    now: datetime,
    next_after: NextAfter | None,
    grace: timedelta,
) -> FireDecision | None:
    """The decision for a job's stored fire at `now`, or None while it is not due yet.

    A timing job that missed several ticks fires once for the whole window (the stored,
    earliest missed instant) and then continues from the first tick after `now`: never
    once per missed tick, never a burst. A delay job fires once, however late.
    """
    scheduled_for = facts.next_fire_at
    if scheduled_for > now:
        return None
    late = now - scheduled_for
    missed = late > grace

    ticks = 1
    if facts.is_delay:
        following = None
    else:
        if next_after is None:
            raise ValueError("a timing job needs its schedule to find the following fire")
        # Strictly after `now`: ticks between the stored instant and now are part of this
        # fire's window (coalesced), not fires of their own.
        following = next_after(now)
        if now > scheduled_for:
            ticks = ticks_covered(next_after, scheduled_for, now)

    if missed and not facts.catch_up:
        action = Action.SKIP_MISSED
    elif facts.previous_run_going and not facts.allow_overlap and not facts.is_delay:
        # Only timing jobs pile up; a delay job has a single fire, skipping it would lose it.
        action = Action.SKIP_OVERLAP
    elif (
        facts.allow_overlap
        and not facts.is_delay
        and facts.max_runs is not None
        and facts.runs_going >= facts.max_runs
    ):
        # Overlap allowed, but not without limit: a run longer than the period would pile
        # up runs and starve the other jobs of sandbox workers.
        action = Action.SKIP_CAP
    else:
        action = Action.RUN

    return FireDecision(
        action=action,
        scheduled_for=scheduled_for,
        late_ms=lateness_ms(scheduled_for, now),
        missed=missed,
        next_fire_at=following,
        missed_fires=ticks,
    )


@lru_cache(maxsize=256)
def ticks_covered(next_after: NextAfter, scheduled_for: datetime, now: datetime) -> int:
    """The schedule's ticks from `scheduled_for` (one) up to and including `now`, at most
    MAX_COUNTED_TICKS. Cached: a thousand jobs on one schedule share one missed window."""
    count = 1
    tick = next_after(scheduled_for)
    while tick is not None and tick <= now and count < MAX_COUNTED_TICKS:
        count += 1
        tick = next_after(tick)
    return count


def lateness_ms(scheduled_for: datetime, started_at: datetime) -> int:
    """Whole milliseconds from the fire instant to the start; never negative."""
    return max(0, (started_at - scheduled_for) // timedelta(milliseconds=1))


def rewound_next_fire(stored: datetime, now: datetime, next_after: NextAfter) -> datetime | None:
    """The corrected next fire of a timing job after the wall clock stepped back, or None.

    While the clock only moves forward a stored next fire that is still ahead is exactly
    `next_after(now)`: there is no fire between the instant it was computed from and it.
    A schedule that fires *earlier* than the stored instant therefore means the clock went
    back (the C90 case: set back 12 h, the job must follow the new wall clock, not wait
    12 h for the old instant).
    """
    if stored <= now:
        return None
    candidate = next_after(now)
    if candidate is not None and candidate < stored:
        return candidate
    return None


def sleep_seconds(earliest_fire: datetime | None, now: datetime, max_sleep: float) -> float:
    """How long the loop may sleep: until the earliest fire, at most `max_sleep`.

    The cap is a safety net for wall-clock steps (the sleep itself runs on the monotonic
    clock) and for a missed wake-up; changes wake the loop at once through `wakeup`.
    """
    if earliest_fire is None:
        return max_sleep
    seconds = (earliest_fire - now).total_seconds()
    return min(max(seconds, 0.0), max_sleep)
