"""The holes dukpy 0.6 has as shipped, each probed through the real sandbox and shown closed,
and the lock-down of the worker processes themselves."""

from __future__ import annotations

import os
import resource

from jsruntime import SandboxPool


def test_process_env_is_empty_even_though_the_parent_has_secrets(run, monkeypatch) -> None:
    # dukpy copies os.environ into process.env; the parent's environment here holds
    # TRAITOR_SECRET_KEY (set by tests/environment.py) and PATH.
    assert os.environ.get("TRAITOR_SECRET_KEY")
    result = run("console.log(JSON.stringify(process.env), Object.keys(process.env).length)")
    assert result.status == "succeeded"
    assert result.output == "{} 0"


def test_call_python_is_not_reachable_so_dukpy_load_module_cannot_read_files(run) -> None:
    result = run("call_python('dukpy.load_module', '/etc/hostname')")
    assert result.status == "failed"
    assert result.error.startswith("TypeError: not a function (line 1, column 1)")
    with open("/etc/hostname") as f:
        assert f.read().strip() not in result.output + result.error


def test_call_python_stays_hidden_on_every_eval_and_from_every_global_path(run) -> None:
    result = run(
        "console.log(typeof call_python, typeof globalThis.call_python,"
        " typeof Function('return this')().call_python, typeof dukpy)"
    )
    assert result.output == "undefined undefined undefined undefined"


def test_redefining_the_hidden_bridge_is_refused(run) -> None:
    result = run("Object.defineProperty(globalThis, 'call_python', {value: 1})")
    assert result.status == "failed"
    assert result.error.startswith("TypeError:")


def test_require_of_an_absolute_path_is_refused(run) -> None:
    result = run("require('/etc/passwd')")
    assert result.status == "failed"
    assert result.error.startswith(
        "Error: Cannot find module '/etc/passwd': scripts can require only 'http', 'sample', "
        "'store' (files are never loaded) (line 1, column 1)"
    )
    assert "root:" not in result.output + result.error


def test_require_of_a_relative_path_or_a_dukpy_bundled_module_is_refused(run) -> None:
    for name in ["./worker", "../jsruntime/prelude.js", "semver", "fs", "react"]:
        result = run(f"require({name!r})")
        assert result.status == "failed", name
        assert result.error.startswith(f"Error: Cannot find module '{name}'"), result.error


def test_dynamic_import_of_a_file_is_refused(run) -> None:
    result = run(
        "import('/proc/self/environ').then(function (m) { console.log('read', JSON.stringify(m)) })"
    )
    assert result.status == "failed"
    assert result.error == "ReferenceError: cannot find module: /proc/self/environ"
    assert result.output == ""


def test_dynamic_import_that_is_caught_still_reads_nothing(run) -> None:
    result = run(
        "import('/etc/passwd').then(function () { console.log('loaded') },"
        " function (e) { console.log('refused:', e.message) })"
    )
    assert result.status == "succeeded"
    assert result.output == "refused: cannot find module: /etc/passwd"


def test_each_run_gets_a_fresh_interpreter(run) -> None:
    first = run("var leftover = 'from the first run'; globalThis.marker = 1; console.log('set')")
    assert first.output == "set"
    for _ in range(3):  # whichever worker takes it
        later = run("console.log(typeof leftover, typeof marker)")
        assert later.output == "undefined undefined"


def test_workers_start_empty_isolated_and_limited(pool: SandboxPool) -> None:
    pid = pool.worker_pids()[0]
    with open(f"/proc/{pid}/environ", "rb") as f:
        names = {item.split(b"=", 1)[0] for item in f.read().split(b"\0") if item}
    allowed = {b"LANG", b"LC_ALL", b"LC_CTYPE", b"TZ", b"SSL_CERT_FILE", b"SSL_CERT_DIR"}
    assert names <= allowed
    # An empty temporary directory, already removed: nothing can be created in it and
    # nothing is left on disk whatever happens to the node.
    cwd = os.readlink(f"/proc/{pid}/cwd")
    assert os.path.basename(cwd).startswith("traitor-sandbox-")
    assert cwd.endswith(" (deleted)")
    assert os.listdir(f"/proc/{pid}/cwd") == []
    # Its own session and process group, away from the parent's terminal and signals.
    assert os.getsid(pid) == pid
    assert os.getpgid(pid) == pid
    # Only /dev/null on 0-2 and the two protocol pipes: nothing of the parent's is inherited.
    targets = sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
    assert targets[:3] == ["/dev/null"] * 3
    assert len(targets) == 5 and all(t.startswith("pipe:") for t in targets[3:])
    limits = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name, soft, hard = line[:26].strip(), line[26:47].strip(), line[47:68].strip()
            limits[name] = (soft, hard)
    assert limits["Max file size"] == ("0", "0")
    assert limits["Max core file size"] == ("0", "0")
    assert limits["Max open files"] == ("64", "64")
    assert limits["Max address space"][1] != "unlimited"
    assert limits["Max cpu time"][1] != "unlimited"
    with open(f"/proc/{pid}/status") as f:
        assert "NoNewPrivs:\t1" in f.read()
    # The parent itself is untouched by the workers' limits.
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] != 0
