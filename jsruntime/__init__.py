"""The JavaScript sandbox: the only place where job scripts run.

    from jsruntime import get_pool, RunContext
    result = get_pool().run(script, RunContext(job_id=job.id, job_name=job.name))

Importing this package starts nothing; `get_pool()` starts the worker processes on first use.
"""

from __future__ import annotations

from jsruntime.plugins import PluginCall, PluginError
from jsruntime.pool import SandboxPool, get_pool, shutdown_pool
from jsruntime.types import ConsoleLine, RunContext, RunLimits, RunResult, SandboxError

__all__ = [
    "ConsoleLine",
    "PluginCall",
    "PluginError",
    "RunContext",
    "RunLimits",
    "RunResult",
    "SandboxError",
    "SandboxPool",
    "get_pool",
    "shutdown_pool",
]
