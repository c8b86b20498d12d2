"""`/api/script?id=`: read (GET) or replace (POST) a job's script."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from jobs import services
from jobs.serializers import ScriptInput
from jobs.views.base import ApiView, json_body, parse_job_id


class ScriptView(ApiView):
    def get(self, request: Request) -> Response:
        job = services.get_job(parse_job_id(request))
        return Response({"data": {"jobId": str(job.id), "script": job.script}})

    def post(self, request: Request) -> Response:
        job_id = parse_job_id(request)
        serializer = ScriptInput(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        job = services.replace_script(job_id, serializer.validated_data["script"])
        return Response({"data": {"jobId": str(job.id), "version": job.version}})
