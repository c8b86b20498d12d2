"""GET and POST /api/script?id=: read and replace a job's script."""

from __future__ import annotations

import uuid

import pytest

from jobs.models import Job
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db

SCRIPT = "var http = require('http');\nconsole.log('héllo', 1);\n"


def test_it_gives_the_script_byte_for_byte(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *", "script": SCRIPT})
    status, body = api.call("GET", f"/api/script?id={job_id}")
    assert (status, body) == (200, {"data": {"jobId": job_id, "script": SCRIPT}})


def test_it_replaces_the_script_and_bumps_the_version(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *", "script": "old()"})
    status, body = api.call("POST", f"/api/script?id={job_id}", {"script": "  new()\n"})
    assert status == 200
    assert body == {"data": {"jobId": job_id, "version": 2}}
    assert api.call("GET", f"/api/script?id={job_id}")[1]["data"]["script"] == "  new()\n"


def test_an_empty_script_is_allowed(api: Api) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *", "script": "old()"})
    assert api.call("POST", f"/api/script?id={job_id}", {"script": ""})[0] == 200
    assert Job.objects.get(pk=job_id).script == ""


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "script"),
        ({"script": None}, "script"),
        ({"script": 12}, "script"),
        ({"script": "x", "name": "y"}, "name"),
    ],
)
def test_it_refuses_a_bad_body_and_keeps_the_old_script(api: Api, body, names) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *", "script": "old()"})
    status, got = api.call("POST", f"/api/script?id={job_id}", body)
    assert status == 400 and got["error"].startswith(names), got
    assert Job.objects.get(pk=job_id).script == "old()"


def test_a_script_over_the_limit_is_refused(api: Api, settings) -> None:
    job_id = api.create({"name": "n", "cron": "* * * * *", "script": "old()"})
    settings.TRAITOR_MAX_SCRIPT_BYTES = 256 * 1024
    status, got = api.call("POST", f"/api/script?id={job_id}", {"script": "x" * (256 * 1024 + 1)})
    assert status == 400
    assert got["error"].startswith("script") and "262144" in got["error"]
    assert Job.objects.get(pk=job_id).script == "old()"


def test_the_default_script_limit_is_256_kib(settings) -> None:
    assert settings.TRAITOR_MAX_SCRIPT_BYTES == 262144


def test_unknown_and_malformed_ids(api: Api) -> None:
    assert api.call("GET", f"/api/script?id={uuid.uuid4()}")[0] == 404
    assert api.call("POST", f"/api/script?id={uuid.uuid4()}", {"script": ""})[0] == 404
    assert api.call("GET", "/api/script?id=1")[0] == 400
    assert api.call("POST", "/api/script", {"script": ""})[0] == 400
