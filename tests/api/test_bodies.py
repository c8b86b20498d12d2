"""How every endpoint that takes a body reads it: JSON only, within the size limit."""

from __future__ import annotations

import json

import pytest

from jobs.models import Job
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db

# The original documentation's own example, comments and all.
DOCUMENTED_EXAMPLE = """{
    "name": "test",            // job name
    "description": "a test",   // job description
    "cron": "0 0 8 ? * MON",   // every Monday at 08:00
    "script": "console.log('hi')"
}"""


def test_a_body_with_comments_gets_a_helpful_message(api: Api) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=DOCUMENTED_EXAMPLE)
    assert status == 400
    assert "comment" in got["error"] and "line 2" in got["error"]
    assert Job.objects.count() == 0


def test_a_slash_inside_a_string_is_not_taken_for_a_comment(api: Api) -> None:
    body = '{"name": "http://example.com", "cron": "* * * * *" "script": ""}'
    status, got = api.call("POST", "/api/job?type=timing", raw=body)
    assert status == 400
    assert "comment" not in got["error"]
    assert "line 1" in got["error"]


@pytest.mark.parametrize("raw", ['{"name": "x",}', "{name: 'x'}", '{"name": "x"', "nul"])
def test_malformed_json_is_a_400_saying_where(api: Api, raw: str) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400
    assert got["error"].startswith("the body is not valid JSON")
    assert "line 1" in got["error"]


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "42", "null"])
def test_a_body_that_is_not_an_object_is_a_400(api: Api, raw: str) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400
    assert "JSON object" in got["error"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_wrong_content_type_is_a_415(api: Api, content_type: str) -> None:
    body = json.dumps({"name": "x", "cron": "* * * * *"})
    status, got = api.call("POST", "/api/job?type=timing", raw=body, content_type=content_type)
    assert status == 415
    assert "Content-Type: application/json" in got["error"]
    assert Job.objects.count() == 0


def test_json_with_a_charset_is_fine(api: Api) -> None:
    body = json.dumps({"name": "x", "cron": "* * * * *"})
    status, _ = api.call(
        "POST", "/api/job?type=timing", raw=body, content_type="application/json; charset=utf-8"
    )
    assert status == 200


def test_a_body_that_is_not_utf8_is_a_400(api: Api) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=b'{"name": "\xff"}')
    assert status == 400
    assert "UTF-8" in got["error"]


def test_a_body_over_the_limit_is_a_413(api: Api, settings) -> None:
    settings.TRAITOR_MAX_BODY_BYTES = 2048
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"name": "x", "cron": "* * * * *", "script": "x" * 3000})
    status, got = api.call("POST", "/api/job?type=timing", raw=body)
    assert status == 413
    assert "2048" in got["error"] and "TRAITOR_MAX_BODY_BYTES" in got["error"]
    assert Job.objects.count() == 0


def test_the_body_limit_applies_to_the_script_endpoint_too(api: Api, settings) -> None:
    job_id = api.create({"name": "x", "cron": "* * * * *"})
    settings.TRAITOR_MAX_BODY_BYTES = 2048
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    status, _ = api.call("POST", f"/api/script?id={job_id}", {"script": "x" * 3000})
    assert status == 413
    assert Job.objects.get(pk=job_id).script == ""


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "x", "cron": "* * * * *", "timeoutSeconds": NaN}',
        '{"name": "x", "cron": "* * * * *", "memoryMb": Infinity}',
    ],
)
def test_nan_and_infinity_are_not_json(api: Api, raw: str) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400 and "not a JSON value" in got["error"]
    assert Job.objects.count() == 0


def test_a_body_nested_too_deeply_is_a_400(api: Api) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw="[" * 100_000 + "]" * 100_000)
    assert status == 400 and "nested" in got["error"]


def test_a_nul_character_is_refused_before_the_database_sees_it(api: Api) -> None:
    status, got = api.call("POST", "/api/job?type=timing", {"name": "a\x00b", "cron": "* * * * *"})
    assert status == 400 and got["error"].startswith("name")


def test_a_form_posted_from_a_logged_in_browser_is_a_415(db) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.create_user("browser"))
    response = client.post("/api/job?type=timing", {"name": "x", "cron": "* * * * *"})
    assert response.status_code == 415
    assert "application/json" in json.loads(response.content)["error"]


# --- Numbers Python cannot read, duplicate keys ----------------------------------------------

LONG_NUMBER = "9" * 5000  # over Python's 4300-digit limit for int()
PREFIX = '{"name": "a", "cron": "* * * * *", '


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (PREFIX + f'"timeoutSeconds": {LONG_NUMBER}}}', "timeoutSeconds"),
        (PREFIX + f'"memoryMb": -{LONG_NUMBER}}}', "memoryMb"),
        (PREFIX + f'"x": [1, [{LONG_NUMBER}]]}}', "x"),
    ],
    ids=["int", "negative", "in-a-list"],
)  # fmt: skip
def test_a_number_with_thousands_of_digits_is_a_400_naming_it(
    api: Api, raw: str, names: str
) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400, got
    assert got["error"].startswith(names)
    assert "5000 digits" in got["error"]
    assert Job.objects.count() == 0


def test_a_top_level_number_with_thousands_of_digits_is_a_400(api: Api) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=LONG_NUMBER)
    assert status == 400 and "5000 digits" in got["error"]


@pytest.mark.parametrize("number", ["1" + "0" * 400, "1e400", "-1e400"])
def test_a_number_too_large_for_a_float_field_is_a_400(api: Api, number: str) -> None:
    raw = PREFIX + f'"timeoutSeconds": {number}}}'
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400, got
    assert got["error"].startswith("timeoutSeconds")
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"name": "a", "name": "b", "cron": "* * * * *"}', "name"),
        ('{"name": "a", "cron": "* * * * *", "cron": "0 0 8 ? * MON"}', "cron"),
        ('{"name": "a", "cron": "* * * * *", "x": {"k": 1, "k": 2}}', "k"),
    ],
)
def test_a_key_given_twice_is_a_400_naming_it(api: Api, raw: str, key: str) -> None:
    status, got = api.call("POST", "/api/job?type=timing", raw=raw)
    assert status == 400, got
    assert f"'{key}'" in got["error"] and "twice" in got["error"]
    assert Job.objects.count() == 0


def test_a_key_given_twice_is_refused_by_put_too(api: Api) -> None:
    job_id = api.create({"name": "x", "cron": "* * * * *"})
    status, got = api.call("PUT", f"/api/job?id={job_id}", raw='{"name": "a", "name": "b"}')
    assert status == 400 and "'name'" in got["error"]
    assert Job.objects.get(pk=job_id).name == "x"


# --- A body without Content-Length (chunked) over the limit ----------------------------------


def _asgi_post(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple:
    """POST through the node's ASGI application, as Daphne hands it a chunked body."""
    import asyncio

    from asgiref.sync import async_to_sync
    from django.core import signals
    from django.db import close_old_connections

    from traitor_site.asgi import application

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected until the answer is sent
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    # As Django's own test clients do: the handler would otherwise close the test's
    # database connection when the request starts and ends.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(application)(scope, receive, send)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(body)


def test_a_chunked_body_over_the_limit_says_the_limit_not_zero_bytes(db, settings) -> None:
    settings.TRAITOR_AUTH = False
    settings.TRAITOR_MAX_BODY_BYTES = 2048
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"name": "x", "cron": "* * * * *", "script": "x" * 3000}).encode()
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    status, got = _asgi_post("/api/job?type=timing", [body[:1000], body[1000:]], headers)
    assert status == 413, got
    assert got["error"] == (
        "the request body is over the limit of 2048 bytes (TRAITOR_MAX_BODY_BYTES)"
    )
    assert Job.objects.count() == 0


def test_a_chunked_body_within_the_limit_is_read(db, settings) -> None:
    settings.TRAITOR_AUTH = False
    body = json.dumps({"name": "chunked", "cron": "* * * * *"}).encode()
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    status, got = _asgi_post("/api/job?type=timing", [body[:10], body[10:]], headers)
    assert status == 200, got
    assert Job.objects.get(pk=got["id"]).name == "chunked"
