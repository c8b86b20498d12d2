"""What a node runs beside its web server: the dispatcher and the sandbox pool.

`runnode` calls `start_node_services()` after migrating and before serving, and
`NodeServices.stop()` when it shuts down. The scheduler issue fills this in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NodeServices:
    node_name: str

    def stop(self, timeout: float = 30.0) -> None:
        """Stop dispatching, let runs in flight finish or record them, stop the pool."""


def start_node_services(node_name: str) -> NodeServices:
    return NodeServices(node_name=node_name)
