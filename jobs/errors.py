"""One error shape for the whole API: 4xx with `{"error": "<what is wrong, how to fix it>"}`."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """Raised by views and services with a message meant for the person calling the API."""

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


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message = _first_message(exc.detail)
    else:
        message = _first_message(getattr(exc, "detail", str(exc)))
    response.data = {"error": message}
    return response
