"""Property tests: generated expressions against an independent, second-by-second oracle.

Each generated field carries, beside its text, a predicate built straight from the
definitions (positions on a cycle, calendar arithmetic), not from the engine's tables. The
oracle decides whether one UTC second is a fire, applying DESIGN.md's DST rules literally:
a matching wall time fires; a fixed-time schedule skips the second pass of a repeated hour
and fires at the end of a gap for the wall times the gap swallowed.
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import cron

SECOND = timedelta(seconds=1)
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata
    "Australia/Lord_Howe",  # 30-minute shift
    "America/Sao_Paulo",  # 2018: transitions at midnight, the overlap crosses the date
    "Asia/Kolkata",  # +05:30, no DST
]
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DAYS = "SUN MON TUE WED THU FRI SAT".split()


def transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """Instants where the zone's offset changes in `year` (15-minute scan, then bisection)."""
    found = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    while t.year == year:
        if (t + step).astimezone(tz).utcoffset() != t.astimezone(tz).utcoffset():
            lo, hi = t, t + step
            while hi - lo > SECOND:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t += step
    return found


TRANSITIONS = {
    name: [t for year in (2018, 2024) for t in transitions(ZoneInfo(name), year)] for name in ZONES
}


# --- Generated fields: (text, predicate) --------------------------------------------------


@dataclass(frozen=True)
class Item:
    text: str
    test: Callable[[int], bool]


def cyclic(lo: int, hi: int) -> Callable[[int, int, int], Callable[[int], bool]]:
    """`a-b/s` on the cycle lo..hi: v matches when its distance from a along the cycle is
    within the range's length and a multiple of s."""
    size = hi - lo + 1

    def make(a: int, b: int, s: int) -> Callable[[int], bool]:
        def test(v: int) -> bool:
            pos = (v - a) % size
            return pos <= (b - a) % size and pos % s == 0

        return test

    return make


def weekday_ranges(a: int, b: int, s: int) -> Callable[[int], bool]:
    """Day-of-week `a-b/s` over 0-7: a forward range counts 0..7 as numbers (5-7/2 is Fri,
    Sun); a range that wraps goes round the 7-day week, where 7 is Sunday again."""
    if a <= b:
        return lambda v: v in range(a, b + 1, s)
    return lambda v: (v - a) % 7 <= (b - a) % 7 and (v - a) % 7 % s == 0


@st.composite
def plain_items(draw: st.DrawFn, lo: int, hi: int, names: list[str] | None = None) -> Item:
    def show(v: int) -> str:
        if names and draw(st.booleans()):
            word = names[v - lo]
            return draw(st.sampled_from([word, word.lower(), word.title()]))
        return str(v)

    make = weekday_ranges if (lo, hi) == (0, 7) else cyclic(lo, hi)
    kind = draw(st.sampled_from(["value", "range", "star-step", "start-step", "range-step"]))
    a = draw(st.integers(lo, hi))
    if kind == "value":
        return Item(show(a), lambda v: v == a)
    s = draw(st.integers(1, hi))  # steps up to the field's highest value are allowed
    if kind == "star-step":
        return Item(f"*/{s}", make(lo, hi, s))
    if kind == "start-step":
        return Item(f"{a}/{s}", make(a, hi, s))
    b = draw(st.integers(lo, hi))
    if kind == "range":
        return Item(f"{show(a)}-{show(b)}", make(a, b, 1))
    return Item(f"{show(a)}-{show(b)}/{s}", make(a, b, s))


@st.composite
def simple_field(draw: st.DrawFn, lo: int, hi: int, names: list[str] | None = None) -> Item:
    if draw(st.integers(0, 3)) == 0:
        return Item("*", lambda v: True)
    items = draw(st.lists(plain_items(lo, hi, names), min_size=1, max_size=3))
    return Item(",".join(i.text for i in items), lambda v: any(i.test(v) for i in items))


DayTest = Callable[[date], bool]


def month_length(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def unix_weekday(d: date) -> int:
    return (d.weekday() + 1) % 7


@st.composite
def dom_item(draw: st.DrawFn) -> tuple[str, DayTest]:
    kind = draw(st.sampled_from(["plain", "plain", "L", "L-n", "LW", "nW"]))
    if kind == "plain":
        item = draw(plain_items(1, 31))
        return item.text, lambda d: item.test(d.day)
    if kind == "L":
        return "L", lambda d: d.day == month_length(d)
    if kind == "L-n":
        n = draw(st.integers(0, 30))
        return f"L-{n}", lambda d: d.day == month_length(d) - n
    if kind == "LW":

        def last_weekday(d: date) -> bool:
            last = date(d.year, d.month, month_length(d))
            while last.weekday() >= 5:
                last -= timedelta(days=1)
            return d == last

        return "LW", last_weekday
    n = draw(st.integers(1, 31))

    def nearest_weekday(d: date) -> bool:
        if n > month_length(d):
            return False
        target = date(d.year, d.month, n)
        if target.weekday() == 5:  # Saturday
            target += timedelta(days=-1 if n > 1 else 2)
        elif target.weekday() == 6:  # Sunday
            target += timedelta(days=1 if n < month_length(d) else -2)
        return d == target

    return f"{n}W", nearest_weekday


@st.composite
def dow_item(draw: st.DrawFn) -> tuple[str, DayTest]:
    kind = draw(st.sampled_from(["plain", "plain", "nL", "n#k"]))
    n = draw(st.integers(0, 7))
    shown = draw(st.sampled_from([str(n), DAYS[n % 7], DAYS[n % 7].lower()]))
    if kind == "nL":
        return f"{shown}L", lambda d: (unix_weekday(d) == n % 7 and d.day + 7 > month_length(d))
    if kind == "n#k":
        k = draw(st.integers(1, 5))
        return f"{shown}#{k}", lambda d: unix_weekday(d) == n % 7 and (d.day - 1) // 7 + 1 == k
    item = draw(plain_items(0, 7, DAYS + ["SUN"]))
    # 7 is Sunday: a weekday matches when it or (for Sunday) 7 is among the values.
    return item.text, lambda d: item.test(unix_weekday(d)) or (
        unix_weekday(d) == 0 and item.test(7)
    )


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, DayTest]:
    def field(item_strategy: st.SearchStrategy) -> tuple[str, DayTest | None]:
        choice = draw(st.integers(0, 5))
        if choice == 0:
            return "*", None
        if choice == 1:
            return "?", None
        items = draw(st.lists(item_strategy, min_size=1, max_size=2))
        return ",".join(t for t, _ in items), lambda d: any(f(d) for _, f in items)

    dom_text, dom_test = field(dom_item())
    dow_text, dow_test = field(dow_item())
    if dom_text.startswith("*") or dom_text == "?" or dow_text.startswith("*") or dow_text == "?":

        def both(d: date) -> bool:
            return (dom_test is None or dom_test(d)) and (dow_test is None or dow_test(d))

        return dom_text, dow_text, both
    assert dom_test is not None and dow_test is not None
    return dom_text, dow_text, lambda d: dom_test(d) or dow_test(d)


@dataclass(frozen=True)
class Generated:
    expr: str
    second: Item
    minute: Item
    hour: Item
    month: Item
    year: Item
    day: DayTest
    fixed_time: bool

    def matches(self, wall: datetime) -> bool:
        return (
            self.second.test(wall.second)
            and self.minute.test(wall.minute)
            and self.hour.test(wall.hour)
            and self.month.test(wall.month)
            and self.year.test(wall.year)
            and self.day(wall.date())
        )


@st.composite
def expressions(draw: st.DrawFn, dense: bool = False) -> Generated:
    fields = draw(st.sampled_from([5, 6, 7]))
    second = draw(simple_field(0, 59)) if fields > 5 else Item("0", lambda v: v == 0)
    minute = draw(simple_field(0, 59))
    hour = draw(st.sampled_from([Item("*", lambda v: True), draw(simple_field(0, 23))]))
    if dense:
        dom_text, dow_text, day = "*", "*", lambda d: True
        month = Item("*", lambda v: True)
    else:
        dom_text, dow_text, day = draw(day_fields())
        month = draw(simple_field(1, 12, MONTHS))
    year = Item("*", lambda v: True)
    if fields == 7 and not dense and draw(st.booleans()):
        items = draw(st.lists(year_items(), min_size=1, max_size=3))
        year = Item(",".join(i.text for i in items), lambda v: any(i.test(v) for i in items))
    texts = [minute.text, hour.text, dom_text, month.text, dow_text]
    if fields > 5:
        texts.insert(0, second.text)
    if fields == 7:
        texts.append(year.text)
    fixed = not (minute.text.startswith("*") or hour.text.startswith("*"))
    return Generated(" ".join(texts), second, minute, hour, month, year, day, fixed)


@st.composite
def year_items(draw: st.DrawFn) -> Item:
    """Years near the generated instants; the field itself spans 1970-2099 and never wraps."""
    a = draw(st.integers(2014, 2040))
    b = draw(st.integers(a, 2045))
    s = draw(st.integers(1, 12))
    return draw(
        st.sampled_from(
            [
                Item(str(a), lambda v: v == a),
                Item(f"{a}-{b}", lambda v: a <= v <= b),
                Item(f"{a}/{s}", lambda v: v >= a and (v - a) % s == 0),
                Item(f"{a}-{b}/{s}", lambda v: a <= v <= b and (v - a) % s == 0),
                Item(f"*/{s}", lambda v: (v - 1970) % s == 0),
            ]
        )
    )


@st.composite
def instants(draw: st.DrawFn, tz_name: str) -> datetime:
    near = TRANSITIONS[tz_name]
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return base + timedelta(seconds=draw(st.integers(-3 * 3600, 3 * 3600)))
    seconds = draw(st.integers(0, 20 * 365 * 86400))
    micro = draw(st.sampled_from([0, 0, 1, 999_999]))
    return datetime(2016, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micro)


# --- The oracle -----------------------------------------------------------------------------


def is_fire(g: Generated, tz: ZoneInfo, s: datetime) -> bool:
    """Whether UTC second `s` is a fire of `g` in zone `tz`, by DESIGN.md's rules."""
    local = s.astimezone(tz)
    wall = local.replace(tzinfo=None)
    if g.matches(wall) and (not g.fixed_time or local.fold == 0):
        return True
    if g.fixed_time:
        jump = local.utcoffset() - (s - SECOND).astimezone(tz).utcoffset()
        if jump > timedelta(0):  # `s` ends a gap: the skipped wall times fire here, once
            skipped = wall - jump
            while skipped < wall:
                if g.matches(skipped):
                    return True
                skipped += SECOND
    return False


def oracle_fires(g: Generated, tz: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Every fire in (after, until], checking each whole UTC second."""
    s = after.replace(microsecond=0) + SECOND
    found = []
    while s <= until:
        if is_fire(g, tz, s):
            found.append(s)
        s += SECOND
    return found


# --- Properties -----------------------------------------------------------------------------

# TRAITOR_CRON_EXAMPLES=5000 for a long hunt; the default keeps the suite fast.
EXAMPLES = int(os.environ.get("TRAITOR_CRON_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def cases(draw: st.DrawFn, dense: bool = False) -> tuple[Generated, str, datetime]:
    g = draw(expressions(dense=dense))
    tz = draw(st.sampled_from(ZONES))
    return g, tz, draw(instants(tz))


@SETTINGS
@given(cases())
def test_every_fire_matches_and_fires_strictly_increase(case: tuple) -> None:
    g, tz_name, start = case
    tz = ZoneInfo(tz_name)
    try:
        schedule = cron.parse(g.expr, tz_name)
    except cron.CronError as error:
        # Only an expression that can never fire may be refused: check 28 years of days
        # (every weekday/leap pattern) inside the year field.
        assert "never" in str(error) or "holds no matching day" in str(error), (g.expr, error)
        day = date(2015, 1, 1)
        while day.year < 2043:
            assert not (g.month.test(day.month) and g.year.test(day.year) and g.day(day)), (
                g.expr,
                day,
            )
            day += timedelta(days=1)
        return
    fires = schedule.next_fires(start, 5)
    previous = start
    for fire in fires:
        assert fire.tzinfo is UTC and fire.microsecond == 0
        assert fire > previous
        assert is_fire(g, tz, fire), (g.expr, tz_name, start, fire)
        previous = fire
    if len(fires) < 5:
        # The schedule ended: only a year field can end it, and no later day matches (checked
        # when some allowed hour lies outside 00-03, where these zones' transitions are).
        assert g.year.text != "*"
        if any(g.hour.test(h) for h in range(4, 24)):
            day = (fires[-1] if fires else start).astimezone(tz).date() + timedelta(days=1)
            while day.year <= 2040:
                assert not (g.month.test(day.month) and g.year.test(day.year) and g.day(day))
                day += timedelta(days=1)


@SETTINGS
@given(cases(dense=True))
def test_no_fire_is_skipped_second_by_second(case: tuple) -> None:
    """Every-day expressions: the fires within two hours are exactly the seconds the oracle
    finds, checking each one."""
    g, tz_name, start = case
    tz = ZoneInfo(tz_name)
    schedule = cron.parse(g.expr, tz_name)
    fires = schedule.next_fires(start, 8)
    assert len(fires) == 8
    horizon = min(fires[-1], start + timedelta(hours=2))
    expected = oracle_fires(g, tz, start, horizon)
    assert [f for f in fires if f <= horizon] == expected, (g.expr, tz_name, start)


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None)
@given(
    expressions(),
    st.sampled_from(ZONES),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
def test_an_accepted_expression_never_raises_later(g: Generated, tz: str, when: datetime) -> None:
    try:
        schedule = cron.parse(g.expr, tz)
    except cron.CronError:
        return
    fire = schedule.next_after(when)
    assert fire is None or fire > when


@pytest.mark.parametrize("tz", ZONES)
def test_every_second_across_both_transitions_of_a_year(tz: str) -> None:
    """`* * * * * *` fires once per real second through every transition."""
    schedule = cron.parse("* * * * * *", tz)
    for transition in TRANSITIONS[tz]:
        start = transition - timedelta(seconds=3)
        assert schedule.next_fires(start, 6) == [start + n * SECOND for n in range(1, 7)]
