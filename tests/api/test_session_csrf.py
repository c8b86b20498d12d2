"""A browser logged in at /admin/ writes through the API with Django's CSRF token.

Everything here logs in for real (the admin's login form, its CSRF cookie and password
check), with a client that enforces CSRF as a browser's requests are checked.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jobs.models import Job

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password"
BODY = json.dumps({"name": "from the browser", "cron": "0 0 8 ? * MON"})


@pytest.fixture
def browser() -> Client:
    """A client logged in through /admin/login/, as a person in a browser is."""
    get_user_model().objects.create_superuser("browser", "", PASSWORD)
    client = Client(enforce_csrf_checks=True)
    assert client.get("/admin/login/").status_code == 200  # sets the csrftoken cookie
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "browser", "password": PASSWORD, "next": "/admin/",
         "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert "sessionid" in client.cookies
    return client


def _json(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return json.loads(response.content)


def test_a_json_write_with_the_csrf_header_creates_the_job(browser: Client) -> None:
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/job?type=timing", BODY, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    got = _json(response)
    assert response.status_code == 200, got
    job = Job.objects.get(pk=got["id"])
    assert (job.name, job.cron) == ("from the browser", "0 0 8 ? * MON")


def test_every_write_method_works_with_the_csrf_header(browser: Client) -> None:
    token = browser.cookies["csrftoken"].value
    headers = {"content_type": "application/json", "HTTP_X_CSRFTOKEN": token}
    created = _json(browser.post("/api/job?type=timing", BODY, **headers))["id"]
    changed = browser.put(f"/api/job?id={created}", json.dumps({"name": "renamed"}), **headers)
    assert changed.status_code == 200 and _json(changed)["data"]["name"] == "renamed"
    script = browser.post(f"/api/script?id={created}", json.dumps({"script": "x()"}), **headers)
    assert script.status_code == 200
    assert Job.objects.get(pk=created).script == "x()"
    # POST /api/run goes through the by-method route, also CSRF-checked.
    run = browser.post("/api/run?type=timing", BODY, **headers)
    assert run.status_code == 200, _json(run)
    deleted = browser.delete(f"/api/job?id={created}", HTTP_X_CSRFTOKEN=token)
    assert deleted.status_code == 200
    assert list(Job.objects.values_list("name", flat=True)) == ["from the browser"]


def test_a_json_write_without_the_csrf_header_is_a_clear_403(browser: Client) -> None:
    response = browser.post("/api/job?type=timing", BODY, content_type="application/json")
    assert response.status_code == 403
    error = _json(response)["error"]
    assert "CSRF" in error and "X-CSRFToken" in error and "Authorization: Token" in error
    assert Job.objects.count() == 0


def test_a_wrong_csrf_header_is_a_403(browser: Client) -> None:
    response = browser.post(
        "/api/job?type=timing", BODY, content_type="application/json",
        HTTP_X_CSRFTOKEN="x" * 32,
    )  # fmt: skip
    assert response.status_code == 403 and "CSRF" in _json(response)["error"]
    assert Job.objects.count() == 0


def test_reads_need_no_csrf_token(browser: Client) -> None:
    response = browser.get("/api/jobList")
    assert response.status_code == 200 and _json(response)["total"] == 0


def test_a_form_with_the_csrf_token_is_still_a_415(browser: Client) -> None:
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/job?type=timing",
        {"name": "x", "cron": "* * * * *", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 415
    assert "application/json" in _json(response)["error"]
    assert Job.objects.count() == 0


def test_a_form_over_the_body_limit_from_a_browser_is_a_413_naming_the_limit(
    browser: Client, settings
) -> None:
    settings.TRAITOR_MAX_BODY_BYTES = 2048
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/job?type=timing", {"name": "x" * 3000, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 413
    assert _json(response)["error"] == (
        "the request body is over the limit of 2048 bytes (TRAITOR_MAX_BODY_BYTES)"
    )
