"""`POST /api/run`: create a job and enable it in one step (the original's quick path)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from jobs import services
from jobs.views.base import ApiView
from jobs.views.job import create_input


class CreateAndEnableView(ApiView):
    def post(self, request: Request) -> Response:
        job = services.create_and_enable(create_input(request))
        # As create answers: the documented `id`, and `data` as the original server did.
        return Response({"id": str(job.id), "data": str(job.id)})
