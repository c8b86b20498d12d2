"""Cron math: parse, validate and iterate cron expressions. Pure: no Django import.

Time always comes in as an argument and goes out as an aware UTC datetime; the host's own
zone never matters. The rules are DESIGN.md's "Scheduling semantics":

- 5 fields (Unix), 6 (seconds first, as Quartz and Spring) or 7 (seconds first, year last),
  and the macros `@yearly @annually @monthly @weekly @daily @midnight @hourly`.
- Unix day-of-week numbers in every form (0 and 7 Sunday), Quartz letters `L W LW L-n nL n#k`.
- Day-of-month and day-of-week are OR-ed when both are restricted, AND-ed when either
  field's text starts with `*` (or is `?`), as cronie and Vixie cron do.
- DST: candidates are wall-clock times in the job's zone. A *fixed-time* schedule (minute and
  hour fields do not start with `*`) fires once at the end of a spring-forward gap for wall
  times inside it, and only at the first pass of a repeated (fall-back) wall time. A schedule
  whose minute or hour field starts with `*` follows the real clock: nothing inside a gap,
  both passes of a repeated hour.

The fields are computed here rather than by croniter: croniter 7 gets 14 of the reference
cases wrong (fall-back doubles, `#` forcing AND, `JAN-JAN`, `31W`, no `LW`/`L-n`/`nL`...),
and a table lookup per field is several times faster than its iteration.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.cron_fields import (
    DOM,
    DOW,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    YEAR,
    CronError,
    DaySpecials,
    parse_field,
)

__all__ = ["CronError", "CronSchedule", "next_fires", "parse", "validate", "zone"]

_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1)
# Fires are computed from 1970 on (Unix time, and Quartz's first year); an earlier instant
# is treated as this one. Without a year field the search ends with year 9998, well inside
# what datetime can hold after adding any UTC offset.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_YEAR = 9998

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Zone files that exist on disk but are not a place: `localtime` is the host's own zone,
# which must never decide when a job runs.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """The IANA zone called `name`, or CronError naming the bad zone."""
    if isinstance(name, ZoneInfo):
        return name
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    bad = CronError(
        f"timezone: unknown time zone {name!r}: use an IANA name such as 'UTC', "
        "'Europe/Paris' or 'America/New_York'",
        field="timezone",
    )
    if not name or name in _NOT_ZONES or name.startswith(("posix/", "right/")):
        raise bad
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise bad from None


def _has_fixed_offset(tz: ZoneInfo) -> bool:
    # Etc/* zones (Etc/UTC, Etc/GMT+5, ...) and UTC never change offset: no DST work needed.
    key = tz.key or ""
    return key in ("UTC", "GMT", "Zulu", "Universal", "UCT", "Greenwich") or key.startswith("Etc/")


@dataclass(frozen=True, eq=False)
class CronSpec:
    """A parsed expression, independent of the zone. Values are sorted tuples."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...] | None  # None: any year
    dom: frozenset[int]
    dow: frozenset[int]  # Unix weekdays 0-6
    specials: DaySpecials
    # OR the day fields (cronie) unless either text starts with '*' or is '?'.
    days_or: bool
    dom_any: bool
    dow_any: bool
    # Fixed-time schedules get cronie's DST treatment; `*` minute/hour follow the clock.
    fixed_time: bool
    dom_text: str
    dow_text: str
    month_text: str
    year_text: str | None
    # (Unix weekday of the 1st, month length) -> matching days; 7 x 4 keys at most.
    _days_cache: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)

    def days_in(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """Matching days of a month whose 1st falls on `first_weekday` (0 = Sunday)."""
        key = (first_weekday, length)
        days = self._days_cache.get(key)
        if days is None:
            days = self._compute_days(first_weekday, length)
            self._days_cache[key] = days
        return days

    def _compute_days(self, first: int, length: int) -> tuple[int, ...]:
        def weekday(day: int) -> int:
            return (first + day - 1) % 7

        sp = self.specials
        by_dom = {d for d in self.dom if d <= length}
        for n in sp.last_minus:
            if length - n >= 1:
                by_dom.add(length - n)
        if sp.last_weekday:
            last = length
            # Saturday -> Friday before, Sunday -> Friday two days before.
            last -= {6: 1, 0: 2}.get(weekday(last), 0)
            by_dom.add(last)
        for n in sp.nearest_weekday:
            if n > length:
                continue  # Quartz: a month without day n has no fire for nW
            wd = weekday(n)
            if wd == 6:  # Saturday: the Friday before, unless that leaves the month
                by_dom.add(n - 1 if n > 1 else n + 2)
            elif wd == 0:  # Sunday: the Monday after, unless that leaves the month
                by_dom.add(n + 1 if n < length else n - 2)
            else:
                by_dom.add(n)

        by_dow = {d for d in range(1, length + 1) if weekday(d) in self.dow}
        for wd in sp.last_of_weekday:
            first_hit = 1 + (wd - first) % 7
            by_dow.add(first_hit + 7 * ((length - first_hit) // 7))
        for wd, k in sp.nth_weekday:
            day = 1 + (wd - first) % 7 + 7 * (k - 1)
            if day <= length:
                by_dow.add(day)

        if self.days_or:
            days = by_dom | by_dow
        else:
            days = by_dom & by_dow
        return tuple(sorted(days))

    def month_days(self, year: int, month: int) -> tuple[int, ...]:
        first, length = calendar.monthrange(year, month)
        return self.days_in((first + 1) % 7, length)

    def first_time_at_or_after(self, h: int, m: int, s: int) -> tuple[int, int, int] | None:
        """The earliest allowed (hour, minute, second) not before the one given."""
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        i = bisect_left(hours, h)
        if i < len(hours) and hours[i] == h:
            j = bisect_left(minutes, m)
            if j < len(minutes) and minutes[j] == m:
                k = bisect_left(seconds, s)
                if k < len(seconds):
                    return h, m, seconds[k]
                j += 1
            if j < len(minutes):
                return h, minutes[j], seconds[0]
            i += 1
        if i < len(hours):
            return hours[i], minutes[0], seconds[0]
        return None

    def next_wall_time(self, start: datetime) -> datetime | None:
        """The first matching wall-clock time at or after naive `start` (whole seconds)."""
        year, month, day = start.year, start.month, start.day
        clock: tuple[int, int, int] | None = (start.hour, start.minute, start.second)
        years = self.years
        months = self.months
        while True:
            if years is not None:
                yi = bisect_left(years, year)
                if yi == len(years):
                    return None
                if years[yi] != year:
                    year, month, day, clock = years[yi], 1, 1, None
            elif year > _LAST_YEAR:
                return None
            mi = bisect_left(months, month)
            if mi == len(months):
                year, month, day, clock = year + 1, 1, 1, None
                continue
            if months[mi] != month:
                month, day, clock = months[mi], 1, None
            days = self.month_days(year, month)
            di = bisect_left(days, day)
            if di < len(days) and days[di] != day:
                clock = None
            while di < len(days):
                if clock is None:
                    return datetime(
                        year, month, days[di], self.hours[0], self.minutes[0], self.seconds[0]
                    )
                found = self.first_time_at_or_after(*clock)
                if found is not None:
                    return datetime(year, month, days[di], *found)
                di += 1
                clock = None
            month, day, clock = month + 1, 1, None
            if month > 12:
                year, month = year + 1, 1

    def never_fires_reason(self) -> CronError | None:
        """Why no month of any year can hold a matching day, or None if some can."""
        for month in self.months:
            lengths = (28, 29) if month == 2 else (calendar.monthrange(2001, month)[1],)
            for length in lengths:
                for first in range(7):
                    if self.days_in(first, length):
                        return None
        where = "in any month" if self.month_text == "*" else f"in month {self.month_text!r}"
        dom_set = self.dom_text not in ("*", "?")
        dow_set = self.dow_text not in ("*", "?")
        if dom_set and dow_set:
            how = (
                "either"
                if self.days_or
                else "both (a day field starting with '*' makes both required)"
            )
            return CronError(
                f"cron: day-of-month {self.dom_text!r} and day-of-week {self.dow_text!r} never "
                f"match a day {where} ({how}), so the expression would never fire",
                field="day-of-month",
            )
        if dom_set:
            return CronError(
                f"cron: day-of-month {self.dom_text!r} never falls {where}, "
                "so the expression would never fire",
                field="day-of-month",
            )
        return CronError(
            f"cron: day-of-week {self.dow_text!r} never falls {where}, "
            "so the expression would never fire",
            field="day-of-week",
        )


@lru_cache(maxsize=4096)
def compile_expression(expr: str) -> CronSpec:
    """Parse the text of an expression (any zone); CronError names the bad field."""
    text = " ".join(expr.split())
    if not text:
        raise CronError(
            "cron: the expression is empty: write 5 fields such as '*/5 * * * *'", field="cron"
        )
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            raise CronError(
                "cron: @reboot is not supported: a Traitor cluster has no single boot. "
                "Use a delay job, or POST /api/trigger to run a job now",
                field="cron",
            )
        if macro not in MACROS:
            raise CronError(
                f"cron: unknown macro {text!r}: use @yearly, @annually, @monthly, @weekly, "
                "@daily, @midnight or @hourly",
                field="cron",
            )
        text = MACROS[macro]
    parts = text.upper().split(" ")
    if len(parts) == 5:
        parts.insert(0, "0")
    if len(parts) == 6:
        parts.append("*")
        year_text = None
    elif len(parts) == 7:
        year_text = parts[6]
    else:
        raise CronError(
            f"cron: expected 5 fields (minute hour day-of-month month day-of-week), 6 (seconds "
            f"first) or 7 (seconds first, year last), but got {len(parts)}",
            field="cron",
        )
    sec_text, min_text, hour_text, dom_text, month_text, dow_text, year_part = parts
    seconds, _ = parse_field(SECOND, sec_text)
    minutes, _ = parse_field(MINUTE, min_text)
    hours, _ = parse_field(HOUR, hour_text)
    dom, dom_specials = parse_field(DOM, dom_text)
    months, _ = parse_field(MONTH, month_text)
    dow, dow_specials = parse_field(DOW, dow_text)
    years, _ = parse_field(YEAR, year_part)
    specials = DaySpecials(
        last_minus=dom_specials.last_minus,
        last_weekday=dom_specials.last_weekday,
        nearest_weekday=dom_specials.nearest_weekday,
        last_of_weekday=dow_specials.last_of_weekday,
        nth_weekday=dow_specials.nth_weekday,
    )
    dom_any = dom_text.startswith("*") or dom_text == "?"
    dow_any = dow_text.startswith("*") or dow_text == "?"
    spec = CronSpec(
        text=" ".join(expr.split()),
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=tuple(sorted(months)),
        years=None if year_part == "*" else tuple(sorted(years)),
        dom=dom,
        dow=dow,
        specials=specials,
        days_or=not (dom_any or dow_any),
        dom_any=dom_any,
        dow_any=dow_any,
        fixed_time=not (min_text.startswith("*") or hour_text.startswith("*")),
        dom_text=dom_text,
        dow_text=dow_text,
        month_text=month_text,
        year_text=year_text,
    )
    reason = spec.never_fires_reason()
    if reason is not None:
        raise reason
    if spec.years is not None and spec.next_wall_time(datetime(spec.years[0], 1, 1)) is None:
        raise CronError(
            f"cron: year {year_text!r} holds no matching day, so the expression would never fire",
            field="year",
        )
    return spec


def _to_epoch(naive_utc: datetime) -> int:
    return (naive_utc - _EPOCH) // _SECOND


@dataclass(frozen=True)
class CronSchedule:
    """An expression bound to a zone. Immutable and cheap to keep one per job."""

    expr: str
    tz: ZoneInfo
    spec: CronSpec = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    # The zone's constant offset when it has no transitions (UTC, Etc/*): no DST work then.
    fixed_offset: timedelta | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.spec is None:
            object.__setattr__(self, "spec", compile_expression(self.expr))
        if _has_fixed_offset(self.tz):
            object.__setattr__(self, "fixed_offset", self.tz.utcoffset(datetime(2000, 1, 1)))

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire strictly after `instant` (aware), as aware UTC; None if no more."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise TypeError("next_after needs an aware datetime (with a time zone)")
        try:
            u = instant.astimezone(UTC)
        except OverflowError:
            # Within a day of datetime's limits: nothing fires that late, and a date that
            # early is before EARLIEST anyway.
            if instant.year > 1970:
                return None
            u = datetime.min.replace(tzinfo=UTC)
        if u < EARLIEST:
            u = EARLIEST - timedelta(microseconds=1)
        elif u.year > _LAST_YEAR:
            return None
        spec = self.spec
        tz = self.tz

        offset = self.fixed_offset
        if offset is not None:
            wall = u.replace(tzinfo=None) + offset
            start = wall.replace(microsecond=0) + _SECOND
            found = spec.next_wall_time(start)
            if found is None:
                return None
            return (found - offset).replace(tzinfo=UTC)

        local = u.astimezone(tz)
        wall = local.replace(tzinfo=None)
        start = wall.replace(microsecond=0) + _SECOND
        if local.fold == 0:
            before = wall.replace(tzinfo=tz).utcoffset()
            after = wall.replace(tzinfo=tz, fold=1).utcoffset()
            if before is not None and after is not None and before > after:
                return self._next_from_first_pass(u, wall, start, before, after)
        return self._scan(u, start)

    def _scan(self, u: datetime, start: datetime) -> datetime | None:
        """First fire > u among wall times >= start, when no earlier wall time can give one."""
        spec, tz = self.spec, self.tz
        while True:
            wall = spec.next_wall_time(start)
            if wall is None:
                return None
            aware = wall.replace(tzinfo=tz)
            before = aware.utcoffset()
            after = aware.replace(fold=1).utcoffset()
            assert before is not None and after is not None
            if before == after:
                fire = (wall - before).replace(tzinfo=UTC)
                if fire > u:
                    return fire
                # Unreachable with sane zone data (a wall time after u's maps after u); move
                # on rather than trust that.
                start = wall + _SECOND
                continue
            if before < after:
                # Spring-forward gap: wall time does not exist.
                transition = self._transition(wall - after, wall - before)
                if spec.fixed_time and transition > u:
                    # cronie: a fixed-time job skipped by the jump runs right after it, once.
                    return transition
                start = (transition + after).replace(tzinfo=None)
                continue
            # Fall-back overlap: `before` is the first pass, `after` the second.
            first_pass = (wall - before).replace(tzinfo=UTC)
            if first_pass > u:
                return first_pass
            second_pass = (wall - after).replace(tzinfo=UTC)
            if not spec.fixed_time and second_pass > u:
                return second_pass
            # Fixed-time and already past both: skip the rest of the repeated hour at once.
            transition = self._transition(wall - before, wall - after)
            start = max((transition + before).replace(tzinfo=None), wall + _SECOND)

    def _next_from_first_pass(
        self,
        u: datetime,
        wall: datetime,
        start: datetime,
        before: timedelta,
        after: timedelta,
    ) -> datetime | None:
        """`u` lies in the first pass of a repeated hour: later first-pass times come first,
        then (clock-following schedules only) the second pass from the start of the overlap."""
        spec = self.spec
        transition = self._transition(u.replace(tzinfo=None), wall - after)
        overlap_start = (transition + after).replace(tzinfo=None)
        overlap_end = (transition + before).replace(tzinfo=None)
        candidate = spec.next_wall_time(start)
        if candidate is not None and candidate < overlap_end:
            return (candidate - before).replace(tzinfo=UTC)
        if not spec.fixed_time:
            again = spec.next_wall_time(overlap_start)
            if again is not None and again < overlap_end:
                return (again - after).replace(tzinfo=UTC)
        return self._scan(u, max(start, overlap_end))

    def _transition(self, lo: datetime, hi: datetime) -> datetime:
        """The UTC instant in (lo, hi] (naive UTC) where the zone's offset changes."""
        tz = self.tz
        low, high = _to_epoch(lo), _to_epoch(hi)
        first = datetime.fromtimestamp(low, tz).utcoffset()
        while high - low > 1:
            mid = (low + high) // 2
            if datetime.fromtimestamp(mid, tz).utcoffset() == first:
                low = mid
            else:
                high = mid
        return (_EPOCH + timedelta(seconds=high)).replace(tzinfo=UTC)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        """Up to `count` fires strictly after `after`, in order; fewer if the schedule ends."""
        fires: list[datetime] = []
        current = after
        while len(fires) < count:
            fire = self.next_after(current)
            if fire is None:
                break
            fires.append(fire)
            current = fire
        return fires


def parse(expr: str, tz: str | ZoneInfo = "UTC") -> CronSchedule:
    """Parse `expr` for zone `tz`; raises CronError with a message naming the bad field."""
    spec = compile_expression(expr)
    return CronSchedule(spec.text, zone(tz), spec)


def validate(expr: str, tz: str | ZoneInfo, now: datetime) -> CronSchedule:
    """Parse and check that the expression fires at least once after `now`."""
    schedule = parse(expr, tz)
    if schedule.next_after(now) is None:
        spec = schedule.spec
        when = now.astimezone(schedule.tz).isoformat(timespec="seconds")
        if spec.years is not None:
            raise CronError(
                f"cron: year {spec.year_text!r} leaves no fire after {when}, so the expression "
                "would never fire again: use a later year or '*'",
                field="year",
            )
        raise CronError(f"cron: the expression never fires after {when}", field="cron")
    return schedule


def next_fires(expr: str, tz: str | ZoneInfo, after: datetime, count: int) -> list[datetime]:
    """The next `count` fires of `expr` in zone `tz` strictly after `after`, as aware UTC."""
    return parse(expr, tz).next_fires(after, count)
