"""`GET /api/cron/preview`: the next fires of an expression, or the validation error."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def preview(api: Api, **params: str) -> tuple[int, dict]:
    return api.call("GET", "/api/cron/preview?" + urlencode(params))


def test_it_lists_the_next_fires_with_the_zone_offset(api: Api) -> None:
    # 2024-03-10 is New York's spring-forward day: 02:30 does not exist, the fire moves to 03:00.
    status, body = preview(
        api, cron="30 2 * * *", tz="America/New_York", after="2024-03-09T12:00:00-05:00", count="3"
    )
    assert status == 200, body
    assert body == {
        "data": [
            "2024-03-10T03:00:00-04:00",
            "2024-03-11T02:30:00-04:00",
            "2024-03-12T02:30:00-04:00",
        ]
    }


def test_after_is_exclusive_and_may_be_unix_seconds(api: Api) -> None:
    # 1704067200 is 2024-01-01T00:00:00Z (date -d @1704067200 -u).
    status, body = preview(api, cron="0 0 * * *", after="1704067200", count="2")
    assert status == 200, body
    assert body["data"] == ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]


def test_an_unencoded_plus_in_after_is_understood(api: Api) -> None:
    status, body = api.call(
        "GET",
        "/api/cron/preview?cron=0+8+*+*+*&tz=Europe/Paris&count=1&after=2024-06-01T09:00:00+02:00",
    )
    assert status == 200, body
    assert body["data"] == ["2024-06-02T08:00:00+02:00"]


def test_it_defaults_to_five_fires_from_now_in_the_default_zone(api: Api, frozen) -> None:
    # The API tests' clock is frozen at 2030-01-01T12:00:00Z.
    status, body = preview(api, cron="0 0 8 ? * MON")
    assert status == 200, body
    # 2030-01-01 is a Tuesday: Mondays 7, 14, 21, 28 January and 4 February.
    assert body["data"] == [
        "2030-01-07T08:00:00+00:00",
        "2030-01-14T08:00:00+00:00",
        "2030-01-21T08:00:00+00:00",
        "2030-01-28T08:00:00+00:00",
        "2030-02-04T08:00:00+00:00",
    ]


@override_settings(TRAITOR_DEFAULT_TIMEZONE="Asia/Tokyo")
def test_the_default_zone_comes_from_the_settings(api: Api) -> None:
    # 2023-12-31T23:00Z is 08:00 in Tokyo.
    status, body = preview(api, cron="0 9 * * *", after="2023-12-31T23:00:00Z", count="1")
    assert status == 200, body
    assert body["data"] == ["2024-01-01T09:00:00+09:00"]


def test_count_goes_up_to_one_hundred(api: Api) -> None:
    status, body = preview(api, cron="* * * * * *", after="2024-01-01T00:00:00Z", count="100")
    assert status == 200, body
    assert len(body["data"]) == 100
    assert body["data"][-1] == "2024-01-01T00:01:40+00:00"


def test_a_schedule_that_ends_gives_fewer_fires(api: Api) -> None:
    status, body = preview(api, cron="0 0 0 1 1 ? 2030,2031", after="2029-06-01T00:00:00Z")
    assert status == 200, body
    assert body["data"] == ["2030-01-01T00:00:00+00:00", "2031-01-01T00:00:00+00:00"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"cron": "0 0 32 * *"}, "cron: day-of-month 32 is out of range (1-31)"),
        ({"cron": "0 0 30 2 *"}, "cron: day-of-month '30' never falls in month '2'"),
        ({"cron": "0 0 0 1 1 ? 2020"}, "cron: year '2020' leaves no fire"),
        ({"cron": "@reboot"}, "cron: @reboot is not supported"),
        ({"cron": ""}, "cron: give the expression"),
        ({"cron": "* * * * *", "tz": "Mars/Olympus"}, "tz: unknown time zone 'Mars/Olympus'"),
        ({"cron": "* * * * *", "count": "101"}, "count: '101' is not a whole number from 1"),
        ({"cron": "* * * * *", "count": "0"}, "count: '0' is not a whole number"),
        ({"cron": "* * * * *", "count": "five"}, "count: 'five'"),
        ({"cron": "* * * * *", "after": "tomorrow"}, "after: 'tomorrow' is not an instant"),
        ({"cron": "* * * * *", "after": "2024-01-01T00:00:00"}, "after: '2024-01-01T00:00:00' has"),
    ],
)
def test_it_answers_400_with_the_validation_error(
    api: Api, frozen, params: dict[str, str], error: str
) -> None:
    status, body = preview(api, **params)
    assert status == 400
    assert body["error"].startswith(error), body


def test_it_needs_a_login() -> None:
    response = APIClient().get("/api/cron/preview?cron=*+*+*+*+*")
    assert response.status_code == 401
    assert "error" in response.json()


def test_the_hosts_zone_is_refused_saying_why(api: Api) -> None:
    status, got = api.call("GET", "/api/cron/preview?cron=*+*+*+*+*&tz=localtime")
    assert status == 400
    assert got["error"].startswith("tz: 'localtime' is the host's own zone, which Traitor never")
