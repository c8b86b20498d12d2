"""Whatever JSON a client sends to the job endpoints, the answer is JSON and never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api

pytestmark = pytest.mark.django_db

FIELDS = ["name", "description", "execType", "cron", "execAt", "timezone", "script",
          "catchUp", "allowOverlap", "timeoutSeconds", "memoryMb", "outputBytes",
          "httpResponseBytes"]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["* * * * *", "0 0 8 ? * MON", "delay", "1", "UTC", "2030-01-01T00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5,
)  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=6)
paths = st.sampled_from(["/api/job?type=timing", "/api/job?type=delay", "/api/job", "/api/run",
                         "/api/run?type=DELAY"])  # fmt: skip
no_health_fuss = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@no_health_fuss
@given(path=paths, body=bodies)
def test_creating_with_any_body_is_never_a_500(api: Api, path: str, body: dict) -> None:
    status, answer = api.call("POST", path, body)
    assert status in (200, 400), answer
    assert set(answer) in ({"error"}, {"id", "data"}, {"data"})


@no_health_fuss
@given(body=bodies)
def test_updating_with_any_body_is_never_a_500(api: Api, body: dict) -> None:
    job_id = api.create({"name": "target", "cron": "0 0 8 ? * MON"})
    api.call("POST", f"/api/enable?id={job_id}&enable=true")
    status, answer = api.call("PUT", f"/api/job?id={job_id}", body)
    assert status in (200, 400), answer


@no_health_fuss
@given(query=st.text(max_size=40))
def test_any_query_string_on_the_list_is_never_a_500(api: Api, query: str) -> None:
    assert api.client.get("/api/jobList?" + query).status_code in (200, 400)
