"""The API tests' one shared fixture: a client logged in with a real token, and helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

# A Tuesday. Every test that needs "now" freezes the clock here.
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
NOW_UNIX = 1893499200  # 2030-01-01T12:00:00Z, worked out with `date -d ... +%s`


class Api:
    """Thin wrapper: JSON in, (status, JSON out) back; raw bodies when a test needs them."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {}
        if raw is not None:
            kwargs = {"data": raw, "content_type": content_type}
        elif body is not None:
            kwargs = {"data": json.dumps(body), "content_type": content_type}
        response = getattr(self.client, method.lower())(path, **kwargs)
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        return response.status_code, json.loads(response.content)

    def create(self, body: dict[str, Any], type_: str = "timing") -> str:
        status, data = self.call("POST", f"/api/job?type={type_}", body)
        assert status == 200, data
        return data["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        status, data = self.call("GET", f"/api/job?id={job_id}")
        assert status == 200, data
        return data["data"]


@pytest.fixture
def api(db: None) -> Api:
    user = get_user_model().objects.create_user("tester")  # no password: hashing one costs 0.3 s
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return Api(client)


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
