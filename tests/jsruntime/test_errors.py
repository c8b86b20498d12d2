"""Errors come back with the JavaScript message, line, column and stack, and no host paths."""

from __future__ import annotations

import re
from pathlib import Path

import dukpy


def test_a_syntax_error_names_its_line_and_column(run) -> None:
    result = run("var ok = 1;\nvar broken = ;\n")
    assert result.status == "failed"
    assert result.error == (
        "SyntaxError: unexpected token in expression: ';' (line 2, column 14)\n    at <script>:2:14"
    )


def test_a_syntax_error_on_an_ambiguous_token_still_names_its_line(run) -> None:
    result = run("var a = 1;\nvar b = 2;\nlet = = 3;")
    assert result.error.startswith("SyntaxError: unexpected token in expression: '=' (line 3, ")


def test_a_script_that_ends_too_early_points_at_its_end(run) -> None:
    result = run("function open() {\n  console.log('never closed')")
    assert result.status == "failed"
    assert result.error.startswith("SyntaxError: unexpected end of script (line 2, column 30)")


def test_an_uncaught_throw_fails_with_message_position_and_stack(run) -> None:
    result = run(
        "console.log('before');\n"
        "function check(x) {\n"
        "  if (x > 1) throw new Error('x is too big: ' + x);\n"
        "}\n"
        "check(5);\n"
    )
    assert result.status == "failed"
    assert result.output == "before"
    # QuickJS picks the column within the throwing expression; the line is what people read.
    assert re.fullmatch(
        r"Error: x is too big: 5 \(line 3, column (\d+)\)\n"
        r"    at check \(<script>:3:\1\)\n"
        r"    at <eval> \(<script>:5:\d+\)",
        result.error,
    ), result.error


def test_throwing_something_that_is_not_an_error_says_so(run) -> None:
    assert run("throw 'plain text'").error == "Uncaught plain text"
    assert run("throw {code: 7}").error == "Uncaught [object Object]"


def test_an_unhandled_rejection_fails_the_run(run) -> None:
    result = run("(async function () {\n  await null;\n  throw new RangeError('later')\n})()")
    assert result.status == "failed"
    assert re.match(r"RangeError: later \(line 3, column \d+\)\n    at <anonymous> ", result.error)


def test_a_handled_rejection_does_not(run) -> None:
    result = run(
        "Promise.reject(new Error('x')).catch(function (e) { console.log('handled', e.message) })"
    )
    assert result.status == "succeeded"
    assert result.output == "handled x"


def test_errors_never_show_host_paths(run) -> None:
    project = str(Path(__file__).resolve().parents[2])
    dukpy_dir = str(Path(dukpy.__file__).parent)
    scripts = [
        "null.x",
        "require('nope')",
        "require('http').get('ftp://example.invalid/', function () {})",
        "import('./x.js')",
        "require('sample').crash()",
        "function f() { f() } f()",
    ]
    for script in scripts:
        error = run(script).error
        assert error, script
        for path in (project, dukpy_dir, "site-packages", "<dukpy>", "<traitor>", ".py"):
            assert path not in error, (script, error)


def test_a_script_with_a_lone_surrogate_still_runs(run) -> None:
    # Possible in a Python str (SQLite stores it), impossible in UTF-8: it becomes "?".
    result = run("console.log('\ud800x')")
    assert result.status == "succeeded", result.error
    assert result.output == "?x"
