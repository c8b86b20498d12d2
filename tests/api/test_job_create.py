"""POST /api/job?type=timing|delay: create a job, stopped."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobState
from tests.api.conftest import NOW_UNIX, Api

pytestmark = pytest.mark.django_db

TIMING = {"name": "report", "description": "daily", "cron": "0 0 8 ? * MON", "script": "1"}


def test_it_creates_a_stopped_timing_job_and_answers_id_and_data(api: Api, frozen) -> None:
    status, body = api.call("POST", "/api/job?type=timing", TIMING)
    assert status == 200
    assert body["id"] == body["data"]
    job = Job.objects.get(pk=body["id"])
    assert (job.name, job.description, job.cron, job.script) == (
        "report",
        "daily",
        "0 0 8 ? * MON",
        "1",
    )
    assert job.state == JobState.STOPPED
    assert job.next_fire_at is None
    assert job.timezone == "UTC"


@pytest.mark.parametrize("given", ["TIMING", "Timing", "timing", "0"])
def test_the_type_is_case_insensitive(api: Api, given: str) -> None:
    status, body = api.call("POST", f"/api/job?type={given}", TIMING)
    assert status == 200, body
    assert Job.objects.get(pk=body["id"]).exec_type == 0


@pytest.mark.parametrize(
    "exec_at",
    [NOW_UNIX + 60, str(NOW_UNIX + 60), float(NOW_UNIX + 60), "2030-01-01T12:01:00Z",
     "2030-01-01T13:01:00+01:00"],
)  # fmt: skip
def test_it_creates_a_delay_job_from_every_execat_form(api: Api, frozen, exec_at) -> None:
    job_id = api.create({"name": "once", "execAt": exec_at}, "delay")
    shown = api.job(job_id)
    assert shown["execAt"] == NOW_UNIX + 60
    assert (shown["execType"], shown["type"], shown["state"]) == (1, "delay", 0)


def test_the_body_may_give_the_type_as_exectype(api: Api, frozen) -> None:
    status, body = api.call("POST", "/api/job", {**TIMING, "execType": "timing"})
    assert status == 200, body


def test_it_accepts_the_smallest_delay_exactly(api: Api, frozen) -> None:
    status, _ = api.call("POST", "/api/job?type=delay", {"name": "d", "execAt": NOW_UNIX + 5})
    assert status == 200


def test_it_keeps_the_optional_fields(api: Api, frozen) -> None:
    body = {**TIMING, "timezone": "Europe/Paris", "catchUp": False, "allowOverlap": True,
            "timeoutSeconds": 2.5, "memoryMb": 64}  # fmt: skip
    shown = api.job(api.create(body))
    assert shown["timezone"] == "Europe/Paris"
    assert (shown["catchUp"], shown["allowOverlap"]) == (False, True)
    assert (shown["timeoutSeconds"], shown["memoryMb"], shown["outputBytes"]) == (2.5, 64, None)


# --- Refusals: each is a 400-class JSON error naming the field, and nothing is stored ---------


@pytest.mark.parametrize(
    ("path", "body", "status", "names"),
    [
        ("/api/job", TIMING, 400, "type"),
        ("/api/job?type=weekly", TIMING, 400, "type"),
        ("/api/job?type=delay", {**TIMING, "execType": 0}, 400, "type"),
        ("/api/job?type=timing", {"cron": "* * * * *"}, 400, "name"),
        ("/api/job?type=timing", {**TIMING, "name": ""}, 400, "name"),
        ("/api/job?type=timing", {**TIMING, "name": 7}, 400, "name"),
        ("/api/job?type=timing", {**TIMING, "name": None}, 400, "name"),
        ("/api/job?type=timing", {**TIMING, "description": ["x"]}, 400, "description"),
        ("/api/job?type=timing", {**TIMING, "script": {"js": 1}}, 400, "script"),
        ("/api/job?type=timing", {**TIMING, "cron": 5}, 400, "cron"),
        ("/api/job?type=timing", {"name": "no cron"}, 400, "cron"),
        ("/api/job?type=timing", {**TIMING, "cron": "61 * * * *"}, 400, "cron"),
        ("/api/job?type=timing", {**TIMING, "cron": "every day"}, 400, "cron"),
        ("/api/job?type=timing", {**TIMING, "cron": "0 0 0 1 1 ? 2020"}, 400, "cron"),
        ("/api/job?type=timing", {**TIMING, "timezone": "Mars/Olympus"}, 400, "timezone"),
        ("/api/job?type=timing", {**TIMING, "catchUp": "yes"}, 400, "catchUp"),
        ("/api/job?type=timing", {**TIMING, "memoryMb": 10**9}, 400, "memoryMb"),
        ("/api/job?type=timing", {**TIMING, "timeoutSeconds": "1"}, 400, "timeoutSeconds"),
        ("/api/job?type=timing", {**TIMING, "colour": "red"}, 400, "colour"),
        ("/api/job?type=timing", {**TIMING, "jobId": "x"}, 400, "jobId"),
        ("/api/job?type=delay", {"name": "no time"}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": NOW_UNIX - 1}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": NOW_UNIX + 3}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": True}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": [NOW_UNIX]}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": "tomorrow"}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": "2030-01-02T00:00:00"}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": 1e30}, 400, "execAt"),
        ("/api/job?type=delay", {"name": "d", "execAt": None}, 400, "execAt"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(api: Api, frozen, path, body, status, names):
    got_status, got = api.call("POST", path, body)
    assert got_status == status
    assert set(got) == {"error"}
    assert got["error"].startswith(names), got["error"]
    assert Job.objects.count() == 0


def test_it_refuses_an_execat_in_the_past_saying_so(api: Api, frozen) -> None:
    _, got = api.call("POST", "/api/job?type=delay", {"name": "d", "execAt": NOW_UNIX - 60})
    assert "in the past" in got["error"]


def test_it_refuses_an_execat_too_close_naming_the_smallest_delay(api: Api, frozen) -> None:
    _, got = api.call("POST", "/api/job?type=delay", {"name": "d", "execAt": NOW_UNIX + 2})
    assert "5 s" in got["error"]


def test_it_refuses_a_cron_that_never_fires_again(api: Api, frozen) -> None:
    _, got = api.call("POST", "/api/job?type=timing", {**TIMING, "cron": "0 0 0 1 1 ? 2020"})
    assert "never" in got["error"]


def test_it_refuses_a_script_over_the_limit(api: Api, settings) -> None:
    settings.TRAITOR_MAX_SCRIPT_BYTES = 1000
    status, got = api.call("POST", "/api/job?type=timing", {**TIMING, "script": "é" * 501})
    assert status == 400
    assert got["error"].startswith("script")
    assert "1002 bytes" in got["error"] and "1000" in got["error"]
    assert Job.objects.count() == 0


def test_a_script_at_the_limit_is_accepted(api: Api, settings) -> None:
    settings.TRAITOR_MAX_SCRIPT_BYTES = 1000
    status, _ = api.call("POST", "/api/job?type=timing", {**TIMING, "script": "x" * 1000})
    assert status == 200


def test_an_instant_out_of_range_is_a_400(api: Api) -> None:
    status, got = api.call(
        "POST", "/api/job?type=delay", {"name": "d", "execAt": "0001-01-01T00:00:00+01:00"}
    )
    assert status == 400 and got["error"].startswith("execAt")


@pytest.mark.parametrize("name", ["localtime", "Localtime", "/etc/localtime"])
def test_the_hosts_zone_is_refused_saying_why(api: Api, name: str) -> None:
    status, got = api.call("POST", "/api/job?type=timing", {**TIMING, "timezone": name})
    assert status == 400
    assert got["error"] == (
        f"timezone: {name!r} is the host's own zone, which Traitor never uses (every node must "
        "read a cron the same way); give an IANA name such as 'UTC', 'Europe/Paris' or "
        "'America/New_York'"
    )
    assert Job.objects.count() == 0
