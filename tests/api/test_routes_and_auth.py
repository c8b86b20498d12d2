"""What every /api/ path shares: JSON errors for anything, and who may call."""

from __future__ import annotations

import json
import warnings

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def _json(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return json.loads(response.content)


@pytest.mark.parametrize("path", ["/api/nothing", "/api/job/extra", "/api/", "/api/jobs"])
def test_unknown_routes_are_a_json_404(api: Api, path: str) -> None:
    status, body = api.call("GET", path)
    assert status == 404 and path in body["error"]


def test_an_unknown_route_is_a_json_404_even_without_credentials(client) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404 and "error" in _json(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/api/job"), ("GET", "/api/enable"), ("DELETE", "/api/script"),
     ("POST", "/api/jobList"), ("PUT", "/api/run")],
)  # fmt: skip
def test_wrong_methods_are_a_json_405(api: Api, method: str, path: str) -> None:
    status, body = api.call(method, path)
    assert status == 405 and method in body["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/job?id=x"), ("POST", "/api/job?type=timing"), ("PUT", "/api/job?id=x"),
     ("DELETE", "/api/job?id=x"), ("POST", "/api/enable?id=x&enable=true"),
     ("GET", "/api/script?id=x"), ("POST", "/api/script?id=x"), ("GET", "/api/jobList"),
     ("POST", "/api/run")],
)  # fmt: skip
def test_every_endpoint_needs_credentials(client, method: str, path: str) -> None:
    body = {} if method == "GET" else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method.lower())(path, **body)
    assert response.status_code == 401
    assert "Authorization: Token" in _json(response)["error"]
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_a_401(client) -> None:
    response = client.get("/api/jobList", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401 and "refused" in _json(response)["error"]


@pytest.mark.parametrize(
    ("header", "scheme"),
    [("Bearer 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "Bearer"),
     ("Basic dXNlcjpwYXNz", "Basic"), ("JWT x.y.z", "JWT")],
)  # fmt: skip
def test_another_authorization_scheme_is_a_401_saying_to_use_token(
    client, header: str, scheme: str
) -> None:
    response = client.get("/api/jobList", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    error = _json(response)["error"]
    assert error.startswith(
        f"the Authorization header uses the '{scheme}' scheme, which this API does not take: "
        "use 'Authorization: Token <key>'"
    )
    assert "9944b09199c62bcf" not in error  # what was sent is not echoed


def test_a_key_without_a_scheme_is_a_401_saying_to_use_token(client) -> None:
    response = client.get("/api/jobList", HTTP_AUTHORIZATION="9944b09199c62bcf9418")
    assert response.status_code == 401
    error = _json(response)["error"]
    assert "use 'Authorization: Token <key>'" in error and "9944b09199c62bcf" not in error


def test_a_browser_session_may_call_the_api(client) -> None:
    user = get_user_model().objects.create_user("browser")
    client.force_login(user)
    assert client.get("/api/jobList").status_code == 200


def test_a_session_write_needs_the_csrf_token(db) -> None:
    user = get_user_model().objects.create_user("browser")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/run?type=timing", {"name": "n", "cron": "* * * * *"}, "json")
    assert response.status_code == 403 and "CSRF" in _json(response)["error"]


def test_auth_off_opens_the_api(client, settings) -> None:
    settings.TRAITOR_AUTH = False
    response = client.post(
        "/api/job?type=timing",
        data=json.dumps({"name": "open", "cron": "* * * * *"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert client.get("/api/jobList").status_code == 200


def test_an_unexpected_error_is_a_json_500_not_a_page(api: Api, monkeypatch) -> None:
    from jobs import services

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    # A fault injected on purpose: no real input reaches this path, which is the point.
    monkeypatch.setattr(services, "get_job", broken)
    status, body = api.call("GET", "/api/job?id=3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    assert status == 500
    assert "boom" not in body["error"] and "internal error" in body["error"]


def test_html_is_never_answered_even_when_asked_for(api: Api) -> None:
    response = api.client.get("/api/nothing", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    response = api.client.get("/api/jobList", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert "JSON" in _json(response)["error"]


def test_the_root_redirects_to_the_admin(client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_the_admin_calls_itself_traitor(client) -> None:
    page = client.get("/admin/login/").content.decode()
    assert "<title>Log in | Traitor administration</title>" in page
    assert '<a href="/admin/">Traitor administration</a>' in page
    assert "Django administration" not in page and "Django site admin" not in page


def test_serving_does_not_warn_about_a_missing_static_directory(client) -> None:
    from django.test import Client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = Client().get("/admin/login/")  # a new client loads the middleware again
    assert response.status_code == 200
    assert [str(w.message) for w in caught if "No directory at" in str(w.message)] == []
