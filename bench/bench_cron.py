"""Next-fire computations per second: scheduler.cron against plain croniter, same run.

    python bench/bench_cron.py [--seconds 0.5]

For each expression of a mix (Unix, Quartz, seconds, DST zones), both engines answer "the
first fire after t" for a spread of instants t, the way a dispatcher asks for each job after
each run. croniter is given its best chance: a 6/7-field string gets
`second_at_beginning=True`, and an expression it cannot parse is shown as "n/a". The last
line times 100,000 jobs of that mix, each parsed once and asked once.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler import cron  # noqa: E402

MIX = [
    ("* * * * *", "UTC"),
    ("*/5 * * * *", "UTC"),
    ("0 9 * * MON-FRI", "America/New_York"),
    ("30 2 * * *", "Europe/Berlin"),
    ("0 0 8 ? * MON", "UTC"),
    ("*/15 * * * * *", "UTC"),
    ("0 0 12 15W * ?", "Europe/Paris"),
    ("0 5 LW * *", "Asia/Tokyo"),
    ("0 0 * * 5L", "UTC"),
    ("0 0 0 ? * SAT#4", "Australia/Sydney"),
    ("0 0 9 29 2 ? *", "UTC"),
    ("0 0 8-9 * 0#2", "UTC"),
    ("0 */2 * * *", "Australia/Lord_Howe"),
]


def instants(count: int) -> list[datetime]:
    r = random.Random(3)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    return [base + timedelta(seconds=r.randint(0, 3 * 365 * 86400)) for _ in range(count)]


def rate(call, points: list[datetime], budget: float) -> float:
    """Calls per second of `call(t)` over `points`, repeated until `budget` seconds pass."""
    done = 0
    started = time.perf_counter()
    while True:
        for t in points:
            call(t)
        done += len(points)
        elapsed = time.perf_counter() - started
        if elapsed >= budget:
            return done / elapsed


def ours(expr: str, tz: str):
    schedule = cron.parse(expr, tz)
    return schedule.next_after


def theirs(expr: str, tz: str):
    zone = ZoneInfo(tz)
    six = len(expr.split()) >= 6
    croniter(expr, second_at_beginning=six)  # raises if croniter cannot read it

    def call(t: datetime) -> datetime:
        return croniter(expr, t.astimezone(zone), second_at_beginning=six).get_next(datetime)

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    points = instants(200)

    print(f"{'expression':<24} {'zone':<20} {'traitor/s':>11} {'croniter/s':>11} {'x':>6}")
    total_ours = total_theirs = 0.0
    measured = 0
    for expr, tz in MIX:
        ours_rate = rate(ours(expr, tz), points, args.seconds)
        try:
            theirs_rate = rate(theirs(expr, tz), points, args.seconds)
            shown, ratio = f"{theirs_rate:>11,.0f}", f"{ours_rate / theirs_rate:>6.1f}"
            total_ours += ours_rate
            total_theirs += theirs_rate
            measured += 1
        except Exception:
            shown, ratio = f"{'n/a':>11}", f"{'':>6}"
        print(f"{expr:<24} {tz:<20} {ours_rate:>11,.0f} {shown} {ratio}")
    print(
        f"{'mean where both run':<45} {total_ours / measured:>11,.0f} "
        f"{total_theirs / measured:>11,.0f} {total_ours / total_theirs:>6.1f}"
    )

    # 100,000 jobs: parse (cached per distinct text) and one next fire each.
    r = random.Random(5)
    jobs = [(r.choice(MIX), r.choice(points)) for _ in range(100_000)]
    started = time.perf_counter()
    for (expr, tz), t in jobs:
        cron.parse(expr, tz).next_after(t)
    elapsed = time.perf_counter() - started
    print(f"100,000 jobs, parse + next fire each: {elapsed:.2f} s ({100_000 / elapsed:,.0f}/s)")


if __name__ == "__main__":
    main()
