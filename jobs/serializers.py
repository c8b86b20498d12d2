"""The API's shapes: input serializers that refuse wrong types, and the one job output.

Field names keep the original Traitor's camelCase (`jobId`, `execType`, `execAt`); `source`
maps them onto the model. Other parts (the run views, the console) import `JobOutput` and
`job_data` from here, so a job looks the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from jobs.models import ExecType, Job, JobState

_TYPE_NAMES = {"0": ExecType.TIMING, "1": ExecType.DELAY, "timing": ExecType.TIMING,
               "delay": ExecType.DELAY}  # fmt: skip


def parse_exec_type(value: Any, field: str = "execType") -> ExecType:
    """0/1, "0"/"1" or "timing"/"delay" (any case) as an ExecType; ValidationError otherwise."""
    if isinstance(value, bool):
        value = None  # True is 1 in Python, but not a type
    elif isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.strip().lower() in _TYPE_NAMES:
        return _TYPE_NAMES[value.strip().lower()]
    raise serializers.ValidationError(
        {field: 'must be 0 or "timing" (a cron job), or 1 or "delay" (a job that runs once)'}
    )


def parse_instant(value: Any) -> datetime:
    """A Unix timestamp in seconds (number or numeric string) or ISO-8601 with an offset."""
    hint = (
        'must be a Unix timestamp in seconds (1672502400 or "1672502400") or an ISO-8601 '
        'instant with an offset ("2023-01-01T00:00:00Z")'
    )
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise serializers.ValidationError(hint)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("z", "Z"))
            except ValueError:
                raise serializers.ValidationError(hint) from None
            if parsed.tzinfo is None:
                raise serializers.ValidationError(
                    f"{text!r} has no offset; add one (Z or +02:00) so the instant is not ambiguous"
                ) from None
            try:
                return parsed.astimezone(UTC)
            except OverflowError:
                raise serializers.ValidationError(f"{text!r} is out of range") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise serializers.ValidationError(hint)
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise serializers.ValidationError(f"{value} is out of range; {hint}") from None


def unix_seconds(instant: datetime | None) -> int | float | None:
    """Unix seconds, a whole number when the instant falls on a second."""
    if instant is None:
        return None
    seconds = instant.timestamp()
    return int(seconds) if seconds == int(seconds) else seconds


# --- Strict input fields: JSON types are checked, never coerced ------------------------------

_MESSAGES = {
    "required": "is required",
    "null": "must not be null",
    "blank": "must not be empty",
    "max_length": "must be at most {max_length} characters",
    "min_value": "must be at least {min_value}",
    "max_value": "must be at most {max_value}",
}


class StrictCharField(serializers.CharField):
    default_error_messages = {**_MESSAGES, "invalid": "must be a string"}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {**_MESSAGES, "invalid": "must be true or false"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {**_MESSAGES, "invalid": "must be a whole number"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {**_MESSAGES, "invalid": "must be a number"}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class ExecTypeField(serializers.Field):
    default_error_messages = _MESSAGES

    def to_internal_value(self, data: Any) -> int:
        try:
            return int(parse_exec_type(data))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(exc.detail["execType"]) from None

    def to_representation(self, value: int) -> int:
        return int(value)


class InstantField(serializers.Field):
    default_error_messages = _MESSAGES

    def to_internal_value(self, data: Any) -> datetime:
        return parse_instant(data)

    def to_representation(self, value: datetime) -> int | float | None:
        return unix_seconds(value)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them and what is allowed."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("the body must be a JSON object")
        unknown = [key for key in data if key not in self.fields]
        if unknown:
            allowed = ", ".join(self.fields)
            raise serializers.ValidationError(
                {unknown[0]: f"unknown field; the fields allowed here are {allowed}"}
            )
        return super().to_internal_value(data)


class JobInput(StrictSerializer):
    """The body of create (`POST /api/job`, `POST /api/run`) and update (`PUT /api/job`)."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    execType = ExecTypeField(source="exec_type", required=False)
    cron = StrictCharField(required=False, allow_blank=True, max_length=200)
    execAt = InstantField(source="exec_at", required=False)
    timezone = StrictCharField(required=False, max_length=64)
    script = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    catchUp = StrictBooleanField(source="catch_up", required=False)
    allowOverlap = StrictBooleanField(source="allow_overlap", required=False)
    # Per-job sandbox limits; null returns to the node's default. The operator's ceilings
    # are checked by jobs.services, for the admin's sake too.
    timeoutSeconds = StrictFloatField(
        source="timeout_seconds", required=False, allow_null=True, min_value=0.1
    )
    memoryMb = StrictIntegerField(source="memory_mb", required=False, allow_null=True, min_value=16)
    outputBytes = StrictIntegerField(
        source="output_bytes", required=False, allow_null=True, min_value=1024
    )
    httpResponseBytes = StrictIntegerField(
        source="http_response_bytes", required=False, allow_null=True, min_value=1024
    )


class ScriptInput(StrictSerializer):
    """The body of `POST /api/script`."""

    script = StrictCharField(allow_blank=True, trim_whitespace=False)


# --- Output -----------------------------------------------------------------------------------


class JobOutput(serializers.Serializer):
    """A job as the API shows it, without its script (`GET /api/script` gives that)."""

    jobId = serializers.UUIDField(source="id")
    name = serializers.CharField()
    description = serializers.CharField()
    execType = serializers.IntegerField(source="exec_type")
    type = serializers.SerializerMethodField()
    # Each job type has its own "when"; the other field is null (it may still be stored, for
    # a later change of type, but it does not apply).
    cron = serializers.SerializerMethodField()
    execAt = serializers.SerializerMethodField(method_name="get_exec_at")
    timezone = serializers.CharField()
    state = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    lastExecTime = InstantField(source="last_exec_time")
    nextExecTime = InstantField(source="next_fire_at")
    catchUp = serializers.BooleanField(source="catch_up")
    allowOverlap = serializers.BooleanField(source="allow_overlap")
    timeoutSeconds = serializers.FloatField(source="timeout_seconds")
    memoryMb = serializers.IntegerField(source="memory_mb")
    outputBytes = serializers.IntegerField(source="output_bytes")
    httpResponseBytes = serializers.IntegerField(source="http_response_bytes")
    version = serializers.IntegerField()
    createdAt = InstantField(source="created_at")
    updatedAt = InstantField(source="updated_at")

    def get_type(self, job: Job) -> str:
        return ExecType(job.exec_type).label

    def get_cron(self, job: Job) -> str | None:
        return job.cron if job.exec_type == ExecType.TIMING else None

    def get_exec_at(self, job: Job) -> int | float | None:
        return unix_seconds(job.exec_at) if job.exec_type == ExecType.DELAY else None

    def get_status(self, job: Job) -> str:
        return JobState(job.state).label


def job_data(job: Job) -> dict[str, Any]:
    return dict(JobOutput(job).data)


# The output reads every column but the script: list views load exactly these.
JOB_OUTPUT_COLUMNS = tuple(
    f.name for f in Job._meta.concrete_fields if f.name not in ("script", "cluster")
)
