"""`GET /api/jobList`: jobs, newest first, paginated and filtered, without their scripts."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.errors import ApiError
from jobs.models import ExecType, Job, JobState
from jobs.serializers import JOB_OUTPUT_COLUMNS, JobOutput
from jobs.services import jobs_here
from jobs.views.base import ApiView, query_whole

DEFAULT_SIZE = 20
MAX_SIZE = 200

_STATES = {"0": JobState.STOPPED, "1": JobState.ENABLED, "2": JobState.DONE,
           "stopped": JobState.STOPPED, "enabled": JobState.ENABLED,
           "runnable": JobState.ENABLED, "done": JobState.DONE}  # fmt: skip
_TYPES = {"0": ExecType.TIMING, "1": ExecType.DELAY, "timing": ExecType.TIMING,
          "delay": ExecType.DELAY}  # fmt: skip


def _choice(request: Request, name: str, choices: dict[str, int]) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = choices.get(raw.strip().lower())
    if value is None:
        raise ApiError(f"{name}: must be one of {', '.join(choices)}, got {raw!r}")
    return value


def filtered_jobs(request: Request) -> QuerySet[Job]:
    # `only` keeps the script column out of the query: scripts may be 256 KiB each.
    jobs = jobs_here().only(*JOB_OUTPUT_COLUMNS)
    state = _choice(request, "state", _STATES)
    if state is not None:
        jobs = jobs.filter(state=state)
    exec_type = _choice(request, "type", _TYPES)
    if exec_type is not None:
        jobs = jobs.filter(exec_type=exec_type)
    name = request.query_params.get("name", "").strip()
    if name:
        jobs = jobs.filter(name__icontains=name)
    return jobs.order_by("-created_at", "-id")  # as job_newest_idx sorts them


class JobListView(ApiView):
    def get(self, request: Request) -> Response:
        page = query_whole(request, "page", 1, 1, 10**9)
        size = query_whole(request, "size", DEFAULT_SIZE, 1, MAX_SIZE)
        jobs = filtered_jobs(request)
        total = jobs.count()
        rows = list(jobs[(page - 1) * size : page * size])
        return Response(
            {
                "data": JobOutput(rows, many=True).data,
                "total": total,
                "page": page,
                "size": size,
            }
        )
