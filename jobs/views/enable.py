"""`POST /api/enable?id=&enable=true|false`: start or stop scheduling a job."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from jobs import services
from jobs.errors import ApiError
from jobs.serializers import job_data
from jobs.views.base import ApiView, parse_job_id

_ANSWERS = {"true": True, "1": True, "false": False, "0": False}


class EnableView(ApiView):
    def post(self, request: Request) -> Response:
        job_id = parse_job_id(request)
        raw = request.query_params.get("enable")
        if raw is None or raw.strip().lower() not in _ANSWERS:
            shown = "nothing" if raw is None else repr(raw)
            raise ApiError(f"enable: must be true or false, got {shown} (?enable=true)")
        job = services.set_enabled(job_id, _ANSWERS[raw.strip().lower()])
        return Response({"data": job_data(job)})
