"""Web API benchmark: latency of the job calls, and what leaving scripts out of lists saves.

    python bench/bench_api.py [--jobs 10000] [--script-kib 64] [--rounds 200]

Runs in this process on a fresh SQLite database under a temporary TRAITOR_HOME (or
TRAITOR_DATABASE_URL when set), through Django's full request stack (middleware, token
authentication, DRF) with its test client: no sockets, so the figures are the node's own
cost per call. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("TRAITOR_HOME", tempfile.mkdtemp(prefix="traitor-bench-"))
    os.environ.setdefault("TRAITOR_SECRET_KEY", "bench")
    os.environ.setdefault("TRAITOR_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitor_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def timed(rounds: int, call: Callable[[int], object]) -> tuple[float, float]:
    """Median and 95th percentile in milliseconds."""
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--script-kib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    setup_django()

    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from jobs.models import Job
    from jobs.serializers import JOB_OUTPUT_COLUMNS, JobOutput

    user = get_user_model().objects.create_user("bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    script = "// padding\n" + "x" * (args.script_kib * 1024 - 12)
    started = time.perf_counter()
    Job.objects.bulk_create(
        [Job(name=f"job-{i}", cron="0 */5 * * * *", script=script) for i in range(args.jobs)],
        batch_size=500,
    )
    store = os.environ.get("TRAITOR_DATABASE_URL") or "SQLite"
    print(
        f"{args.jobs} jobs with {args.script_kib} KiB scripts stored in "
        f"{time.perf_counter() - started:.1f} s ({store})"
    )

    def create(i: int) -> object:
        body = json.dumps({"name": f"new-{i}", "cron": "0 0 8 ? * MON", "script": "x()"})
        response = client.post("/api/job?type=timing", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["id"]

    created: list[str] = []
    figures = {"POST /api/job (create)": timed(args.rounds, lambda i: created.append(create(i)))}
    figures["POST /api/enable"] = timed(
        args.rounds, lambda i: client.post(f"/api/enable?id={created[i]}&enable=true")
    )
    figures["GET /api/job"] = timed(args.rounds, lambda i: client.get(f"/api/job?id={created[i]}"))
    figures["GET /api/jobList size=20"] = timed(
        args.rounds, lambda i: client.get(f"/api/jobList?size=20&page={i % 50 + 1}")
    )
    figures["GET /api/jobList size=200"] = timed(
        args.rounds // 4, lambda i: client.get(f"/api/jobList?size=200&page={i % 40 + 1}")
    )
    figures["GET /api/jobList?name=job-99 (search)"] = timed(
        args.rounds // 4, lambda i: client.get("/api/jobList?name=job-99")
    )
    figures["GET /api/jobList?state=1 (filter)"] = timed(
        args.rounds // 4, lambda i: client.get("/api/jobList?state=1")
    )

    # What the list would cost if it loaded the scripts it never shows: the view's query,
    # once as it is (`only` the shown columns) and once with every column.
    newest = Job.objects.filter(cluster="default").order_by("-created_at", "-id")

    def with_scripts(i: int) -> object:
        page = list(newest[(i % 25) * 200 : (i % 25 + 1) * 200])
        return JobOutput(page, many=True).data

    def without_scripts(i: int) -> object:
        page = list(newest.only(*JOB_OUTPUT_COLUMNS)[(i % 25) * 200 : (i % 25 + 1) * 200])
        return JobOutput(page, many=True).data

    figures["200 rows serialized, scripts loaded"] = timed(args.rounds // 4, with_scripts)
    figures["200 rows serialized, only shown columns"] = timed(args.rounds // 4, without_scripts)

    width = max(len(name) for name in figures)
    print(f"{'call':<{width}}  median ms    p95 ms")
    for name, (median, p95) in figures.items():
        print(f"{name:<{width}}  {median:9.2f}  {p95:8.2f}")


if __name__ == "__main__":
    main()
