"""console.* with util.format semantics, each line captured with its level and time and
handed to the caller the moment it is printed; the `job` global; the original's examples."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from jsruntime import ConsoleLine, RunContext, SandboxPool
from tests.jsruntime.conftest import limits


def test_the_original_hello_world_runs_as_documented(run) -> None:
    result = run('console.log("hello world")')
    assert result.status == "succeeded"
    assert result.output == "hello world"
    assert result.error == ""


def test_a_function_may_be_called_before_its_declaration(run) -> None:
    result = run("greet('traitor');\nfunction greet(name) { console.log('hi ' + name) }")
    assert result.output == "hi traitor"


def test_modern_syntax_runs_too(run) -> None:
    result = run(
        "const pick = ({a, ...rest}) => rest;\n"
        "class Box { #v = 2; get v() { return this.#v ** 3 } }\n"
        "console.log(JSON.stringify(pick({a: 1, b: 2})), new Box().v, 10n ** 20n, [1, [2]].flat())"
    )
    assert result.output == '{"b":2} 8 100000000000000000000n [1,2]'


def test_format_placeholders_follow_util_format(run) -> None:
    cases = {
        "'%s and %s', 'a', 'b'": "a and b",
        "'%d', 42.5": "42.5",
        "'%i', 42.9": "42",
        "'%i', '17px'": "17",
        "'%f', '3.25abc'": "3.25",
        "'%d', 'nope'": "NaN",
        "'%j', {a: [1, 'x']}": '{"a":[1,"x"]}',
        "'%o', {b: null}": '{"b":null}',
        "'%O', [1, 2]": "[1,2]",
        "'100%% sure %s', 'yes'": "100% sure yes",
        "'%c styled', 'color: red'": " styled",
        "'%s %s', 'only one'": "only one %s",
        "'%x stays', 1": "%x stays 1",
        "'%s', {k: 'v'}": '{"k":"v"}',
        "'%d', 12n": "12n",
        "'plain', 'extra', 3, true, null, undefined": "plain extra 3 true null undefined",
        "'%s:', 'k', {a: 1}, [2]": 'k: {"a":1} [2]',
        "1, 'two', {three: 3}": '1 two {"three":3}',
        "": "",
        "'no placeholders %'": "no placeholders %",
    }
    script = "\n".join(f"console.log({args})" for args in cases)
    result = run(script)
    assert result.status == "succeeded", result.error
    assert [line.text for line in result.console] == list(cases.values())


def test_objects_print_as_json_with_cycles_functions_and_errors_made_readable(run) -> None:
    result = run(
        "var o = {name: 'o', f: function named() {}}; o.self = o;\n"
        "console.log(o);\n"
        "console.log(function () {}, Symbol('s'), [undefined]);\n"
        "console.log(new TypeError('bad'))"
    )
    assert result.console[0].text == '{"name":"o","f":"[Function: named]","self":"[Circular]"}'
    assert result.console[1].text == "[Function: (anonymous)] Symbol(s) [null]"
    assert result.console[2].text == "TypeError: bad\n    at <eval> (<script>:4:17)"


def test_each_level_is_kept_and_lines_are_stamped_in_order(run) -> None:
    before = datetime.now(UTC)
    result = run(
        "console.log('l'); console.info('i'); console.warn('w'); console.error('e');"
        " console.debug('d')"
    )
    after = datetime.now(UTC)
    assert [(line.level, line.text) for line in result.console] == [
        ("log", "l"),
        ("info", "i"),
        ("warn", "w"),
        ("error", "e"),
        ("debug", "d"),
    ]
    stamps = [line.at for line in result.console]
    assert stamps == sorted(stamps)
    assert before <= stamps[0] and stamps[-1] <= after
    assert result.output == "l\ni\nw\ne\nd"


def test_lines_reach_the_caller_while_the_script_still_runs(pool: SandboxPool) -> None:
    # The script prints, then waits until the test has seen that line: only streaming
    # delivery lets it finish before its time limit.
    seen: list[ConsoleLine] = []
    first_line = threading.Event()
    caller = threading.get_ident()
    threads: set[int] = set()

    def on_console(line: ConsoleLine) -> None:
        threads.add(threading.get_ident())
        seen.append(line)
        first_line.set()

    script = (
        "console.log('started');\n"
        "var t = Date.now(); while (Date.now() - t < 300) {}\n"
        "console.warn('done')"
    )
    result = pool.run(script, RunContext(job_id="stream"), limits(), on_console=on_console)
    assert result.status == "succeeded"
    assert [line.text for line in seen] == ["started", "done"]
    assert (seen[1].at - seen[0].at).total_seconds() >= 0.29
    assert threads == {caller}


def test_a_failing_console_callback_does_not_break_the_run(pool: SandboxPool) -> None:
    def explode(line: ConsoleLine) -> None:
        raise RuntimeError("listener went away")

    result = pool.run(
        "console.log('a'); console.log('b')", RunContext(job_id="x"), limits(), explode
    )
    assert result.status == "succeeded"
    assert result.output == "a\nb"


def test_the_job_global_carries_the_run_context(pool: SandboxPool) -> None:
    context = RunContext(
        job_id="6f1c3f5e-0000-4000-8000-000000000042",
        job_name="nightly report",
        run_id="9d2a1c00-0000-4000-8000-000000000007",
        scheduled_for=datetime(2030, 1, 1, 8, 0, tzinfo=UTC),
        trigger="schedule",
    )
    result = pool.run(
        "console.log(job.id, job.name, job.runId, job.scheduledFor, job.trigger,"
        " new Date(job.scheduledFor).getTime())",
        context,
        limits(),
    )
    assert result.output == (
        "6f1c3f5e-0000-4000-8000-000000000042 nightly report "
        "9d2a1c00-0000-4000-8000-000000000007 2030-01-01T08:00:00Z schedule 1893484800000"
    )


def test_a_script_may_declare_its_own_job_and_console_variables(run) -> None:
    result = run("var job = {count: 1}; job.count++; console.log(job.count)")
    assert result.output == "2"
