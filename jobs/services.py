"""Every change to a job's state goes through one function here.

The API, the admin and the console call these functions and nothing else, so the
scheduling invariant the dispatcher relies on holds whoever makes the change:

    a job is scheduled iff ``state == ENABLED`` and ``next_fire_at`` is the next fire
    instant not yet dispatched (aware UTC).

Each change of what or when a job runs bumps ``version``; writes that depend on what was
read are conditional on it (``filter(pk=…, version=…).update(…)``), which works on SQLite,
PostgreSQL and MongoDB alike, so a dispatcher never acts on a schedule changed under it.
After the transaction commits, the dispatcher is woken (``scheduler.wakeup.notify``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone as dj_timezone

from jobs.models import ExecType, Job, JobState
from scheduler import cron, wakeup

logger = logging.getLogger(__name__)

# The per-job sandbox limit overrides, in the order forms show them.
LIMIT_FIELDS = ("timeout_seconds", "memory_mb", "output_bytes", "http_response_bytes")
# Model fields a caller may set; the scheduling bookkeeping (state, next_fire_at,
# last_exec_time, version) is only ever written by the functions below and the dispatcher.
EDITABLE_FIELDS = (
    "name",
    "description",
    "exec_type",
    "cron",
    "exec_at",
    "timezone",
    "script",
    "catch_up",
    "allow_overlap",
    *LIMIT_FIELDS,
)
# A change to any of these changes *when* the job fires: the next fire is recomputed.
SCHEDULE_FIELDS = frozenset({"exec_type", "cron", "exec_at", "timezone"})
# A change to any of these changes *what* runs or how: the version is bumped.
BEHAVIOUR_FIELDS = SCHEDULE_FIELDS | {"script", "catch_up", "allow_overlap", *LIMIT_FIELDS}
# The API's names for the model's fields, so that every message names what the caller sent.
API_NAMES = {
    "exec_type": "execType",
    "exec_at": "execAt",
    "catch_up": "catchUp",
    "allow_overlap": "allowOverlap",
    "timeout_seconds": "timeoutSeconds",
    "memory_mb": "memoryMb",
    "output_bytes": "outputBytes",
    "http_response_bytes": "httpResponseBytes",
}

# How often a conditional write is retried when the dispatcher changed the row meanwhile.
_WRITE_ATTEMPTS = 5


class JobError(Exception):
    """A change that cannot be made; `message` is a sentence for the caller that names `field`."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class JobNotFound(JobError):
    status = 404


class JobConflict(JobError):
    status = 409


def _now(now: datetime | None) -> datetime:
    return now if now is not None else dj_timezone.now()


def _after_commit() -> None:
    transaction.on_commit(wakeup.notify)


def _describe(instant: datetime) -> str:
    seconds = instant.timestamp()
    shown = int(seconds) if seconds.is_integer() else round(seconds, 3)
    return f"{instant.astimezone(UTC).isoformat()} (Unix {shown})"


# --- Checks -----------------------------------------------------------------------------------


# Names that open the host's own zone: Traitor never reads it (DESIGN: the host's zone never
# matters), so they get their own message rather than "unknown time zone".
_HOST_ZONE_NAMES = frozenset({"localtime", "/etc/localtime"})


def host_zone_refusal(name: str) -> str | None:
    """Why `name` is refused when it names the host's own zone; None for any other name."""
    if name.strip().lower() not in _HOST_ZONE_NAMES:
        return None
    return (
        f"{name!r} is the host's own zone, which Traitor never uses (every node must read a "
        "cron the same way); give an IANA name such as 'UTC', 'Europe/Paris' or "
        "'America/New_York'"
    )


def check_timezone(name: str) -> None:
    refusal = host_zone_refusal(name)
    if refusal:
        raise JobError(f"timezone: {refusal}", "timezone")
    try:
        cron.zone(name)
    except cron.CronError as exc:
        raise JobError(_field_message(str(exc), "timezone"), "timezone") from None


def check_script(script: str) -> None:
    size = len(script.encode("utf-8"))
    limit = settings.TRAITOR_MAX_SCRIPT_BYTES
    if size > limit:
        raise JobError(
            f"script: the script is {size} bytes; the limit is {limit} bytes "
            "(TRAITOR_MAX_SCRIPT_BYTES)",
            "script",
        )


def check_limits(job: Job) -> None:
    """Per-job sandbox limits stay within the operator's ceilings (TRAITOR_*_MAX_*)."""
    ceilings = {
        "timeout_seconds": settings.TRAITOR_RUN_TIMEOUT_MAX_SECONDS,
        "memory_mb": settings.TRAITOR_RUN_MEMORY_MAX_MB,
        "output_bytes": settings.TRAITOR_RUN_OUTPUT_MAX_BYTES,
        "http_response_bytes": settings.TRAITOR_HTTP_RESPONSE_MAX_BYTES,
    }
    for field, ceiling in ceilings.items():
        value = getattr(job, field)
        if value is not None and value > ceiling:
            name = API_NAMES[field]
            raise JobError(f"{name}: must be at most {ceiling:g}, the node's maximum", name)


def check_exec_at(exec_at: datetime, now: datetime) -> None:
    """A delay job's instant must be at least TRAITOR_MIN_DELAY_SECONDS ahead of now."""
    minimum = settings.TRAITOR_MIN_DELAY_SECONDS
    if exec_at <= now:
        raise JobError(
            f"execAt: {_describe(exec_at)} is in the past; give an instant at least "
            f"{minimum} s ahead",
            "execAt",
        )
    if exec_at < now + timedelta(seconds=minimum):
        ahead = (exec_at - now).total_seconds()
        raise JobError(
            f"execAt: {_describe(exec_at)} is only {ahead:.1f} s ahead; the smallest delay is "
            f"{minimum} s",
            "execAt",
        )


def check_cron(expr: str, tz: str, now: datetime) -> cron.CronSchedule:
    """Parse `expr` and make sure it fires again after `now`; CronError becomes JobError."""
    if not expr.strip():
        raise JobError(
            'cron: a timing job needs a cron expression, for example "0 */5 * * * *"', "cron"
        )
    try:
        return cron.validate(expr, tz, now)
    except cron.CronError as exc:
        # The engine names the cron field at fault (minute, day of week…) inside its
        # message; for the API the field is `cron`, or `timezone` for an unknown zone.
        field = "timezone" if exc.field == "timezone" else "cron"
        raise JobError(_field_message(str(exc), field), field) from None


def _field_message(message: str, field: str) -> str:
    return message if message.startswith(f"{field}") else f"{field}: {message}"


def check_runnable(job: Job, now: datetime) -> datetime:
    """The job's first fire strictly after `now`, or JobError saying why it cannot run."""
    check_timezone(job.timezone)
    if job.exec_type == ExecType.TIMING:
        schedule = check_cron(job.cron, job.timezone, now)
        fire = schedule.next_after(now)
        if fire is None:  # validate() promised one; keep the invariant even if it lied
            raise JobError(f"cron: {job.cron!r} never fires again", "cron")
        return fire
    if job.exec_at is None:
        raise JobError(
            "execAt: a delay job needs execAt, a Unix timestamp in seconds or an ISO-8601 "
            "instant with offset",
            "execAt",
        )
    check_exec_at(job.exec_at, now)
    return job.exec_at


def _check_fields(job: Job, changed: set[str], now: datetime) -> None:
    """Check what the caller set, whether or not the job is enabled."""
    if "timezone" in changed:
        check_timezone(job.timezone)
    if "script" in changed:
        check_script(job.script)
    if changed & set(LIMIT_FIELDS):
        check_limits(job)
    if job.exec_type == ExecType.TIMING and changed & {"cron", "timezone", "exec_type"}:
        check_cron(job.cron, job.timezone, now)
    if job.exec_type == ExecType.DELAY and job.exec_at is None:
        raise JobError(
            "execAt: a delay job needs execAt, a Unix timestamp in seconds or an ISO-8601 "
            "instant with offset",
            "execAt",
        )
    # Checked whatever the type: a timing job keeps it, and may become a delay job later.
    if "exec_at" in changed and job.exec_at is not None:
        check_exec_at(job.exec_at, now)


# --- State changes ----------------------------------------------------------------------------


def _new_job(data: Mapping[str, Any], now: datetime) -> Job:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise JobError(f"{sorted(unknown)[0]}: this field cannot be set", sorted(unknown)[0])
    job = Job(**dict(data))
    job.cluster = settings.TRAITOR_CLUSTER
    if not job.timezone:
        job.timezone = settings.TRAITOR_DEFAULT_TIMEZONE
    if not (job.name or "").strip():
        raise JobError("name: the job needs a name", "name")
    _check_fields(job, set(data) | {"timezone", "exec_type"}, now)
    job.state = JobState.STOPPED
    job.next_fire_at = None
    return job


def create_job(data: Mapping[str, Any], *, now: datetime | None = None) -> Job:
    """Store a new job, stopped: it is not scheduled until enabled."""
    now = _now(now)
    job = _new_job(data, now)
    with transaction.atomic():
        job.save(force_insert=True)
        _after_commit()
    logger.info("job created", extra={"job_id": str(job.id)})
    return job


def create_and_enable(data: Mapping[str, Any], *, now: datetime | None = None) -> Job:
    """Store a new job already scheduled (the original `/api/run`)."""
    now = _now(now)
    job = _new_job(data, now)
    job.next_fire_at = check_runnable(job, now)
    job.state = JobState.ENABLED
    with transaction.atomic():
        job.save(force_insert=True)
        _after_commit()
    logger.info("job created enabled", extra={"job_id": str(job.id)})
    return job


def jobs_here() -> QuerySet[Job]:
    """This node's cluster's jobs: several clusters may share one database."""
    return Job.objects.filter(cluster=settings.TRAITOR_CLUSTER)


def get_job(job_id: uuid.UUID | str, *, with_script: bool = True) -> Job:
    queryset = jobs_here() if with_script else jobs_here().defer("script")
    try:
        return queryset.get(pk=job_id)
    except Job.DoesNotExist:
        raise JobNotFound(f"id: no job has the id {job_id}", "id") from None


def _conditional_write(job: Job, values: dict[str, Any], *, bump: bool) -> bool:
    """Write `values` only if nobody changed the job since it was read; True if written."""
    values = dict(values)
    values["updated_at"] = dj_timezone.now()
    if bump:
        values["version"] = F("version") + 1
    written = Job.objects.filter(pk=job.pk, version=job.version).update(**values)
    return written == 1


def _check_editable(changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise JobError(f"{API_NAMES.get(name, name)}: this field cannot be changed", name)


def _plan_update(
    job: Job, changes: Mapping[str, Any], now: datetime
) -> tuple[set[str], dict[str, Any]]:
    """Apply `changes` to `job` in memory, check them, and say which columns to write."""
    changed = {name for name, value in changes.items() if getattr(job, name) != value}
    for name in changed:
        setattr(job, name, changes[name])
    if "name" in changed and not job.name.strip():
        raise JobError("name: the job needs a name", "name")
    _check_fields(job, changed, now)
    values = {name: getattr(job, name) for name in changed}
    if changed & SCHEDULE_FIELDS:
        if job.state == JobState.ENABLED:
            values["next_fire_at"] = check_runnable(job, now)
        elif job.state == JobState.DONE:
            # A finished delay job given a new time is a stopped job again: it runs once
            # more only when enabled.
            values["state"] = JobState.STOPPED
            values["next_fire_at"] = None
    return changed, values


def check_new(data: Mapping[str, Any], *, now: datetime | None = None) -> None:
    """Raise JobError if `create_job(data)` would; writes nothing (the admin's form uses it)."""
    _new_job(data, _now(now))


def check_update(
    job_id: uuid.UUID | str, changes: Mapping[str, Any], *, now: datetime | None = None
) -> None:
    """Raise JobError if `update_job(job_id, changes)` would; writes nothing."""
    _check_editable(changes)
    _plan_update(get_job(job_id), changes, _now(now))


def update_job(
    job_id: uuid.UUID | str, changes: Mapping[str, Any], *, now: datetime | None = None
) -> Job:
    """Change some of a job's fields; an enabled job is rescheduled at once.

    The new schedule is checked as enabling would check it: an enabled job whose new cron
    never fires again, or whose new execAt is too close, is refused and nothing changes.
    """
    now = _now(now)
    _check_editable(changes)
    for _attempt in range(_WRITE_ATTEMPTS):
        with transaction.atomic():
            job = get_job(job_id)
            changed, values = _plan_update(job, changes, now)
            if not values:
                return job
            if _conditional_write(job, values, bump=bool(changed & BEHAVIOUR_FIELDS)):
                _after_commit()
                break
        # The dispatcher (or another caller) changed the job between the read and the
        # write: read it again and re-check against what it is now.
    else:
        raise JobConflict("the job kept changing while it was updated; try again")
    logger.info("job updated", extra={"job_id": str(job_id), "fields": sorted(changed)})
    return get_job(job_id)


def replace_script(job_id: uuid.UUID | str, script: str) -> Job:
    """Replace the script; the next run uses the new one."""
    check_script(script)
    with transaction.atomic():
        written = (
            jobs_here()
            .filter(pk=job_id)
            .update(script=script, version=F("version") + 1, updated_at=dj_timezone.now())
        )
        if not written:
            raise JobNotFound(f"id: no job has the id {job_id}", "id")
    logger.info("job script replaced", extra={"job_id": str(job_id)})
    return get_job(job_id)


def delete_job(job_id: uuid.UUID | str) -> None:
    """Delete the job and its runs; it leaves the schedule with it."""
    with transaction.atomic():
        deleted, _by_model = jobs_here().filter(pk=job_id).delete()
        if not deleted:
            raise JobNotFound(f"id: no job has the id {job_id}", "id")
        _after_commit()
    logger.info("job deleted", extra={"job_id": str(job_id)})


def set_enabled(job_id: uuid.UUID | str, enable: bool, *, now: datetime | None = None) -> Job:
    """Start or stop scheduling a job.

    Enabling checks that the job can run (a cron that fires again; an execAt far enough
    ahead) and sets its next fire; enabling an enabled job changes nothing, so a fire that
    is due but not yet dispatched is not skipped. Disabling removes it from the schedule;
    a job that is not enabled is left as it is (a finished delay job stays "done").
    """
    now = _now(now)
    for _attempt in range(_WRITE_ATTEMPTS):
        with transaction.atomic():
            job = get_job(job_id, with_script=False)
            if enable:
                if job.state == JobState.ENABLED:
                    return job
                values: dict[str, Any] = {
                    "state": JobState.ENABLED,
                    "next_fire_at": check_runnable(job, now),
                }
            else:
                if job.state != JobState.ENABLED:
                    return job
                values = {"state": JobState.STOPPED, "next_fire_at": None}
            if _conditional_write(job, values, bump=True):
                _after_commit()
                break
    else:
        raise JobConflict("the job kept changing while it was enabled or disabled; try again")
    logger.info("job enabled" if enable else "job disabled", extra={"job_id": str(job_id)})
    return get_job(job_id, with_script=False)
