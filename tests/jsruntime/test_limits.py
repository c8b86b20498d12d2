"""Scripts over a limit are stopped and recorded with a plain message; the pool goes on."""

from __future__ import annotations

import pytest

from jsruntime import RunLimits, SandboxPool


def test_an_endless_loop_is_stopped_at_the_time_limit(run, pool: SandboxPool) -> None:
    result = run("console.log('before'); while (true) {}", timeout_seconds=0.5)
    assert result.status == "timed_out"
    assert result.error == "stopped after 0.5 s"
    assert result.output == "before"
    assert run("console.log('next')").output == "next"


def test_a_loop_that_catches_everything_is_still_stopped(run) -> None:
    # QuickJS's interrupt is uncatchable; try/catch around the loop changes nothing.
    result = run("while (true) { try { while (true) {} } catch (e) {} }", timeout_seconds=0.3)
    assert result.status == "timed_out"
    assert result.error == "stopped after 0.3 s"


def test_an_endless_promise_chain_is_stopped_at_the_time_limit(run) -> None:
    result = run(
        "function again() { return Promise.resolve().then(again) } again()", timeout_seconds=0.3
    )
    assert result.status == "timed_out"
    assert result.error == "stopped after 0.3 s"


def test_a_catastrophic_regular_expression_is_stopped(run) -> None:
    result = run("/(a+)+$/.test('a'.repeat(40) + 'b')", timeout_seconds=0.3)
    assert result.status == "timed_out"
    assert result.error == "stopped after 0.3 s"


def test_allocating_4_gb_runs_out_of_memory_with_a_plain_message(run) -> None:
    # 64 arrays of 64 MB: 4 GB in all, far beyond the 64 MB this run may use.
    result = run(
        "var chunks = [];\n"
        "for (var i = 0; i < 64; i++) chunks.push(new ArrayBuffer(64 * 1024 * 1024))",
        memory_mb=64,
    )
    assert result.status == "failed"
    assert result.error.startswith("ran out of memory (64 MB) (line 2, column ")


def test_one_huge_allocation_is_refused_and_the_default_limit_is_named(run) -> None:
    result = run("var big = new Uint8Array(1024 * 1024 * 1024)", memory_mb=256)
    assert result.status == "failed"
    assert result.error.startswith("ran out of memory (256 MB) (line 1, column ")


def test_a_run_may_use_memory_up_to_its_own_limit(run) -> None:
    # 100 MB fits under a 256 MB limit (above dukpy's own 128 MB default).
    result = run("var a = new Uint8Array(100 * 1024 * 1024); console.log(a.length)", memory_mb=256)
    assert result.status == "succeeded", result.error
    assert result.output == str(100 * 1024 * 1024)


def test_printing_100_mb_keeps_the_first_megabyte_and_marks_the_cut(run) -> None:
    result = run(
        "var line = 'x'.repeat(99);\nfor (var i = 0; i < 1024 * 1024; i++) console.log(line)",
        output_bytes=1024 * 1024,
    )
    assert result.status == "succeeded"
    assert result.output_truncated is True
    # Each line costs 100 bytes (99 + newline): 10485 whole lines, then 76 bytes of the next.
    assert len(result.console) == 10486
    assert result.console[-1].text == "x" * 75
    assert result.output.endswith("\n[output truncated: over the 1 MB limit]")
    kept = result.output[: -len("\n[output truncated: over the 1 MB limit]")]
    assert len(kept.encode()) == 1024 * 1024 - 1


def test_one_10_mb_line_is_cut_to_the_output_limit(run) -> None:
    result = run(
        "console.log('y'.repeat(10 * 1024 * 1024)); console.log('after')", output_bytes=4096
    )
    assert result.status == "succeeded"
    assert result.output_truncated is True
    assert [line.text for line in result.console] == ["y" * 4095]
    assert result.output == "y" * 4095 + "\n[output truncated: over the 4 KB limit]"


def test_multibyte_text_is_cut_on_a_character_boundary(run) -> None:
    result = run("console.log('é'.repeat(3000))", output_bytes=1024 + 1)
    assert result.console[0].text == "é" * 512
    assert result.output_truncated is True


def test_deep_recursion_fails_with_a_range_error_where_it_recursed(run) -> None:
    result = run("function down(n) {\n  return down(n + 1) + 1\n}\ndown(0)")
    assert result.status == "failed"
    message, *frames = result.error.splitlines()
    assert message.startswith("RangeError: Maximum call stack size exceeded (line 2, column ")
    # QuickJS keeps ten frames (Error.stackTraceLimit): the error stays readable.
    assert len(frames) == 10
    assert all(frame.startswith("    at down (<script>:2:") for frame in frames)


def test_a_huge_completion_value_is_not_serialised(run) -> None:
    # dukpy turns the last expression into JSON; the sandbox never asks for it.
    result = run("var s = 'z'.repeat(60 * 1024 * 1024); s", memory_mb=256)
    assert result.status == "succeeded", result.error
    assert result.output == ""


def test_a_huge_object_as_completion_value_is_not_serialised_either(run) -> None:
    result = run(
        "var rows = []; for (var i = 0; i < 200000; i++) rows.push({i: i, s: 'row ' + i}); rows"
    )
    assert result.status == "succeeded", result.error


@pytest.mark.django_db
def test_job_overrides_apply_up_to_the_operator_maximum(settings) -> None:
    from jobs.models import Job

    settings.TRAITOR_RUN_TIMEOUT_SECONDS = 30.0
    settings.TRAITOR_RUN_TIMEOUT_MAX_SECONDS = 60.0
    settings.TRAITOR_RUN_MEMORY_MB = 256
    settings.TRAITOR_RUN_MEMORY_MAX_MB = 512
    job = Job(name="greedy", timeout_seconds=3600, memory_mb=128, output_bytes=None)
    assert RunLimits.for_job(job) == RunLimits(
        timeout_seconds=60.0,
        memory_mb=128,
        output_bytes=settings.TRAITOR_RUN_OUTPUT_BYTES,
        http_response_bytes=settings.TRAITOR_HTTP_RESPONSE_BYTES,
    )
    assert RunLimits.defaults().timeout_seconds == 30.0
