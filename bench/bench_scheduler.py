"""Scheduler benchmark: fire lateness, missed and doubled fires, enable-to-first-fire.

    python bench/bench_scheduler.py [--sizes 10,100,1000] [--window 60] [--workers 2]

One standalone node in this process: the real dispatcher thread, run executor and sandbox
pool on a fresh SQLite database under a temporary TRAITOR_HOME (or TRAITOR_DATABASE_URL
when set). For each size, that many jobs with the every-second cron `* * * * * *` are
enabled together and run for the window; then the stored runs are read back.

Lateness is the start of the script (taken in the sandbox worker) minus the fire instant.
A fire is *missed* when a second of the window has no run of the job that started, *doubled*
when one (job, second) has more than one run. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(workers: int) -> None:
    os.environ.setdefault("TRAITOR_HOME", tempfile.mkdtemp(prefix="traitor-bench-"))
    os.environ.setdefault("TRAITOR_SECRET_KEY", "bench")
    os.environ["TRAITOR_SANDBOX_WORKERS"] = str(workers)
    os.environ.setdefault("TRAITOR_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitor_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_size(size: int, window: float) -> dict[str, object]:
    from django.db.models import Count

    from jobs import services
    from jobs.models import Job, JobState, Run, RunStatus
    from scheduler.node import start_node_services

    Job.objects.all().delete()
    node = start_node_services("bench")
    try:
        time.sleep(1.0)  # let the sandbox workers boot
        # Enable all jobs in the middle of a second, so the first fire is the next second.
        time.sleep(1.5 - (time.time() % 1.0))
        enabled_at = datetime.now(UTC)
        for i in range(size):
            services.create_and_enable(
                {"name": f"bench-{i}", "cron": "* * * * * *", "script": "var x = 1 + 1;"}
            )
        ready_at = datetime.now(UTC)
        time.sleep(window)
        end_at = datetime.now(UTC)
        Job.objects.update(state=JobState.STOPPED, next_fire_at=None)
        # Runs in flight finish before the figures are read.
        deadline = time.monotonic() + 60
        while node.executor.in_flight and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        node.stop(timeout=30)

    # Fires expected: every whole second after the last job was enabled up to the end.
    first = ready_at.replace(microsecond=0) + timedelta(seconds=1)
    seconds = []
    instant = first
    while instant <= end_at - timedelta(seconds=1):
        seconds.append(instant)
        instant += timedelta(seconds=1)
    expected = size * len(seconds)
    in_window = Run.objects.filter(scheduled_for__gte=first, scheduled_for__lte=seconds[-1])
    started = in_window.exclude(status__in=[RunStatus.SKIPPED, RunStatus.LOST])
    late = [
        (r.started_at - r.scheduled_for).total_seconds() * 1000
        for r in started.only("started_at", "scheduled_for")
    ]
    doubled = (
        in_window.values("job_id", "scheduled_for").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    statuses = dict(in_window.values_list("status").annotate(n=Count("id")))
    return {
        "jobs": size,
        "window_s": len(seconds),
        "expected": expected,
        "started": len(late),
        "missed": expected - len(late),
        "skipped": statuses.get(RunStatus.SKIPPED, 0),
        "doubled": doubled,
        "failed": statuses.get(RunStatus.FAILED, 0) + statuses.get(RunStatus.TIMED_OUT, 0),
        "p50_ms": percentile(late, 0.50),
        "p99_ms": percentile(late, 0.99),
        "max_ms": max(late) if late else float("nan"),
        "enable_s": (ready_at - enabled_at).total_seconds(),
    }


def bench_first_fire(trials: int) -> dict[str, float]:
    """Enable one every-second job at a random point of a second; measure its first run."""
    import random

    from jobs import services
    from jobs.models import Job, JobState, Run
    from scheduler.node import start_node_services

    Job.objects.all().delete()
    node = start_node_services("bench")
    to_start: list[float] = []
    lateness: list[float] = []
    try:
        time.sleep(1.0)
        for _ in range(trials):
            time.sleep(random.random())
            enabled = datetime.now(UTC)
            job = services.create_and_enable(
                {"name": "first", "cron": "* * * * * *", "script": "var x = 1;"}
            )
            deadline = time.monotonic() + 5
            run = None
            while run is None and time.monotonic() < deadline:
                time.sleep(0.005)
                run = (
                    Run.objects.filter(job=job, started_at__isnull=False)
                    .exclude(status="running")
                    .order_by("scheduled_for")
                    .first()
                )
            Job.objects.filter(pk=job.pk).update(state=JobState.STOPPED, next_fire_at=None)
            if run is not None:
                to_start.append((run.started_at - enabled).total_seconds() * 1000)
                lateness.append((run.started_at - run.scheduled_for).total_seconds() * 1000)
    finally:
        node.stop(timeout=10)
    return {
        "trials": trials,
        "enable_to_start_p50_ms": percentile(to_start, 0.5),
        "enable_to_start_max_ms": max(to_start),
        "first_lateness_p50_ms": percentile(lateness, 0.5),
        "first_lateness_max_ms": max(lateness),
        "mean_wait_for_instant_ms": statistics.mean(
            t - late for t, late in zip(to_start, lateness, strict=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per size")
    parser.add_argument("--workers", type=int, default=2, help="sandbox worker processes")
    parser.add_argument("--first-fire-trials", type=int, default=10)
    args = parser.parse_args()
    setup_django(args.workers)
    from django.db import connection

    print(
        f"# scheduler benchmark: window {args.window:g} s per size, {args.workers} sandbox "
        f"workers, {connection.vendor}, {os.cpu_count()} CPUs"
    )
    print(
        "| jobs | seconds | fires expected | started | missed | skipped | doubled | failed "
        "| p50 ms | p99 ms | max ms | enabling took s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",") if s]:
        r = bench_size(size, args.window)
        print(
            f"| {r['jobs']} | {r['window_s']} | {r['expected']} | {r['started']} | "
            f"{r['missed']} | {r['skipped']} | {r['doubled']} | {r['failed']} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['enable_s']:.2f} |",
            flush=True,
        )
    if args.first_fire_trials:
        f = bench_first_fire(args.first_fire_trials)
        print()
        print(
            f"enable -> first fire ({f['trials']} trials, every-second cron enabled at a random "
            f"point of a second): script start p50 {f['enable_to_start_p50_ms']:.0f} ms, max "
            f"{f['enable_to_start_max_ms']:.0f} ms after enabling (of which waiting for the "
            f"next whole second {f['mean_wait_for_instant_ms']:.0f} ms on average); "
            f"lateness of that first fire p50 {f['first_lateness_p50_ms']:.1f} ms, max "
            f"{f['first_lateness_max_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
