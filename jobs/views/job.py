"""`/api/job`: create (POST), show (GET), change (PUT) and delete (DELETE) one job."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from jobs import services
from jobs.errors import ApiError
from jobs.serializers import JobInput, job_data, parse_exec_type
from jobs.views.base import ApiView, json_body, parse_job_id


def exec_type_of(request: Request, body: dict[str, Any]) -> int:
    """The job type from `?type=` or the body's `execType`; both may be given if they agree."""
    from_query = request.query_params.get("type")
    from_body = body.get("execType")
    query_type = parse_exec_type(from_query, "type") if from_query is not None else None
    body_type = parse_exec_type(from_body, "execType") if "execType" in body else None
    if query_type is not None and body_type is not None and query_type != body_type:
        raise ApiError(
            f"type: ?type={from_query} and execType {from_body!r} disagree; give one of them"
        )
    chosen = query_type if query_type is not None else body_type
    if chosen is None:
        raise ApiError(
            "type: say which kind of job this is with ?type=timing (cron) or ?type=delay "
            "(once, at execAt), or execType 0/1 in the body"
        )
    return int(chosen)


def create_input(request: Request) -> dict[str, Any]:
    """A create body checked and turned into model fields (shared with `POST /api/run`)."""
    body = json_body(request)
    exec_type = exec_type_of(request, body)
    serializer = JobInput(data=body)
    serializer.is_valid(raise_exception=True)
    return {**serializer.validated_data, "exec_type": exec_type}


class JobView(ApiView):
    def post(self, request: Request) -> Response:
        job = services.create_job(create_input(request))
        # The document names `id`; the original server answered `data`: give both.
        return Response({"id": str(job.id), "data": str(job.id)})

    def get(self, request: Request) -> Response:
        job = services.get_job(parse_job_id(request), with_script=False)
        return Response({"data": job_data(job)})

    def put(self, request: Request) -> Response:
        job_id = parse_job_id(request)
        body = json_body(request)
        if not body:
            raise ApiError(
                "the body is empty: give the fields to change, any of "
                + ", ".join(JobInput().fields)
            )
        serializer = JobInput(data=body, partial=True)
        serializer.is_valid(raise_exception=True)
        job = services.update_job(job_id, serializer.validated_data)
        return Response({"data": job_data(job)})

    def delete(self, request: Request) -> Response:
        job_id = parse_job_id(request)
        services.delete_job(job_id)
        return Response({"data": str(job_id)})
