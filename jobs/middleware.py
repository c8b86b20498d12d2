"""Under /api/, every error is JSON, whatever raised it.

DRF's exception handler shapes the errors of API views; this middleware covers what never
reaches a view (an unknown route, a body too large for Django) and any exception a view
did not expect, so a client never gets an HTML page or a bare 500 from the API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/")


def _messages(request: HttpRequest) -> dict[int, str]:
    return {
        400: "the request is malformed",
        403: "forbidden",
        404: f"no such endpoint: {request.path}; the endpoints are listed in README, section API",
        405: f"{request.method} is not allowed on {request.path}",
        413: "the request body is too large",
    }


class ApiJsonErrors:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            _is_api(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            message = _messages(request).get(response.status_code, "the request failed")
            replaced = JsonResponse({"error": message}, status=response.status_code)
            if response.has_header("Allow"):
                replaced["Allow"] = response["Allow"]
            return replaced
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_api(request):
            return None
        if isinstance(exception, Http404):
            status = 404
            message = _messages(request)[404]
        elif isinstance(exception, PermissionDenied):
            status, message = 403, "forbidden"
        elif isinstance(exception, RequestDataTooBig):
            # Raised by a read before any view (a form read for the CSRF check): the body's
            # size is not known, only that it is over the limit.
            limit = settings.TRAITOR_MAX_BODY_BYTES
            status = 413
            message = (
                f"the request body is over the limit of {limit} bytes (TRAITOR_MAX_BODY_BYTES)"
            )
        elif isinstance(exception, BadRequest | SuspiciousOperation):
            status, message = 400, f"the request is malformed: {exception}"
        else:
            logger.exception("unexpected error on %s %s", request.method, request.path)
            status = 500
            message = "internal error: the node could not answer; the node's log says why"
        return JsonResponse({"error": message}, status=status)
