"""How fast the sandbox runs a trivial script, against dukpy with no sandbox at all.

    python bench/bench_sandbox.py [--seconds 3] [--workers 2] [--clients 4]

Prints, measured in the same process one after the other:
- the bare loop: a fresh `dukpy.JSInterpreter()` per script, evaluated in this process
  (what running scripts with no isolation would cost; one core);
- the pool: the same script through `SandboxPool.run` with N workers, fed by several client
  threads, as the scheduler and the web would;
- the round trip of one run on an idle pool (submit to result), median and 99th percentile.

Targets (issue 4): the pool with two workers at least 1.3 times the bare loop's rate; a
trivial run's median round trip under 2 ms. The figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dukpy  # noqa: E402

from jsruntime import RunContext, RunLimits, SandboxPool  # noqa: E402

SCRIPT = "var total = 0; for (var i = 0; i < 10; i++) { total += i; }"
LIMITS = RunLimits(
    timeout_seconds=30, memory_mb=256, output_bytes=1 << 20, http_response_bytes=5 << 20
)
CONTEXT = RunContext(job_id="bench", job_name="bench")


def bare_rate(seconds: float) -> float:
    count = 0
    end = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < end:
        dukpy.JSInterpreter().evaljs(SCRIPT)
        count += 1
    return count / (time.perf_counter() - began)


def pool_rate(pool: SandboxPool, seconds: float, clients: int) -> tuple[float, int]:
    counts = [0] * clients
    failures = [0]
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        while time.perf_counter() < stop:
            result = pool.run(SCRIPT, CONTEXT, LIMITS)
            if result.status != "succeeded":
                failures[0] += 1
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began), failures[0]


def round_trips(pool: SandboxPool, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        pool.run(SCRIPT, CONTEXT, LIMITS)
        samples.append((time.perf_counter() - began) * 1000.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args()

    pool = SandboxPool(args.workers, deny_private=True).start()
    try:
        round_trips(pool, 200)  # warm up both sides
        bare = bare_rate(args.seconds)
        pooled, failures = pool_rate(pool, args.seconds, args.clients)
        samples = sorted(round_trips(pool, args.round_trips))
    finally:
        pool.shutdown()

    median = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    ratio = pooled / bare
    print(f"script: {SCRIPT}")
    print(f"bare loop (fresh JSInterpreter, this process): {bare:8.0f} runs/s")
    print(
        f"pool ({args.workers} workers, {args.clients} client threads): {pooled:8.0f} runs/s"
        f"  = {ratio:.2f} x bare   (target >= 1.30)  failures: {failures}"
    )
    print(
        f"round trip on an idle pool: median {median:.3f} ms, p99 {p99:.3f} ms"
        f" over {len(samples)} runs   (target: median < 2 ms)"
    )


if __name__ == "__main__":
    main()
