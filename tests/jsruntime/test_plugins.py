"""Plugins: Python functions run in the parent, called from scripts as require('name'); the
shipped require('store') keeps a per-job key/value store in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.models import Job
from jsruntime import RunContext, SandboxError, SandboxPool
from jsruntime.models import ScriptValue
from jsruntime.plugins import load_plugins
from tests.jsruntime.conftest import limits

REMEMBER = """
var store = require('store');
var last = store.get('seen', null);
console.log('last time:', last === null ? 'nothing' : last.price + ' in run ' + last.run);
store.set('seen', {price: job.runId === 'run-1' ? 10 : 12, run: job.runId});
"""


def _context(job: Job, run_id: str) -> RunContext:
    return RunContext(job_id=job.id, job_name=job.name, run_id=run_id, trigger="schedule")


@pytest.mark.django_db
def test_a_script_remembers_what_it_saw_on_its_last_run(pool: SandboxPool) -> None:
    job = Job.objects.create(name="watch price", script=REMEMBER)
    first = pool.run(job.script, _context(job, "run-1"), limits())
    second = pool.run(job.script, _context(job, "run-2"), limits())
    assert first.status == "succeeded", first.error
    assert first.output == "last time: nothing"
    assert second.output == "last time: 10 in run run-1"
    assert ScriptValue.objects.get(job=job, key="seen").value == '{"price":12,"run":"run-2"}'


@pytest.mark.django_db
def test_one_job_cannot_read_or_change_another_jobs_keys(pool: SandboxPool) -> None:
    owner = Job.objects.create(name="owner")
    other = Job.objects.create(name="other")
    pool.run("require('store').set('token', 'owner-secret')", _context(owner, "a"), limits())
    peek = pool.run(
        "var s = require('store');\n"
        "console.log(JSON.stringify(s.get('token')), JSON.stringify(s.keys()),\n"
        "  s.delete('token'));\n"
        "s.set('token', 'overwritten?')",
        _context(other, "b"),
        limits(),
    )
    assert peek.output == "null [] false"
    values = dict(ScriptValue.objects.filter(key="token").values_list("job__name", "value"))
    assert values == {"owner": '"owner-secret"', "other": '"overwritten?"'}


@pytest.mark.django_db
def test_the_store_keeps_json_values_deletes_and_lists_keys(pool: SandboxPool) -> None:
    job = Job.objects.create(name="kv")
    result = pool.run(
        "var s = require('store');\n"
        "s.set('b', [1, {x: true}, null]); s.set('a', 'text'); s.set('n', 2.5);\n"
        "console.log(JSON.stringify(s.get('b')), s.get('a'), s.get('n'), s.get('none', 'dflt'));\n"
        "console.log(JSON.stringify(s.keys()), s.delete('a'), s.delete('a'),\n"
        "  JSON.stringify(s.keys()))",
        _context(job, "r"),
        limits(),
    )
    assert result.status == "succeeded", result.error
    assert result.output == '[1,{"x":true},null] text 2.5 dflt\n["a","b","n"] true false ["b","n"]'


@pytest.mark.django_db
def test_the_store_refuses_oversized_values_and_bad_keys(pool: SandboxPool) -> None:
    job = Job.objects.create(name="greedy")
    result = pool.run(
        "var s = require('store');\n"
        "[function () { s.set('big', 'x'.repeat(70000)) },\n"
        " function () { s.set('', 1) },\n"
        " function () { s.get(42) }].forEach(function (f) {\n"
        "  try { f(); console.log('stored') } catch (e) { console.log(e.message) }\n"
        "});",
        _context(job, "r"),
        limits(),
    )
    assert result.output == (
        "store values are at most 64 KB as JSON\n"
        "store keys are strings of 1 to 200 characters\n"
        "store keys are strings of 1 to 200 characters"
    )
    assert not ScriptValue.objects.filter(job=job).exists()


def test_plugin_functions_get_the_calling_run_and_the_scripts_arguments(
    pool: SandboxPool,
) -> None:
    context = RunContext(job_id="job-7", run_id="run-9", trigger="debug")
    result = pool.run(
        "var p = require('sample');\nconsole.log(JSON.stringify(p.whoami()), p.add(2, 3.5));",
        context,
        limits(),
    )
    assert result.output == '{"job":"job-7","run":"run-9","trigger":"debug"} 5.5'


def test_plugin_errors_reach_the_script_without_host_details(run) -> None:
    result = run(
        "var p = require('sample');\n"
        "try { p.refuse('no') } catch (e) { console.log(e.message) }\n"
        "try { p.crash() } catch (e) { console.log(e.message) }\n"
        "try { p.add() } catch (e) { console.log(e.message) }\n"
        "console.log(typeof p.nope)"
    )
    assert result.output == (
        "refused: no\ninternal error in plugin 'sample'\nsample.add: wrong arguments\nundefined"
    )
    assert "/srv/secret" not in result.output


def test_time_in_plugins_is_accounted_and_counts_toward_the_limit(run) -> None:
    done = run("console.log(require('sample').nap(0.2))")
    assert done.output == "rested"
    assert done.plugin_ms >= 200
    assert done.duration_ms >= done.plugin_ms
    late = run("require('sample').nap(0.6); console.log('after')", timeout_seconds=0.3)
    assert late.status == "timed_out"
    assert late.output == ""


def test_a_plugin_cannot_replace_a_builtin_module(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "fake_http.py").write_text(
        "TRAITOR_MODULE = 'http'\nTRAITOR_EXPORTS = {'get': lambda call: 1}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SandboxError, match="'http' is a built-in module"):
        load_plugins(["fake_http"], use_entry_points=False)
    with pytest.raises(SandboxError, match="cannot import plugin module 'no_such_plugin'"):
        load_plugins(["no_such_plugin"], use_entry_points=False)


def test_installed_packages_add_plugins_through_the_entry_point_group(
    tmp_path: Path, monkeypatch
) -> None:
    # A real installed distribution, as pip would leave it: a dist-info folder on sys.path.
    dist = tmp_path / "traitor_greeter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: traitor-greeter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[traitor.plugins]\ngreeter = tests.jsruntime.sample_plugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = load_plugins([])
    assert sorted(found["greeter"].functions) == ["add", "crash", "nap", "refuse", "whoami"]
    sandbox = SandboxPool(1, plugins=found, deny_private=False).start()
    try:
        result = sandbox.run(
            "console.log(require('greeter').add(40, 2))", RunContext("g"), limits()
        )
    finally:
        sandbox.shutdown()
    assert result.output == "42"
