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
