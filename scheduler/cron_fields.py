"""Parsing of the fields of a cron expression into plain sets. Pure: no Django, no clock.

Each field's text becomes the set of values it allows plus, for the two day fields, the
Quartz "special" items (`L`, `L-n`, `LW`, `nW`, `nL`, `n#k`) that depend on the month and
so can only be resolved against a calendar (see `cron.CronSpec.days_in`).

Day-of-week numbers are Unix ones in every form: 0 and 7 are Sunday, 1 Monday … 6 Saturday.
"""

from __future__ import annotations

from dataclasses import dataclass


class CronError(ValueError):
    """An expression that cannot be accepted; `str()` is a sentence for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class Field:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    # The first name stands for this number (JAN = 1, SUN = 0).
    names_start: int = 0

    def allowed(self) -> str:
        extra = ""
        if self is DOW:
            extra = " (0 and 7 are Sunday, 1 is Monday) or SUN-SAT"
        elif self is MONTH:
            extra = " or JAN-DEC"
        return f"{self.lo}-{self.hi}{extra}"


SECOND = Field("second", 0, 59)
MINUTE = Field("minute", 0, 59)
HOUR = Field("hour", 0, 23)
DOM = Field("day-of-month", 1, 31)
MONTH = Field("month", 1, 12, MONTH_NAMES, 1)
DOW = Field("day-of-week", 0, 7, DAY_NAMES, 0)
# Quartz's range; it also keeps every fire inside what a datetime can hold.
YEAR = Field("year", 1970, 2099)


@dataclass(frozen=True)
class DaySpecials:
    """Month-dependent day items. Days are 1-based; weekdays are Unix (0 = Sunday)."""

    last_minus: tuple[int, ...] = ()  # L is L-0: the last day minus n
    last_weekday: bool = False  # LW
    nearest_weekday: tuple[int, ...] = ()  # nW
    last_of_weekday: tuple[int, ...] = ()  # nL in day-of-week
    nth_weekday: tuple[tuple[int, int], ...] = ()  # n#k in day-of-week: (weekday, k)

    def __bool__(self) -> bool:
        return bool(
            self.last_minus
            or self.last_weekday
            or self.nearest_weekday
            or self.last_of_weekday
            or self.nth_weekday
        )


def _fail(field: Field, message: str) -> CronError:
    return CronError(f"cron: {field.name} {message}", field=field.name)


def _number(field: Field, text: str, whole: str) -> int:
    """One value of the field: digits or (month, day-of-week) a three-letter name."""
    if text.isdigit() and text.isascii():
        value = int(text)
    elif text in field.names:
        value = field.names.index(text) + field.names_start
    else:
        if not text:
            raise _fail(field, f"{whole!r} is missing a number: use {field.allowed()}")
        kind = "a number or a three-letter name" if field.names else "a number"
        raise _fail(field, f"{text!r} is not {kind}: use {field.allowed()}")
    if not field.lo <= value <= field.hi:
        raise _fail(field, f"{value} is out of range ({field.lo}-{field.hi})")
    return value


def _step(field: Field, text: str, whole: str) -> int:
    if not (text.isdigit() and text.isascii()):
        raise _fail(field, f"step {text!r} in {whole!r} is not a whole number")
    step = int(text)
    # A step above the field's highest value ("*/90" minutes) is a mistake that would
    # silently run once an hour: cronie's crontab warns at that same limit, we refuse. Years
    # count from 1970, so their limit is the span.
    widest = field.hi - field.lo if field is YEAR else field.hi
    if not 1 <= step <= widest:
        raise _fail(field, f"step {step} in {whole!r} is out of range (1-{widest})")
    return step


def _expand(field: Field, first: int, last: int, step: int, whole: str) -> list[int]:
    """The values of `first-last/step`; a range whose end comes first wraps around."""
    if first <= last:
        return list(range(first, last + 1, step))
    if field is YEAR:
        raise _fail(field, f"range {whole!r} runs backwards: write the earlier year first")
    if field is DOW:
        # Wrap on the 7-day cycle, where 7 is Sunday again: FRI-MON is 5,6,0,1; 7-1 is 0,1.
        start, end = first % 7, last % 7
        length = (end - start) % 7 + 1
        return [(start + i) % 7 for i in range(0, length, step)]
    values = list(range(first, field.hi + 1)) + list(range(field.lo, last + 1))
    return values[::step]


def parse_field(field: Field, text: str) -> tuple[frozenset[int], DaySpecials]:
    """The values `text` allows in `field` (day-of-week 7 folded into 0) and its specials."""
    values: set[int] = set()
    last_minus: list[int] = []
    last_weekday = False
    nearest: list[int] = []
    last_of: list[int] = []
    nth: list[tuple[int, int]] = []
    items = text.split(",")
    for item in items:
        if not item:
            raise _fail(field, f"{text!r} has an empty list item")
        base, slash, step_text = item.partition("/")
        step = _step(field, step_text, item) if slash else 1
        if "/" in step_text:
            raise _fail(field, f"{item!r} has more than one '/'")

        if base == "?":
            if field not in (DOM, DOW):
                raise _fail(field, "does not take '?': it only stands for 'any' in the day fields")
            if len(items) > 1 or slash:
                raise _fail(field, f"'?' must stand alone, not in {text!r}")
            values.update(range(field.lo, field.hi + 1))
            continue
        if base == "*":
            values.update(range(field.lo, field.hi + 1, step))
            continue

        if field is DOM and base.startswith("L"):
            if slash:
                raise _fail(field, f"{item!r}: 'L' items cannot take a step")
            if base == "L":
                last_minus.append(0)
            elif base == "LW":
                last_weekday = True
            elif base.startswith("L-"):
                offset = base[2:]
                if not (offset.isdigit() and offset.isascii()) or not 0 <= int(offset) <= 30:
                    raise _fail(field, f"{item!r}: write L-n with n from 0 to 30")
                last_minus.append(int(offset))
            else:
                raise _fail(
                    field, f"{item!r} is not understood: use L, L-n (n 0-30), LW or nW (n 1-31)"
                )
            continue
        if field is DOM and base.endswith("W"):
            if slash:
                raise _fail(field, f"{item!r}: 'W' items cannot take a step")
            nearest.append(_number(field, base[:-1], item))
            continue
        if field is DOW and "#" in base:
            if slash:
                raise _fail(field, f"{item!r}: 'n#k' items cannot take a step")
            day_text, _, k_text = base.partition("#")
            day = _number(field, day_text, item)
            if not (k_text.isdigit() and k_text.isascii()) or not 1 <= int(k_text) <= 5:
                raise _fail(
                    field,
                    f"{item!r}: the occurrence after '#' must be 1 to 5 "
                    "(MON#1 is the first Monday of the month)",
                )
            nth.append((day % 7, int(k_text)))
            continue
        if field is DOW and base.endswith("L"):
            if slash:
                raise _fail(field, f"{item!r}: 'nL' items cannot take a step")
            if base == "L":
                raise _fail(
                    field,
                    "'L' alone is ambiguous: write SAT for every Saturday, or nL such as "
                    "FRIL / 5L for the last Friday of the month",
                )
            last_of.append(_number(field, base[:-1], item) % 7)
            continue

        first_text, dash, last_text = base.partition("-")
        first = _number(field, first_text, item)
        if dash:
            last = _number(field, last_text, item)
        else:
            # `5/15` is `5-max/15`; a bare `5` is 5 alone.
            last = field.hi if slash else first
        values.update(_expand(field, first, last, step, item))

    if field is DOW:
        values = {v % 7 for v in values}
    specials = DaySpecials(
        last_minus=tuple(sorted(set(last_minus))),
        last_weekday=last_weekday,
        nearest_weekday=tuple(sorted(set(nearest))),
        last_of_weekday=tuple(sorted(set(last_of))),
        nth_weekday=tuple(sorted(set(nth))),
    )
    return frozenset(values), specials
