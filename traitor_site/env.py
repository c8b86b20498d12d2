"""Typed readers for settings taken from the environment.

Each reader fails loudly, naming the variable, when a value is present but malformed:
a typo in a deployment must stop the node at start-up, not change its behaviour silently.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of on/off, true/false, 1/0; got {raw!r}")


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser() if raw else default


def env_timezone(name: str, default: str) -> str:
    """An IANA zone name, checked as a job's `timezone` is checked (`scheduler.cron.zone`).

    Checked here so a typo stops the node at start-up naming the variable, instead of every
    later job blaming its own `timezone` field for the node's default.
    """
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip()
    if value.lower() in ("localtime", "/etc/localtime"):
        raise ImproperlyConfigured(
            f"{name}: {value!r} is the host's own zone, which Traitor never uses (every node "
            "must read a cron the same way); give an IANA name such as 'UTC' or 'Europe/Paris'"
        )
    from scheduler.cron import CronError, zone  # pure Python: no Django import

    try:
        zone(value)
    except CronError:
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone name such as 'UTC', 'Europe/Paris' or "
            f"'America/New_York', got {raw!r}"
        ) from None
    return value
