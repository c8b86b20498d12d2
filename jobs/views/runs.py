"""The runs API: `POST /api/trigger`, `GET /api/runs`, `GET /api/run`."""

from __future__ import annotations

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.errors import ApiError
from jobs.views.base import ApiView, query_uuid, query_whole
from scheduler import runs

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20


def _not_found(exc: runs.RunNotFound) -> ApiError:
    return ApiError(str(exc), status.HTTP_404_NOT_FOUND)


class TriggerView(ApiView):
    def post(self, request: Request) -> Response:
        try:
            run = runs.trigger_run(query_uuid(request, "job"))
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": str(run.id)})


class RunListView(ApiView):
    def get(self, request: Request) -> Response:
        job_id = query_uuid(request, "job")
        page = query_whole(request, "page", 1, 1, 1_000_000)
        size = query_whole(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        try:
            data, total = runs.list_runs(job_id, page=page, size=size)
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": data, "total": total})


class RunView(ApiView):
    def get(self, request: Request) -> Response:
        try:
            run = runs.get_run(query_uuid(request, "run"))
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": runs.run_data(run)})
