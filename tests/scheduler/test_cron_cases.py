"""Every reference case of tests/cases/cron.json, one test per id (copied from ../shared/cases).

The expected instants are the cases' own; nothing here is recomputed by the engine under test.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from scheduler import cron

CASES = json.loads((Path(__file__).parent.parent / "cases" / "cron.json").read_text())

# The field each refused case must name (worked out by reading the expression).
ERROR_FIELDS = {
    "C41": "day-of-month",  # 0 0 31 2 *: Feb 31 never exists
    "C46": "day-of-week",  # 6 fields: 2019 lands in day-of-week
    "C52": "minute",  # */90
    "C61": "second",  # 99 is the first bad value (hour 24 is the second)
    "C65": "cron",  # @reboot
    "C69": "minute",  # 90
    "C71": "day-of-month",  # 32
    "C73": "day-of-week",  # 2#6
    "C80": "cron",  # 8 fields
}

# Scheduler-behaviour rows whose `expected` also holds plain next-fire instants after
# `start`: how many leading entries are not cron fires (C84's first is the catch-up run).
BEHAVIOUR_FIRES = {"C83": 0, "C84": 1, "C86": 0, "C87": 0, "C90": 0, "C92": 0}

PLAIN = [c for c in CASES if c.get("kind") != "scheduler-behaviour"]
BEHAVIOUR = [c for c in CASES if c["id"] in BEHAVIOUR_FIRES]


def local_fires(case_expr: str, tz: str, start: str, count: int) -> list[str]:
    schedule = cron.parse(case_expr, tz)
    fires = schedule.next_fires(datetime.fromisoformat(start), count)
    return [f.astimezone(schedule.tz).isoformat() for f in fires]


@pytest.fixture
def host_zone_sydney():
    """The host's zone must never matter: run with TZ set far from the job's zone."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Australia/Sydney"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_every_case_has_a_test() -> None:
    covered = {c["id"] for c in PLAIN} | set(BEHAVIOUR_FIRES)
    assert {c["id"] for c in CASES} - covered == {"C85"}  # C85 is a one-shot, not cron
    assert set(ERROR_FIELDS) == {c["id"] for c in CASES if c.get("expect_error")}
    # No case asks for fires before its start; a new one that does needs a test here.
    assert not [c["id"] for c in CASES if "expected_prev" in c]


@pytest.mark.usefixtures("host_zone_sydney")
@pytest.mark.parametrize("case", PLAIN, ids=[c["id"] for c in PLAIN])
def test_case(case: dict) -> None:
    if case.get("expect_error"):
        with pytest.raises(cron.CronError) as refused:
            cron.validate(case["expr"], case["tz"], datetime.fromisoformat(case["start"]))
        field = ERROR_FIELDS[case["id"]]
        assert refused.value.field == field
        assert field in str(refused.value)
        return

    expected = case["expected"]
    # Ask for one more than listed when the list is short because the schedule ends (C44).
    count = len(expected) if expected else 3
    assert local_fires(case["expr"], case["tz"], case["start"], count) == expected
    for check in case.get("extra_checks", []):
        got = local_fires(case["expr"], case["tz"], check["start"], len(check["expected"]))
        assert got == check["expected"]


@pytest.mark.parametrize("case", BEHAVIOUR, ids=[c["id"] for c in BEHAVIOUR])
def test_scheduler_case_next_fires(case: dict) -> None:
    fires = case["expected"][BEHAVIOUR_FIRES[case["id"]] :]
    got = local_fires(case["expr"], case["tz"], case["start"], len(fires) + 1)
    if case["id"] == "C92":
        # A one-shot 7-field expression: exactly one fire, then the job is finished.
        assert got == fires
    else:
        assert got[: len(fires)] == fires
