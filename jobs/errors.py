"""One error shape for the whole API: 4xx with `{"error": "<what is wrong, how to fix it>"}`."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from jobs.services import JobError

TOKEN_HELP = "(the first `runnode` printed the admin's token; see README, section Node)"
AUTH_HINT = f"send 'Authorization: Token <key>' {TOKEN_HELP} or log in at /admin/"
# A scheme short and plain enough to repeat back; anything else may be the key itself.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,19}")


class ApiError(exceptions.APIException):
    """Raised by views with a message meant for the person calling the API."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(detail=message)
        self.status_code = status_code


def _first_message(detail: Any, field: str | None = None) -> str:
    """Flatten DRF's nested error details into one sentence that names the field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key == "non_field_errors" else str(key)
            return _first_message(value, name or field)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], field)
    text = str(detail)
    return f"{field}: {text}" if field else text


def _message(exc: Exception, context: dict) -> str:
    request = context.get("request")
    if isinstance(exc, exceptions.NotAuthenticated):
        sent = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
        if sent.strip():
            return _wrong_scheme(sent)
        return f"authentication required: {AUTH_HINT}"
    if isinstance(exc, exceptions.AuthenticationFailed):
        return f"the credentials were refused ({_first_message(exc.detail)}): {AUTH_HINT}"
    if isinstance(exc, exceptions.MethodNotAllowed) and request is not None:
        view = context.get("view")
        allowed = ", ".join(
            m for m in getattr(view, "allowed_methods", []) if m not in ("HEAD", "OPTIONS")
        )
        return f"{request.method} is not allowed on {request.path}; use {allowed}"
    if isinstance(exc, exceptions.NotAcceptable):
        return "this API only answers JSON: send 'Accept: application/json' or no Accept header"
    return _first_message(getattr(exc, "detail", str(exc)))


def _wrong_scheme(header: str) -> str:
    """An Authorization header TokenAuthentication skipped: another scheme, or none."""
    words = header.split()
    use = f"use 'Authorization: Token <key>' {TOKEN_HELP}"
    if len(words) >= 2 and _SCHEME.fullmatch(words[0]):
        return (
            f"the Authorization header uses the {words[0]!r} scheme, which this API does not "
            f"take: {use}"
        )
    return f"the Authorization header is not of the form 'Token <key>': {use}"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, JobError):
        return Response({"error": exc.message}, status=exc.status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"error": _message(exc, context)}
    return response
