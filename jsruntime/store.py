"""`require('store')`: a small key/value store per job, kept in the database.

The shipped example of a plugin (see `jsruntime.plugins`), and a useful one: a script can
remember what it saw on its last run.

    var store = require('store');
    var last = store.get('lastPrice', null);
    store.set('lastPrice', price);

Values are anything JSON can hold. Limits keep one job from filling the database: keys of
1-200 characters, values of at most 64 KB as JSON, at most 1000 keys per job.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction

from jsruntime.plugins import PluginCall, PluginError

MAX_KEY_CHARS = 200
MAX_VALUE_BYTES = 64 * 1024
MAX_KEYS_PER_JOB = 1000


def _key(key: Any) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise PluginError(f"store keys are strings of 1 to {MAX_KEY_CHARS} characters")
    return key


def _values() -> Any:
    from jsruntime.models import ScriptValue

    return ScriptValue.objects


def get(call: PluginCall, key: Any, default: Any = None) -> Any:
    """The value stored under `key` for this job, or `default` (null when not given)."""
    row = _values().filter(job_id=call.job_id, key=_key(key)).values_list("value", flat=True)
    for text in row:
        return json.loads(text)
    return default


def set_(call: PluginCall, key: Any, value: Any = None) -> None:
    """Store `value` under `key` for this job, replacing what was there."""
    key = _key(key)
    text = json.dumps(value, separators=(",", ":"))
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise PluginError(f"store values are at most {MAX_VALUE_BYTES // 1024} KB as JSON")
    values = _values()
    # A conditional update, then an insert guarded by the unique constraint: correct on
    # SQLite, PostgreSQL and MongoDB alike, without transactions or row locks.
    if values.filter(job_id=call.job_id, key=key).update(value=text):
        return
    if values.filter(job_id=call.job_id).count() >= MAX_KEYS_PER_JOB:
        raise PluginError(f"a job's store holds at most {MAX_KEYS_PER_JOB} keys")
    try:
        # A savepoint, so a lost race does not spoil the caller's transaction on PostgreSQL.
        with transaction.atomic():
            values.create(job_id=call.job_id, key=key, value=text)
    except IntegrityError:
        if not values.filter(job_id=call.job_id, key=key).update(value=text):
            raise PluginError("this run's job is not saved, so it has no store") from None


def delete(call: PluginCall, key: Any) -> bool:
    """Remove `key`; true when it was there."""
    deleted, _ = _values().filter(job_id=call.job_id, key=_key(key)).delete()
    return bool(deleted)


def keys(call: PluginCall) -> list[str]:
    """This job's keys, sorted."""
    return list(_values().filter(job_id=call.job_id).order_by("key").values_list("key", flat=True))


TRAITOR_MODULE = "store"
TRAITOR_EXPORTS = {"get": get, "set": set_, "delete": delete, "keys": keys}
