"""The runs API: `POST /api/trigger`, `GET /api/runs`, `GET /api/run`."""

from __future__ import annotations

import uuid

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.errors import ApiError
from jobs.views.base import ApiView
from scheduler import runs

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20


def _id(request: Request, what: str) -> uuid.UUID:
    raw = (request.query_params.get("id") or "").strip()
    if not raw:
        raise ApiError(f"id: give the {what}'s id in the query string, as ?id=<uuid>")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(
            f"id: {raw!r} is not a {what} id; ids are UUIDs such as "
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
        ) from None


def _whole(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name}: must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(f"{name}: must be between {minimum} and {maximum}, got {value}")
    return value


def _not_found(exc: runs.RunNotFound) -> ApiError:
    return ApiError(str(exc), status.HTTP_404_NOT_FOUND)


class TriggerView(ApiView):
    def post(self, request: Request) -> Response:
        try:
            run = runs.trigger_run(_id(request, "job"))
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": str(run.id)})


class RunListView(ApiView):
    def get(self, request: Request) -> Response:
        job_id = _id(request, "job")
        page = _whole(request, "page", 1, 1, 1_000_000)
        size = _whole(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        try:
            data, total = runs.list_runs(job_id, page=page, size=size)
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": data, "total": total})


class RunView(ApiView):
    def get(self, request: Request) -> Response:
        try:
            run = runs.get_run(_id(request, "run"))
        except runs.RunNotFound as exc:
            raise _not_found(exc) from None
        return Response({"data": runs.run_data(run)})
