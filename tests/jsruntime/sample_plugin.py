"""A plugin used by the tests: shows what a plugin function receives and how errors look."""

from __future__ import annotations

import time
from typing import Any

from jsruntime.plugins import PluginCall, PluginError


def whoami(call: PluginCall) -> dict[str, Any]:
    return {"job": call.job_id, "run": call.run_id, "trigger": call.trigger}


def add(call: PluginCall, a: float, b: float) -> float:
    return a + b


def refuse(call: PluginCall, why: str) -> None:
    raise PluginError(f"refused: {why}")


def crash(call: PluginCall) -> None:
    raise RuntimeError("/srv/secret/path exploded")


def nap(call: PluginCall, seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


TRAITOR_MODULE = "sample"
TRAITOR_EXPORTS = {"whoami": whoami, "add": add, "refuse": refuse, "crash": crash, "nap": nap}
