"""`GET /api/cron/preview?cron=&tz=&count=&after=`: the next fires of an expression.

The same validation as creating or enabling a timing job (`scheduler.cron.validate`), so a
preview that answers 200 is an expression a job will accept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone as dj_timezone
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.errors import ApiError
from jobs.services import host_zone_refusal
from jobs.views.base import ApiView
from scheduler import cron

DEFAULT_COUNT = 5
MAX_COUNT = 100


class CronPreviewView(ApiView):
    def get(self, request: Request) -> Response:
        params = request.query_params
        expr = params.get("cron", "")
        if not expr.strip():
            raise ApiError(
                "cron: give the expression in the query string, as ?cron=0+0+8+*+*+MON "
                "(spaces written as + or %20)"
            )
        tz = params.get("tz") or settings.TRAITOR_DEFAULT_TIMEZONE
        refusal = host_zone_refusal(tz)
        if refusal:
            raise ApiError(f"tz: {refusal}")
        count = _count(params.get("count"))
        after = _after(params.get("after"))
        try:
            schedule = cron.validate(expr, tz, after)
        except cron.CronError as exc:
            message = str(exc)
            if exc.field == "timezone":
                # The query parameter is called `tz`: name it as the caller wrote it.
                message = "tz" + message.removeprefix("timezone")
            raise ApiError(message) from None
        fires = schedule.next_fires(after, count)
        return Response({"data": [f.astimezone(schedule.tz).isoformat() for f in fires]})


def _count(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_COUNT
    text = raw.strip()
    if not (text.isdigit() and text.isascii()) or not 1 <= int(text) <= MAX_COUNT:
        raise ApiError(f"count: {raw!r} is not a whole number from 1 to {MAX_COUNT}")
    return int(text)


def _after(raw: str | None) -> datetime:
    """`after` as an aware instant: ISO-8601 with an offset, or Unix seconds; default now."""
    if raw is None or not raw.strip():
        return dj_timezone.now()
    # An unencoded '+' in a query string arrives as a space: "2024-01-01T00:00:00 02:00".
    text = raw.strip().replace(" ", "+")
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            f"after: {raw!r} is not an instant: give ISO-8601 with an offset such as "
            "2030-01-01T08:00:00Z or 2030-01-01T08:00:00%2B02:00, or Unix seconds"
        ) from None
    if instant.tzinfo is None:
        raise ApiError(
            f"after: {raw!r} has no offset, so it is not one instant: add Z or +hh:mm "
            "(written %2B in a URL)"
        )
    return instant
