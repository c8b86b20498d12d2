"""Plugins: Python modules whose functions scripts call as `require('name').fn(...)`.

A plugin is trusted code and runs in the parent process (where the Django ORM and the
node's settings are), never in the sandbox worker: the worker forwards each call over its
pipe, the pool calls the function in the thread that asked for the run, and the answer goes
back as JSON. A plugin module declares:

    TRAITOR_MODULE = "greet"                  # the name scripts require (default: module name;
                                              # an entry point's name wins over it)
    TRAITOR_EXPORTS = {"hello": hello}        # JavaScript name -> function

Each function receives a `PluginCall` first (which job and run is calling, how much time it
has left), then the script's arguments as JSON values, and returns a JSON value. Raising
`PluginError("message")` throws `new Error("message")` in the script; any other exception is
logged here and the script sees only "internal error in plugin 'greet'".
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from jsruntime.types import SandboxError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "traitor.plugins"
BUILTIN_MODULES = frozenset({"http"})
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_FUNCTION = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")


class PluginError(Exception):
    """Raised by a plugin function: its message is what the script's Error says."""


@dataclass(frozen=True)
class PluginCall:
    """Who is calling: plugins scope what they touch by job_id."""

    job_id: str
    job_name: str
    run_id: str | None
    trigger: str
    deadline: float  # time.monotonic() at which the run is stopped

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True)
class Plugin:
    name: str
    functions: dict[str, Callable[..., Any]]


def plugin_from_module(module: Any, default_name: str, *, name: str | None = None) -> Plugin:
    if name is None:
        name = getattr(module, "TRAITOR_MODULE", default_name)
    exports = getattr(module, "TRAITOR_EXPORTS", None)
    where = getattr(module, "__name__", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise SandboxError(f"plugin {where}: TRAITOR_MODULE must be a lowercase name like 'store'")
    if name in BUILTIN_MODULES:
        raise SandboxError(f"plugin {where}: '{name}' is a built-in module and cannot be replaced")
    if not isinstance(exports, dict) or not exports:
        raise SandboxError(f"plugin {where}: TRAITOR_EXPORTS must be a dict of name -> function")
    for function_name, function in exports.items():
        if not isinstance(function_name, str) or not _FUNCTION.match(function_name):
            raise SandboxError(f"plugin {where}: {function_name!r} is not a JavaScript name")
        if not callable(function):
            raise SandboxError(f"plugin {where}: {function_name} is not callable")
    return Plugin(name=name, functions=dict(exports))


def load_plugins(module_paths: list[str], *, use_entry_points: bool = True) -> dict[str, Plugin]:
    """The plugins named in settings (dotted module paths), then those installed under the
    `traitor.plugins` entry-point group. Two plugins with one name are a configuration error."""
    found: dict[str, Plugin] = {}

    def add(plugin: Plugin, origin: str) -> None:
        if plugin.name in found:
            raise SandboxError(f"two plugins are named '{plugin.name}' (the second: {origin})")
        found[plugin.name] = plugin

    for path in module_paths:
        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            raise SandboxError(f"cannot import plugin module {path!r}: {exc}") from exc
        add(plugin_from_module(module, path.rsplit(".", 1)[-1]), path)
    if use_entry_points:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = entry.load()
            # The entry point's own name is the one scripts require.
            add(
                plugin_from_module(loaded, entry.name, name=entry.name),
                f"entry point {entry.value}",
            )
    return found


def call_plugin(
    plugins: dict[str, Plugin], module: str, function: str, args: list[Any], call: PluginCall
) -> tuple[bool, Any]:
    """(True, value) or (False, message for the script)."""
    plugin = plugins.get(module)
    target = plugin.functions.get(function) if plugin else None
    if target is None:
        return False, f"'{module}' has no function '{function}'"
    try:
        return True, target(call, *args)
    except PluginError as exc:
        return False, str(exc)
    except TypeError as exc:
        # Usually the script passed the wrong number of arguments; say so without a trace.
        logger.info("plugin %s.%s: %s", module, function, exc, extra={"job_id": call.job_id})
        return False, f"{module}.{function}: wrong arguments"
    except Exception:
        logger.exception(
            "plugin %s.%s failed",
            module,
            function,
            extra={"job_id": call.job_id, "run_id": call.run_id},
        )
        return False, f"internal error in plugin '{module}'"
