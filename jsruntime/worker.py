"""The sandbox worker process: runs job scripts, one fresh QuickJS interpreter per run.

Started by the pool (`jsruntime.pool`) with an empty environment, an empty read-only
working directory and its own session; it then locks itself down (resource limits, no new
privileges) before it reads its first script. It talks to the parent over two pipes in
`jsruntime.protocol` frames and never imports Django: plugin calls go back to the parent.

Why dukpy is wrapped rather than used as shipped (dukpy 0.6, pinned):
- `JSInterpreter.__init__` copies `os.environ` into `process.env` and exports
  `dukpy.load_module`, which reads any file; our interpreter never runs that constructor and
  its exported-function table holds only the three host functions below.
- The C layer re-creates the `call_python` global at every eval; the prelude turns it into an
  accessor that hides it, and the table behind it is ours anyway.
- `require()` and `import()` resolve files through `loader`; ours resolves nothing.
- QuickJS's interrupt handler calls `PyErr_CheckSignals()`, so a SIGALRM handler that raises
  stops a `while (true) {}` or an endless promise chain.
- The QuickJS heap limit is a hard-coded 128 MB; `JS_SetMemoryLimit` (exported by the
  extension) sets each run's own limit through ctypes.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import os
import re
import resource
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import dukpy
from dukpy import _dukpy

from jsruntime import httpclient
from jsruntime.protocol import FrameReader, PeerClosed, encode, write_all

MIB = 1 << 20
LEVELS = frozenset({"log", "info", "warn", "error", "debug"})
PRELUDE = (Path(__file__).with_name("prelude.js")).read_text(encoding="utf-8")
# Cap on what one frame from the parent may hold (a script plus its context).
MAX_PARENT_FRAME = 64 * MIB
# Cap on a plugin call's JSON arguments: the parent parses them in its own process.
MAX_PLUGIN_ARGS = 1 * MIB
# An error longer than this is cut; deep recursion and huge messages stay readable.
MAX_ERROR_CHARS = 8192
# A worker is retired after this many runs or once its RSS grew this much: both bound the
# slow leaks a long-lived process collects, at the cost of one restart now and then.
MAX_RUNS = 5000
MAX_RSS_GROWTH = 96 * MIB
# Fresh interpreters a worker prepares while idle (about 0.1 MB and 0.25 ms each), so that
# a burst of fires (a hundred jobs sharing a second) does not create them between scripts.
FRESH_STOCK = 64
# After a run, how long the worker waits for the next script before it prepares interpreters.
NEXT_RUN_WAIT_SECONDS = 0.002
# While asked to stay awake, how long each wait for the next request sleeps.
WARM_POLL_SECONDS = 0.0001
# The CPU hard limit the worker gives itself; it retires itself before reaching it.
CPU_BUDGET_SECONDS = 3600
# While a script runs, how often the worker checks that its parent is still there, and how
# often the stop is repeated once the deadline passed.
PARENT_CHECK_SECONDS = 1.0
RETICK_SECONDS = 0.05

_OUT_OF_MEMORY = re.compile(r"^InternalError: out of memory\b")
_SCRIPT_FRAME = re.compile(r"<dukpy>:(\d+):(\d+)")
_UNEXPECTED = "SyntaxError: unexpected token in expression: '"
_ERROR_NAME = re.compile(r"^[A-Za-z_$][\w$]*: ")


class Expired(BaseException):
    """Raised by the SIGALRM/SIGXCPU handler while JavaScript runs. A BaseException, so a
    stray `except Exception` on the way out does not swallow it."""


class RunState:
    """What the host functions need to know about the run in progress."""

    def __init__(self) -> None:
        self.in_js = False
        self.expired = False
        self.deadline = 0.0
        self.output_left = 0
        self.truncated = False
        self.deny_private = False
        self.http_bytes = 0


class Worker:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.reader = FrameReader(read_fd, MAX_PARENT_FRAME)
        self.write_fd = write_fd
        self.state = RunState()
        self.plugins: dict[str, list[str]] = {}
        self.runs = 0
        self.base_rss = 0
        self.cpu_hard = resource.RLIM_INFINITY
        self._max_timeout = 600.0
        self.quickjs = QuickJS()
        self.prelude = b""
        self.base_vm = 0
        self.as_soft = -1
        self.parent = os.getppid()

    # --- plumbing ------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        write_all(self.write_fd, encode(message))

    def receive(self) -> dict[str, Any]:
        message = self.reader.read()
        assert message is not None  # no deadline: blocks until a frame or end of file
        return message

    # --- lock-down -----------------------------------------------------------------------

    def lock_down(self, config: dict[str, Any]) -> None:
        """Resource limits and privileges, set once before any script runs."""
        self._max_timeout = float(config["max_timeout_seconds"])
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # No file writes at all: the only files a worker writes are its pipes.
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        hard_as = _vm_bytes() + (int(config["max_memory_mb"]) + 1024) * MIB
        resource.setrlimit(resource.RLIMIT_AS, (hard_as, hard_as))
        used = _cpu_seconds()
        self.cpu_hard = int(used) + CPU_BUDGET_SECONDS
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_hard, self.cpu_hard))
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid escalation, ever
        signal.signal(signal.SIGALRM, self._on_deadline)
        signal.signal(signal.SIGXCPU, self._on_deadline)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.plugins = {str(k): [str(f) for f in v] for k, v in config["plugins"].items()}
        source = PRELUDE.replace("__PLUGINS__", json.dumps(self.plugins))
        self.prelude = self.quickjs.compile(self.bare_interpreter(), source, "<traitor>")
        self.base_rss = _peak_rss_bytes()
        self.base_vm = _vm_bytes()

    def _on_deadline(self, signum: int, frame: object) -> None:
        if os.getppid() != self.parent:
            # The parent died (killed, crashed): nobody will read this run's result, and the
            # end of file on our pipe is only seen between runs. Leave now.
            os._exit(0)
        if signum == signal.SIGALRM:
            left = self.state.deadline - time.monotonic()
            if left > 0.0005:
                # An early tick: it only checked the parent. Wait for the next one.
                signal.setitimer(signal.ITIMER_REAL, min(left, PARENT_CHECK_SECONDS))
                return
            # Past the deadline: keep ticking so a script that got past one stop meets
            # the next as soon as it is back in JavaScript.
            signal.setitimer(signal.ITIMER_REAL, RETICK_SECONDS)
        self.state.expired = True
        # Raise only while JavaScript runs: QuickJS's interrupt check turns this into an
        # uncatchable stop. In host code (a pipe write, an HTTP read) raising could cut a frame
        # in half; those calls bound themselves by the deadline instead.
        if self.state.in_js:
            raise Expired()

    # --- runs ----------------------------------------------------------------------------

    def bare_interpreter(self) -> SandboxInterpreter:
        return SandboxInterpreter(
            {
                "traitor.console": self.host_console,
                "traitor.http": self.host_http,
                "traitor.plugin": self.host_plugin,
            },
            self.state,
        )

    def fresh_interpreter(self) -> SandboxInterpreter:
        interpreter = self.bare_interpreter()
        self.quickjs.run(interpreter, self.prelude)
        return interpreter

    def serve(self) -> None:
        # Fresh interpreters made ahead, while no script waits: a burst of runs then pays
        # only for its scripts. Each is still used for exactly one run, then dropped.
        stock: collections.deque[SandboxInterpreter] = collections.deque()
        stock.append(self.fresh_interpreter())
        self.send({"t": "ready", "pid": os.getpid()})
        while True:
            # Right after a run the next script of a burst is usually on its way: wait for
            # it a moment before spending time on interpreters for later.
            if not self._request_waiting(wait=NEXT_RUN_WAIT_SECONDS if self.runs else 0.0):
                while len(stock) < FRESH_STOCK and not self._request_waiting():
                    stock.append(self.fresh_interpreter())
            try:
                request = self.receive()
            except PeerClosed:
                return
            if request.get("t") == "warm":
                self._stay_awake(float(request.get("s", 0.0)))
                continue
            if request.get("t") != "run":
                return
            interpreter = stock.popleft() if stock else self.fresh_interpreter()
            outcome = self.run(interpreter, request)
            self.runs += 1
            clean = outcome.pop("clean") and self._still_fresh()
            self.send({"t": "done", "clean": clean, **outcome})
            # Dropped at once (its memory, up to the run's limit, is not kept for later),
            # while the parent reads the result.
            del interpreter
            if not clean:
                return

    def _stay_awake(self, seconds: float) -> None:
        """Poll for the next request in short sleeps for up to `seconds` (at most 50 ms).

        Sent by the parent just before fires are due: a CPU idle for a second takes about a
        millisecond to wake on a virtual machine (measured), and a burst of fires would pay
        that at every hop; polling in sleeps shorter than the host's halt-poll window keeps
        this worker's CPU awake until the script arrives. Nothing is answered."""
        end = time.monotonic() + min(max(seconds, 0.0), 0.05)
        while not self._request_waiting(wait=WARM_POLL_SECONDS):
            if time.monotonic() >= end:
                return

    def _request_waiting(self, wait: float = 0.0) -> bool:
        """A frame from the parent is buffered or readable: stop preparing, serve it."""
        if self.reader._buffer:  # bytes of a next frame already read
            return True
        readable, _, _ = select.select([self.reader.fd], [], [], wait)
        return bool(readable)

    def _still_fresh(self) -> bool:
        return (
            self.runs < MAX_RUNS
            and _peak_rss_bytes() - self.base_rss < MAX_RSS_GROWTH
            and _cpu_seconds() < self.cpu_hard - self._max_timeout - 10
        )

    def run(self, interpreter: SandboxInterpreter, request: dict[str, Any]) -> dict[str, Any]:
        limits = request["limits"]
        # Never 0: setitimer(0) would switch the timer off instead of firing at once.
        timeout = max(float(limits["timeout_seconds"]), 0.001)
        memory_mb = int(limits["memory_mb"])
        state = self.state
        state.expired = False
        state.truncated = False
        state.output_left = int(limits["output_bytes"])
        state.http_bytes = int(limits["http_response_bytes"])
        state.deny_private = bool(request["deny_private"])
        state.deadline = time.monotonic() + timeout
        self.quickjs.set_memory_limit(interpreter, memory_mb * MIB)
        # Address space for the rest of the process (Python, buffers) on top of the JS heap,
        # which QuickJS caps itself; this only catches what QuickJS does not see.
        _, hard_as = resource.getrlimit(resource.RLIMIT_AS)
        soft_as = min(self.base_vm + memory_mb * MIB + 512 * MIB, hard_as)
        if soft_as != self.as_soft:
            resource.setrlimit(resource.RLIMIT_AS, (soft_as, hard_as))
            self.as_soft = soft_as
        cpu_soft = min(int(_cpu_seconds() + timeout) + 2, self.cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, self.cpu_hard))
        # The script's completion value is never used; `void 0` keeps QuickJS from turning
        # a huge last expression into JSON. On its own line, so no position moves.
        script = request["script"]
        if not script.isascii():
            # Lone surrogates (possible in a str, not in UTF-8) would stop dukpy's encoder.
            script = script.encode("utf-8", "replace").decode("utf-8")
        source = script + "\n;void 0\n"
        run = {"job": request["job"], "outputBytes": state.output_left}
        status, error, clean = "succeeded", "", True
        # Taken: the script starts now. The parent records this instant as the run's start
        # (it may read the frame later, when its thread gets to it).
        self.send({"t": "ack", "at": time.time()})
        signal.setitimer(signal.ITIMER_REAL, min(timeout, PARENT_CHECK_SECONDS))
        try:
            try:
                state.in_js = True
                interpreter.evaljs(source, **run)
            finally:
                state.in_js = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Expired:
            status, error, clean = "timed_out", f"stopped after {_seconds(timeout)}", False
        except dukpy.JSRuntimeError as exc:
            if state.expired:
                status, error, clean = "timed_out", f"stopped after {_seconds(timeout)}", False
            else:
                status, error = "failed", describe_js_error(str(exc), script)
                if _OUT_OF_MEMORY.match(str(exc)):
                    error = _out_of_memory(memory_mb) + error[len("InternalError: out of memory") :]
                    clean = False
        except MemoryError:
            status, error, clean = "failed", _out_of_memory(memory_mb), False
        except RecursionError:
            status, error, clean = "failed", "RangeError: the script nested too deeply", False
        except Exception:
            # A fault of the sandbox, not of the script: no details (they would show host
            # paths), and this worker is not trusted with another run.
            status, error, clean = "failed", "the sandbox failed while running the script", False
        if state.expired and status == "succeeded":
            # The deadline passed in host code and the script ended before the next tick.
            status, error, clean = "timed_out", f"stopped after {_seconds(timeout)}", False
        return {"status": status, "error": error, "truncated": state.truncated, "clean": clean}

    # --- host functions: the only Python a script can reach ------------------------------

    def host_console(self, level: str, text: str | None) -> int:
        state = self.state
        if text is None or state.output_left <= 0:
            state.truncated = True
            state.output_left = 0
            return 0
        # Lone surrogates from JavaScript strings become "?" here, once.
        data = str(text).encode("utf-8", "replace")
        if len(data) + 1 > state.output_left:
            data = data[: max(0, state.output_left - 1)]
            state.truncated = True
            state.output_left = 0
        else:
            state.output_left -= len(data) + 1
        self.send(
            {
                "t": "line",
                "l": level if level in LEVELS else "log",
                "x": data.decode("utf-8", "ignore"),
                "at": time.time(),
            }
        )
        return state.output_left

    def host_http(self, options: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        try:
            return httpclient.fetch(
                options,
                deadline=state.deadline,
                max_bytes=state.http_bytes,
                deny_private=state.deny_private,
            )
        except httpclient.HttpError as exc:
            return {"error": str(exc), "code": exc.code}

    def host_plugin(self, module: str, function: str, args: list[Any]) -> dict[str, Any]:
        if function not in self.plugins.get(module, ()):
            return {"error": f"'{module}' has no function '{function}'"}
        payload = json.dumps(args)
        if len(payload) > MAX_PLUGIN_ARGS:
            return {"error": f"arguments to {module}.{function} are over 1 MB"}
        self.send({"t": "call", "m": module, "f": function, "a": payload})
        try:
            reply = self.receive()
        except PeerClosed:
            os._exit(0)
        if reply.get("t") != "ret":
            os._exit(3)
        if reply.get("ok"):
            return {"value": reply.get("v")}
        return {"error": str(reply.get("e", "plugin call failed"))}


class SandboxInterpreter(dukpy.JSInterpreter):
    """A JSInterpreter that never runs dukpy's constructor: no process.env, no file loader,
    and an exported-function table that holds exactly the host functions given."""

    def __init__(self, functions: dict[str, Any], state: RunState) -> None:
        self._ctx = _dukpy.create_context()
        self._funcs = dict(functions)
        self._state = state

    @property
    def loader(self) -> _NoModules:
        return _NO_MODULES

    def _normalize_module(self, base_name: str, module_name: str) -> str:
        # dukpy's version stats files to resolve the name; ours answers without looking.
        return module_name

    def _check_exported_function_exists(self, func: bytes) -> bool:
        return func.decode("utf-8", "replace") in self._funcs

    def _call_python(self, func: bytes, json_args: bytes) -> bytes | None:
        state = self._state
        state.in_js = False
        try:
            args = json.loads(json_args)
            result = self._funcs[func.decode("utf-8")](*args)
            if state.expired and isinstance(result, dict):
                result["expired"] = True  # the prelude then waits for the stop
            return json.dumps(result).encode("utf-8")
        except Expired:
            raise
        except Exception:
            # Host functions report their own errors as values; anything else is a bug,
            # and its text may hold host paths, so the script sees a plain sentence.
            return json.dumps({"error": "internal error in the sandbox"}).encode("utf-8")
        finally:
            state.in_js = True


class _NoModules:
    """The module loader for `import()`: nothing is ever found, nothing is ever read."""

    def load(self, module_name: str) -> tuple[None, None, None]:
        return None, None, None

    def lookup(self, module_name: str) -> tuple[None, None]:
        return None, None


_NO_MODULES = _NoModules()


def describe_js_error(raw: str, script: str | None = None) -> str:
    """QuickJS's "message\\n    at f (<dukpy>:3:5)..." as "message (line 3, column 5)\\n
    stack", with the sandbox's own frames left out and no file names."""
    message, _, stack = raw.partition("\n")
    last_line, end_column = 1 << 30, 1
    if script is not None:
        lines = script.split("\n")
        last_line, end_column = len(lines), len(lines[-1]) + 1

    def position(match: re.Match[str]) -> str:
        # Past the last line means QuickJS reached the `void 0` the worker appends: the
        # script ended in the middle of something, so point at its end.
        line, column = int(match.group(1)), int(match.group(2))
        if line > last_line:
            line, column = last_line, end_column
        return f"<script>:{line}:{column}"

    frames = [
        _SCRIPT_FRAME.sub(position, line) for line in stack.splitlines() if "<traitor>" not in line
    ]
    found = _SCRIPT_FRAME.search(stack)
    where = ""
    if found:
        line, column = int(found.group(1)), int(found.group(2))
        if line > last_line:
            line, column = last_line, end_column
            if message.startswith("SyntaxError:"):
                message = "SyntaxError: unexpected end of script"
        elif script is not None and message.startswith(_UNEXPECTED):
            # QuickJS names the token but reports its line's first column; when the token
            # occurs once on that line, its place is certain.
            token = message[len(_UNEXPECTED) : -1]
            text = script.split("\n")[line - 1]
            if token and text.count(token) == 1:
                column = text.index(token) + 1
                frames = [
                    f.replace(f"<script>:{line}:{found.group(2)}", f"<script>:{line}:{column}")
                    for f in frames
                ]
        where = f" (line {line}, column {column})"
    if not stack.strip() and not _ERROR_NAME.match(message):
        # `throw "text"` or `throw {…}`: no Error object, no stack; say what happened.
        message = f"Uncaught {message}"
    text = message.replace("<dukpy>", "<script>") + where
    if frames:
        text += "\n" + "\n".join(frames)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "\n… (error cut)"
    return text


def _out_of_memory(memory_mb: int) -> str:
    return f"ran out of memory ({memory_mb} MB)"


def _seconds(value: float) -> str:
    return f"{value:g} s"


class JSValue(ctypes.Structure):
    # quickjs-ng on 64-bit, no NaN boxing: a 64-bit union and a 64-bit tag, passed in registers.
    _fields_ = [("u", ctypes.c_uint64), ("tag", ctypes.c_int64)]


JS_TAG_EXCEPTION = 6
JS_EVAL_TYPE_GLOBAL = 0
JS_EVAL_FLAG_COMPILE_ONLY = 1 << 5
JS_WRITE_OBJ_BYTECODE = 1 << 0
JS_READ_OBJ_BYTECODE = 1 << 0


class QuickJS:
    """The few QuickJS calls dukpy does not expose, on the runtime and context inside an
    interpreter's capsule (dukpy 0.6: `DukPyContext` starts with the JSRuntime pointer, then
    the JSContext pointer). Loaded as a PyDLL so the GIL stays held: QuickJS's interrupt
    handler calls back into Python."""

    def __init__(self) -> None:
        lib = ctypes.PyDLL(_dukpy.__file__)
        self._set_memory_limit = _bind(
            lib.JS_SetMemoryLimit, None, ctypes.c_void_p, ctypes.c_size_t
        )
        self._eval = _bind(
            lib.JS_Eval,
            JSValue,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_int,
        )
        self._write = _bind(
            lib.JS_WriteObject,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_size_t),
            JSValue,
            ctypes.c_int,
        )
        self._read = _bind(
            lib.JS_ReadObject,
            JSValue,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_int,
        )
        self._eval_function = _bind(lib.JS_EvalFunction, JSValue, ctypes.c_void_p, JSValue)
        self._free_value = _bind(lib.JS_FreeValue, None, ctypes.c_void_p, JSValue)
        self._get_exception = _bind(lib.JS_GetException, JSValue, ctypes.c_void_p)
        self._js_free = _bind(lib.js_free, None, ctypes.c_void_p, ctypes.c_void_p)
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        get_pointer.restype = ctypes.c_void_p
        self._get_pointer = get_pointer

    def _pointers(self, interpreter: SandboxInterpreter) -> tuple[int, int]:
        context = self._get_pointer(interpreter._ctx, b"DUKPY_CONTEXT_CAPSULE")
        fields = ctypes.cast(context, ctypes.POINTER(ctypes.c_void_p))
        return fields[0], fields[1]

    def set_memory_limit(self, interpreter: SandboxInterpreter, limit: int) -> None:
        runtime, _ = self._pointers(interpreter)
        self._set_memory_limit(runtime, limit)

    def compile(self, interpreter: SandboxInterpreter, source: str, filename: str) -> bytes:
        """Source -> bytecode, once per worker: reading bytecode is far cheaper than parsing."""
        _, ctx = self._pointers(interpreter)
        code = source.encode("utf-8")
        function = self._eval(
            ctx, code, len(code), filename.encode(), JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY
        )
        self._raise_if_exception(ctx, function, "compile")
        size = ctypes.c_size_t()
        buffer = self._write(ctx, ctypes.byref(size), function, JS_WRITE_OBJ_BYTECODE)
        self._free_value(ctx, function)
        if not buffer:
            raise RuntimeError("QuickJS could not write the prelude's bytecode")
        try:
            return ctypes.string_at(buffer, size.value)
        finally:
            self._js_free(ctx, buffer)

    def run(self, interpreter: SandboxInterpreter, bytecode: bytes) -> None:
        _, ctx = self._pointers(interpreter)
        function = self._read(ctx, bytecode, len(bytecode), JS_READ_OBJ_BYTECODE)
        self._raise_if_exception(ctx, function, "load")
        result = self._eval_function(ctx, function)  # takes ownership of `function`
        self._raise_if_exception(ctx, result, "run")
        self._free_value(ctx, result)

    def _raise_if_exception(self, ctx: int, value: JSValue, step: str) -> None:
        if value.tag == JS_TAG_EXCEPTION:
            self._free_value(ctx, self._get_exception(ctx))
            raise RuntimeError(f"the sandbox prelude failed to {step}")


def _bind(function: Any, restype: Any, *argtypes: Any) -> Any:
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


def _statm() -> list[int]:
    with open("/proc/self/statm") as f:
        return [int(x) for x in f.read().split()]


def _vm_bytes() -> int:
    return _statm()[0] * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    # The protocol gets private descriptors; 0 and 1 point at /dev/null so a stray print
    # can never corrupt a frame.
    read_fd, write_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    worker = Worker(read_fd, write_fd)
    try:
        config = worker.receive()
        worker.lock_down(config)
        worker.serve()
    except PeerClosed:
        pass
    except BaseException as exc:  # report why, then exit: the parent replaces the worker
        with contextlib.suppress(BaseException):
            worker.send({"t": "crash", "e": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
