"""The pool: runs in parallel up to its size, queues the rest, heals when a worker dies idle or
busy, and leaves no process behind. Pools made here are small and shut down by the test."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import jsruntime
from jsruntime import (
    ConsoleLine,
    RunContext,
    SandboxError,
    SandboxPool,
    get_pool,
    shutdown_pool,
)
from tests.jsruntime.conftest import limits

CONTEXT = RunContext(job_id="pool-test")


@pytest.fixture()
def small_pool() -> Iterator[SandboxPool]:
    sandbox = SandboxPool(2, deny_private=False).start()
    yield sandbox
    sandbox.shutdown()


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")  # a zombie is gone too
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not _gone(pid):
        assert time.monotonic() < end, f"process {pid} is still there"
        time.sleep(0.01)


def test_importing_jsruntime_starts_no_process() -> None:
    # A fresh interpreter imports the package (as Django does at start-up) and has no child.
    import subprocess
    import sys

    probe = (
        "import jsruntime, os; "
        "print(jsruntime.pool._pool, len(os.listdir(f'/proc/{os.getpid()}/task')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(jsruntime.pool.PROJECT_ROOT),
    )
    # No pool object and a single thread: no watcher, no worker was started.
    assert done.stdout.split() == ["None", "1"]


def test_runs_go_in_parallel_up_to_the_pool_size_and_the_rest_wait(
    small_pool: SandboxPool,
) -> None:
    script = "var t = Date.now(); while (Date.now() - t < 300) {} console.log('done')"
    results = []
    lock = threading.Lock()

    def one() -> None:
        result = small_pool.run(script, CONTEXT, limits())
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [r.status for r in results] == ["succeeded"] * 3
    first, second, third = sorted(results, key=lambda r: r.started_at)
    # Two ran side by side on the two workers; the third waited for one of them.
    assert first.worker_pid != second.worker_pid
    assert second.started_at < first.finished_at
    assert third.started_at >= min(first.finished_at, second.finished_at)


def test_a_worker_killed_while_idle_is_replaced_and_no_run_notices(
    small_pool: SandboxPool,
) -> None:
    victim = small_pool.idle_worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    _wait_gone(victim)
    results = [small_pool.run(f"console.log({i})", CONTEXT, limits()) for i in range(4)]
    assert [r.output for r in results] == ["0", "1", "2", "3"]
    assert small_pool.wait_until_full(10)
    pids = small_pool.worker_pids()
    assert len(pids) == 2 and victim not in pids


def test_a_worker_killed_while_idle_is_replaced_even_when_no_run_comes(
    small_pool: SandboxPool,
) -> None:
    victim = small_pool.idle_worker_pids()[-1]
    os.kill(victim, signal.SIGKILL)
    _wait_gone(victim)
    end = time.monotonic() + 10
    while victim in small_pool.worker_pids() or len(small_pool.idle_worker_pids()) < 2:
        assert time.monotonic() < end, "the pool did not heal"
        time.sleep(0.05)


def test_a_worker_killed_while_busy_fails_that_run_plainly_and_the_pool_heals(
    small_pool: SandboxPool,
) -> None:
    working = threading.Event()
    outcome = []

    def on_console(line: ConsoleLine) -> None:
        working.set()

    def busy() -> None:
        outcome.append(
            small_pool.run(
                "console.log('working'); while (true) {}",
                CONTEXT,
                limits(timeout_seconds=20),
                on_console,
            )
        )

    runner = threading.Thread(target=busy)
    runner.start()
    assert working.wait(10)
    (victim,) = set(small_pool.worker_pids()) - set(small_pool.idle_worker_pids())
    os.kill(victim, signal.SIGKILL)
    runner.join(10)
    (result,) = outcome
    assert result.status == "failed"
    assert result.error == "the script's sandbox process was killed (SIGKILL)"
    assert result.output == "working"
    assert small_pool.wait_until_full(10)
    assert victim not in small_pool.worker_pids()
    assert small_pool.run("console.log('still here')", CONTEXT, limits()).output == "still here"


def test_a_worker_that_ran_past_a_limit_is_replaced(small_pool: SandboxPool) -> None:
    result = small_pool.run("while (true) {}", CONTEXT, limits(timeout_seconds=0.2))
    assert result.status == "timed_out"
    assert result.worker_pid is not None
    _wait_gone(result.worker_pid)
    assert small_pool.wait_until_full(10)
    assert result.worker_pid not in small_pool.worker_pids()


def test_shutdown_stops_every_worker_and_ends_a_run_in_progress(small_pool: SandboxPool) -> None:
    pids = small_pool.worker_pids()
    started = threading.Event()
    outcome = []

    def busy() -> None:
        outcome.append(
            small_pool.run(
                "console.log('go'); while (true) {}",
                CONTEXT,
                limits(timeout_seconds=20),
                lambda line: started.set(),
            )
        )

    runner = threading.Thread(target=busy)
    runner.start()
    assert started.wait(10)
    small_pool.shutdown()
    runner.join(10)
    assert outcome[0].status == "failed"
    assert outcome[0].error == "the script's sandbox process was killed (SIGKILL)"
    for pid in pids:
        _wait_gone(pid)
    with pytest.raises(SandboxError, match="shut down"):
        small_pool.run("1", CONTEXT, limits())


def test_get_pool_is_shared_and_starts_afresh_after_shutdown(settings) -> None:
    settings.TRAITOR_SANDBOX_WORKERS = 1
    # Earlier tests (a trigger through the API, say) may have started the shared pool with
    # the default size: start from none, as a fresh node does.
    shutdown_pool()
    first = get_pool()
    try:
        assert get_pool() is first
        assert len(first.worker_pids()) == 1
        # limits=None: the node's defaults from settings.
        result = first.run("console.log(job.name)", RunContext(job_id="j", job_name="shared"))
        assert result.output == "shared"
        old = first.worker_pids()
        first.shutdown()
        for pid in old:
            _wait_gone(pid)
        second = get_pool()
        assert second is not first
        assert second.run("console.log('again')", CONTEXT).output == "again"
    finally:
        get_pool().shutdown()


def test_a_pool_needs_at_least_one_worker() -> None:
    with pytest.raises(SandboxError):
        SandboxPool(0)


def test_a_forked_child_starts_its_own_pool_instead_of_sharing_the_parents(settings) -> None:
    # Celery's prefork workers fork the process that may already hold the pool.
    settings.TRAITOR_SANDBOX_WORKERS = 1
    parent_pool = get_pool()
    try:
        parent_pids = parent_pool.worker_pids()
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # the child: report, then leave without running the parent's cleanup
            code = 1
            try:
                os.close(read_end)
                own = get_pool()
                result = own.run("console.log('from the child')", CONTEXT)
                line = f"{own is parent_pool} {own.worker_pids() == parent_pids} {result.output}"
                own.shutdown()
                os.write(write_end, line.encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        end = time.monotonic() + 30
        while os.waitpid(child, os.WNOHANG) == (0, 0):
            if time.monotonic() > end:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                pytest.fail("the forked child did not finish")
            time.sleep(0.02)
        with os.fdopen(read_end, "rb") as pipe:
            assert pipe.read().decode() == "False False from the child"
        # The parent's pool is untouched and still works.
        assert parent_pool.worker_pids() == parent_pids
        assert parent_pool.run("console.log('parent')", CONTEXT).output == "parent"
    finally:
        get_pool().shutdown()


def test_shutdown_pool_stops_the_shared_pool_and_starts_none(settings) -> None:
    settings.TRAITOR_SANDBOX_WORKERS = 1
    shutdown_pool()  # nothing running: nothing started
    assert jsruntime.pool._pool is None
    running = get_pool()
    pids = running.worker_pids()
    shutdown_pool()
    assert running.closed and jsruntime.pool._pool is None
    for pid in pids:
        _wait_gone(pid)


def test_a_busy_worker_whose_parent_was_killed_exits_on_its_own() -> None:
    # A node killed with SIGKILL cannot stop its workers; a worker in the middle of a long
    # script notices within a second and leaves instead of running on to its time limit.
    import subprocess
    import sys

    program = (
        "import sys\n"
        "from jsruntime import RunContext, RunLimits, SandboxPool\n"
        "pool = SandboxPool(1, deny_private=False).start()\n"
        "print(pool.worker_pids()[0], flush=True)\n"
        "pool.run('while (true) {}', RunContext('orphan'), RunLimits(60, 64, 1024, 1024))\n"
    )
    node = subprocess.Popen(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        cwd=str(jsruntime.pool.PROJECT_ROOT),
    )
    try:
        assert node.stdout is not None
        worker = int(node.stdout.readline())
        time.sleep(0.3)  # the script is running
        assert not _gone(worker)
        node.kill()
        node.wait(5)
        _wait_gone(worker, timeout=5)
    finally:
        node.kill()
        node.wait(5)


def test_a_burst_waits_in_line_and_every_run_gets_its_own_fresh_interpreter(
    small_pool: SandboxPool,
) -> None:
    """More runs than workers: the waiting ones are handed a worker the moment another run
    ends, and each still runs in an interpreter nobody used before (prepared ahead)."""
    script = (
        "if (typeof seen !== 'undefined') { throw new Error('reused'); }\n"
        "var seen = job.runId; globalThis.mark = seen; console.log(seen)"
    )
    results: dict[str, object] = {}
    lock = threading.Lock()
    before = datetime.now(UTC)

    def one(number: int) -> None:
        context = RunContext(job_id="burst", job_name="burst", run_id=f"run-{number}")
        result = small_pool.run(script, context, limits())
        with lock:
            results[f"run-{number}"] = result

    threads = [threading.Thread(target=one, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 24
    for run_id, result in results.items():
        assert (result.status, result.output, result.error) == ("succeeded", run_id, "")
        # The start is the worker's own instant, between the call and the result.
        assert before <= result.started_at <= result.finished_at
    assert {r.worker_pid for r in results.values()} == set(small_pool.worker_pids())


def test_asking_idle_workers_to_stay_awake_changes_nothing_else(small_pool: SandboxPool) -> None:
    idle = small_pool.idle_worker_pids()
    small_pool.warm(0.05)
    # Longer than the watcher's look at the idle workers: a worker polling for a script
    # writes nothing, so it is not taken for dead.
    time.sleep(jsruntime.pool.WATCH_INTERVAL + 0.3)
    assert small_pool.idle_worker_pids() == idle
    result = small_pool.run("console.log('awake')", CONTEXT, limits())
    assert (result.status, result.output) == ("succeeded", "awake")
    assert small_pool.idle_worker_pids() == idle


def test_runs_waiting_for_a_worker_are_told_when_the_pool_shuts_down() -> None:
    pool = SandboxPool(1, deny_private=True).start()
    outcomes: list[str] = []
    running = threading.Event()

    def one(script: str) -> None:
        try:
            result = pool.run(script, CONTEXT, limits(), on_console=lambda line: running.set())
            outcomes.append(result.status)
        except SandboxError as exc:
            outcomes.append(str(exc))

    busy = threading.Thread(target=one, args=("console.log('going'); while (true) {}",))
    busy.start()
    assert running.wait(10)
    waiting = threading.Thread(target=one, args=("console.log('never')",))
    waiting.start()
    while not pool._waiters:
        time.sleep(0.01)
    pool.shutdown()
    busy.join(10)
    waiting.join(10)
    assert sorted(outcomes) == ["failed", "the sandbox pool is shut down"]
