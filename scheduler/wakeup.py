"""Wake the dispatcher the moment the schedule changes, instead of waiting for a poll.

Service functions call `notify()` after their transaction commits; the dispatch loop sleeps
in `wait(timeout)` until the earliest due fire or until notified. In standalone mode the API
and the dispatcher share one process, so an Event is enough; cluster mode adds a Redis
channel behind the same two functions.
"""

from __future__ import annotations

import threading

_changed = threading.Event()


def notify() -> None:
    _changed.set()


def wait(timeout: float | None) -> bool:
    """Sleep up to `timeout` seconds; True if woken by a change. Clears the flag."""
    woken = _changed.wait(timeout)
    _changed.clear()
    return woken
