"""Cron math: parse, validate and iterate cron expressions. Pure: no Django import.

First cut: a thin croniter wrapper with the final interface. The cron engine issue replaces
the inside (Quartz fields, Unix day-of-week numbers, DST rules) without changing callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


class CronError(ValueError):
    """An expression that cannot be accepted; `str()` is a sentence for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or CronError naming the bad zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'",
            field="timezone",
        ) from None


@dataclass(frozen=True)
class CronSchedule:
    expr: str
    tz: ZoneInfo

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire strictly after `instant` (aware), as aware UTC; None if no more."""
        fields = self.expr.split()
        it = croniter(
            self.expr,
            instant.astimezone(self.tz),
            second_at_beginning=len(fields) >= 6,
        )
        try:
            fire = it.get_next(datetime)
        except Exception:
            return None
        return fire.astimezone(timezone.utc)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        fires: list[datetime] = []
        current = after
        while len(fires) < count:
            fire = self.next_after(current)
            if fire is None:
                break
            fires.append(fire)
            current = fire
        return fires


def parse(expr: str, tz: str = "UTC") -> CronSchedule:
    """Parse `expr` for zone `tz`; raises CronError with a message naming the bad field."""
    text = " ".join(expr.split())
    if not text:
        raise CronError("cron: the expression is empty", field="cron")
    fields = text.split()
    try:
        croniter(text, second_at_beginning=len(fields) >= 6)
    except Exception as exc:
        raise CronError(f"cron: {exc}", field="cron") from None
    return CronSchedule(text, zone(tz))


def validate(expr: str, tz: str, now: datetime) -> CronSchedule:
    """Parse and check that the expression fires at least once after `now`."""
    schedule = parse(expr, tz)
    if schedule.next_after(now) is None:
        raise CronError(f"cron: {expr!r} never fires again", field="cron")
    return schedule


def next_fires(expr: str, tz: str, after: datetime, count: int) -> list[datetime]:
    return parse(expr, tz).next_fires(after, count)
