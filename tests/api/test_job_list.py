"""GET /api/jobList: paginated, filtered, newest first, without loading scripts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import NOW, NOW_UNIX, Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(api: Api, frozen) -> list[str]:
    """Five jobs a second apart: backup-0 … backup-2 timing, report-3, report-4 delay."""
    ids = []
    for i in range(5):
        frozen.move_to(NOW + timedelta(seconds=i))
        if i < 3:
            ids.append(api.create({"name": f"Backup-{i}", "cron": "* * * * *", "script": "x" * 9}))
        else:
            ids.append(api.create({"name": f"report-{i}", "execAt": NOW_UNIX + 600}, "delay"))
    api.call("POST", f"/api/enable?id={ids[1]}&enable=true")
    api.call("POST", f"/api/enable?id={ids[3]}&enable=true")
    return ids


def listed(api: Api, query: str = "") -> tuple[list[str], dict]:
    status, body = api.call("GET", f"/api/jobList{query}")
    assert status == 200, body
    return [job["jobId"] for job in body["data"]], body


def test_it_lists_newest_first_with_the_total(api: Api, five: list[str]) -> None:
    ids, body = listed(api)
    assert ids == five[::-1]
    assert (body["total"], body["page"], body["size"]) == (5, 1, 20)
    assert all("script" not in job for job in body["data"])


def test_it_pages(api: Api, five: list[str]) -> None:
    assert listed(api, "?size=2")[0] == [five[4], five[3]]
    ids, body = listed(api, "?size=2&page=3")
    assert ids == [five[0]] and body["total"] == 5
    assert listed(api, "?size=2&page=4")[0] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?state=1", [3, 1]),
        ("?state=enabled", [3, 1]),
        ("?state=0", [4, 2, 0]),
        ("?state=2", []),
        ("?type=timing", [2, 1, 0]),
        ("?type=1", [4, 3]),
        ("?name=backup", [2, 1, 0]),
        ("?name=PORT-4", [4]),
        ("?type=timing&state=stopped&name=backup", [2, 0]),
    ],
)
def test_it_filters(api: Api, five: list[str], query: str, expected: list[int]) -> None:
    ids, body = listed(api, query)
    assert ids == [five[i] for i in expected]
    assert body["total"] == len(expected)


def test_it_reads_two_queries_and_never_the_script_column(api: Api, five: list[str]) -> None:
    with CaptureQueriesContext(connection) as queries:
        listed(api, "?size=3")
    job_queries = [q["sql"] for q in queries.captured_queries if "jobs_job" in q["sql"]]
    assert len(job_queries) == 2  # the count and the page
    assert all('"script"' not in sql for sql in job_queries)
    # The token lookup is the only other query.
    assert len(queries.captured_queries) == 3


@pytest.mark.parametrize(
    ("query", "names"),
    [("?page=0", "page"), ("?page=x", "page"), ("?size=0", "size"), ("?size=201", "size"),
     ("?state=9", "state"), ("?type=weekly", "type")],
)  # fmt: skip
def test_bad_parameters_are_400s(api: Api, query: str, names: str) -> None:
    status, body = api.call("GET", f"/api/jobList{query}")
    assert status == 400 and body["error"].startswith(names)


def test_jobs_of_another_cluster_are_not_listed(api: Api, five: list[str], settings) -> None:
    settings.TRAITOR_CLUSTER = "elsewhere"
    assert listed(api)[1]["total"] == 0
    assert api.call("GET", f"/api/job?id={five[0]}")[0] == 404
