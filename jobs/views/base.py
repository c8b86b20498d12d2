"""What every API view shares: access rules, reading a JSON body, reading an id."""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.request import Request
from rest_framework.views import APIView

from jobs.errors import ApiError
from jobs.permissions import ApiAccess

# A `//` or `/* */` comment outside a string: the original docs' examples carry them.
_COMMENT = re.compile(r'^(?:[^"\n]|"(?:[^"\\\n]|\\.)*")*?(//|/\*)', re.MULTILINE)


class ApiView(APIView):
    permission_classes = [ApiAccess]
    # Bodies are read by `json_body`, which checks size, type and syntax with its own
    # messages; DRF's parsers would answer some of those cases in their own words.
    parser_classes: list = []


def json_body(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object, or ApiError saying what is wrong with it."""
    limit = settings.TRAITOR_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise ApiError(_too_large(declared, limit), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    try:
        raw = request.body
    except RequestDataTooBig:
        # Without a Content-Length (a chunked body) Django stops reading past the limit:
        # the real size is not known.
        raise ApiError(_too_large(declared or None, limit), 413) from None
    except RawPostDataException:
        # A form body the CSRF check already read as a form: certainly not JSON.
        raw = b"form"
    if len(raw) > limit:
        raise ApiError(_too_large(len(raw), limit), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if content_type != "application/json" and not content_type.endswith("+json"):
        if not raw.strip():
            return {}
        sent = f"'{content_type}'" if content_type else "no Content-Type"
        raise ApiError(
            f"the body must be JSON sent with 'Content-Type: application/json', not {sent} "
            "(with curl: -H 'Content-Type: application/json')",
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("the body is not UTF-8 text; send JSON encoded as UTF-8") from None
    try:
        data = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise ApiError(_json_error(text, exc)) from None
    except RecursionError:
        raise ApiError("the body's JSON is nested too deeply") from None
    if isinstance(data, _LongNumber):
        raise ApiError(f"the body is {data.describe()}; send a JSON object")
    if not isinstance(data, dict):
        kind = _JSON_KINDS.get(type(data), "value")
        raise ApiError(f"the body must be a JSON object ({{...}}), not {kind}")
    return data


_JSON_KINDS = {list: "a list ([...])", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}  # fmt: skip

# Python refuses to turn longer digit strings into an int (ValueError, CVE-2020-10735).
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300


class _LongNumber:
    """A JSON integer too long to read; the object holding it names the key (see `_object`)."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def describe(self) -> str:
        return (
            f"a number with {self.digits} digits, too long to read (at most {_MAX_DIGITS} digits)"
        )


def _parse_int(text: str) -> int | _LongNumber:
    digits = len(text.lstrip("-"))
    if digits > _MAX_DIGITS:
        return _LongNumber(digits)
    return int(text)


def _has_long_number(value: Any) -> _LongNumber | None:
    # Objects inside were checked by their own hook: only lists remain to look into.
    if isinstance(value, _LongNumber):
        return value
    if isinstance(value, list):
        for item in value:
            found = _has_long_number(item)
            if found is not None:
                return found
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object: a key given twice, or a number too long to read, is an ApiError."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ApiError(
                f"{key}: the body gives the key {key!r} twice in one object; give each field once"
            )
        long_number = _has_long_number(value)
        if long_number is not None:
            raise ApiError(f"{key}: {long_number.describe()}")
        data[key] = value
    return data


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON itself does not have.
    raise ApiError(f"the body is not valid JSON: {name} is not a JSON value; send a number")


def _too_large(size: int | None, limit: int) -> str:
    if size is None:
        return f"the request body is over the limit of {limit} bytes (TRAITOR_MAX_BODY_BYTES)"
    return f"the request body is {size} bytes; the limit is {limit} bytes (TRAITOR_MAX_BODY_BYTES)"


def _json_error(text: str, exc: json.JSONDecodeError) -> str:
    where = f"line {exc.lineno}, column {exc.colno}"
    comment = _COMMENT.search(text)
    if comment:
        line = text.count("\n", 0, comment.start(1)) + 1
        return (
            f"the body is not valid JSON: it has a comment ('{comment.group(1)}' on line {line}); "
            "JSON has no comments — the documentation's examples carry them only to explain "
            "the fields, remove them before sending"
        )
    return f"the body is not valid JSON: {exc.msg} at {where}"


def parse_job_id(request: Request, name: str = "id") -> uuid.UUID:
    """The `?id=` query parameter as a job's UUID: a missing or malformed id is a 400."""
    return query_uuid(request, "job", name)


def query_uuid(request: Request, what: str, name: str = "id") -> uuid.UUID:
    """The query parameter `name` as the UUID of a `what` (job, run): missing or malformed
    is a 400 that says how to give it."""
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        raise ApiError(f"{name}: give the {what}'s id in the query string, as ?{name}=<uuid>")
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise ApiError(
            f"{name}: {raw!r} is not a {what} id; ids are UUIDs such as "
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
        ) from None


def query_whole(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """The query parameter `name` as a whole number in [lowest, highest]; absent or empty is
    `default`; anything else is a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name}: must be a whole number, got {raw!r}") from None
    if not lowest <= value <= highest:
        raise ApiError(f"{name}: must be between {lowest} and {highest}, got {value}")
    return value


def by_method(**views: Any) -> Any:
    """One route served by different views per HTTP method.

    `POST /api/run` creates and enables a job while `GET /api/run?id=` shows one run: both
    keep the original paths, so the route hands each method to its own view.
    """

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        handler = views.get(request.method or "")
        if handler is None:
            allowed = ", ".join(sorted(views))
            response = JsonResponse(
                {"error": f"{request.method} is not allowed on {request.path}; use {allowed}"},
                status=status.HTTP_405_METHOD_NOT_ALLOWED,
            )
            response["Allow"] = allowed
            return response
        return handler(request, *args, **kwargs)

    return view
