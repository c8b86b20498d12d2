"""The cron engine: syntax, refusals, and the DST rules, with instants worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler import cron


def fires(expr: str, start: str, count: int = 3, tz: str = "UTC") -> list[str]:
    """The next `count` fires after `start`, written with the zone's offset, as a user sees."""
    schedule = cron.parse(expr, tz)
    got = schedule.next_fires(datetime.fromisoformat(start), count)
    return [f.astimezone(schedule.tz).isoformat() for f in got]


def refused(expr: str, tz: str = "UTC", now: str = "2024-01-01T00:00:00+00:00") -> cron.CronError:
    with pytest.raises(cron.CronError) as caught:
        cron.validate(expr, tz, datetime.fromisoformat(now))
    return caught.value


# --- Fields and forms ----------------------------------------------------------------------


def test_the_documented_quartz_example_is_eight_every_monday() -> None:
    # 2024-01-01 is a Monday.
    assert fires("0 0 8 ? * MON", "2024-01-01T00:00:00+00:00") == [
        "2024-01-01T08:00:00+00:00",
        "2024-01-08T08:00:00+00:00",
        "2024-01-15T08:00:00+00:00",
    ]


@pytest.mark.parametrize("dow", ["0", "7", "SUN", "sun", "Sun"])
def test_sunday_is_0_or_7_or_its_name(dow: str) -> None:
    # 2024-01-07 is the first Sunday of 2024.
    assert fires(f"0 0 * * {dow}", "2024-01-01T00:00:00+00:00", 2) == [
        "2024-01-07T00:00:00+00:00",
        "2024-01-14T00:00:00+00:00",
    ]


def test_day_of_week_1_is_monday_in_the_nth_form_too() -> None:
    # Unix numbering everywhere: 1#1 is the first Monday (Feb 5 2024), not the first Sunday.
    assert fires("0 0 * * 1#1", "2024-02-01T00:00:00+00:00", 2) == [
        "2024-02-05T00:00:00+00:00",
        "2024-03-04T00:00:00+00:00",
    ]
    assert fires("0 0 * * 7#1", "2024-01-01T00:00:00+00:00", 1) == ["2024-01-07T00:00:00+00:00"]


def test_last_sunday_of_the_month_can_be_written_0L_7L_or_SUNL() -> None:
    # Last Sundays: 2024-03-31, 2024-04-28.
    for dow in ("0L", "7L", "SUNL"):
        assert fires(f"0 0 * * {dow}", "2024-03-01T00:00:00+00:00", 2) == [
            "2024-03-31T00:00:00+00:00",
            "2024-04-28T00:00:00+00:00",
        ]


def test_month_names_in_any_case_and_lists() -> None:
    assert fires("0 0 1 jan,Jul *", "2024-02-01T00:00:00+00:00", 2) == [
        "2024-07-01T00:00:00+00:00",
        "2025-01-01T00:00:00+00:00",
    ]


def test_hour_range_wraps_past_midnight() -> None:
    assert fires("0 22-1 * * *", "2024-05-01T12:00:00+00:00", 4) == [
        "2024-05-01T22:00:00+00:00",
        "2024-05-01T23:00:00+00:00",
        "2024-05-02T00:00:00+00:00",
        "2024-05-02T01:00:00+00:00",
    ]


def test_day_of_month_range_wraps_at_the_end_of_the_month() -> None:
    # 30-2 is 30, 31, 1, 2; April has no 31st.
    assert fires("0 0 30-2 * *", "2024-04-15T00:00:00+00:00", 4) == [
        "2024-04-30T00:00:00+00:00",
        "2024-05-01T00:00:00+00:00",
        "2024-05-02T00:00:00+00:00",
        "2024-05-30T00:00:00+00:00",
    ]


def test_wrapping_weekday_range_takes_a_step() -> None:
    # FRI-MON/2 is Fri, Sun. 2024-10-02 is a Wednesday.
    assert fires("0 0 * * FRI-MON/2", "2024-10-02T00:00:00+00:00", 3) == [
        "2024-10-04T00:00:00+00:00",
        "2024-10-06T00:00:00+00:00",
        "2024-10-11T00:00:00+00:00",
    ]


@pytest.mark.parametrize("expr", ["0 0 * * SUN-SUN", "0 0 * * 0-0", "0 0 * * 7-7"])
def test_a_range_with_equal_ends_is_that_value_alone(expr: str) -> None:
    assert fires(expr, "2024-01-01T00:00:00+00:00", 2) == [
        "2024-01-07T00:00:00+00:00",
        "2024-01-14T00:00:00+00:00",
    ]


def test_range_step_and_start_step() -> None:
    assert fires("10-30/10 * * * *", "2024-01-01T00:00:00+00:00", 4) == [
        "2024-01-01T00:10:00+00:00",
        "2024-01-01T00:20:00+00:00",
        "2024-01-01T00:30:00+00:00",
        "2024-01-01T01:10:00+00:00",
    ]
    # 1/2 in day-of-week is 1-7/2: Mon, Wed, Fri and (7) Sunday. 2024-01-01 is a Monday.
    assert fires("0 0 * * 1/2", "2024-01-01T00:00:00+00:00", 4) == [
        "2024-01-03T00:00:00+00:00",
        "2024-01-05T00:00:00+00:00",
        "2024-01-07T00:00:00+00:00",
        "2024-01-08T00:00:00+00:00",
    ]


def test_a_step_up_to_the_fields_highest_value_is_allowed() -> None:
    # As cronie: */31 in day-of-month is the 1st alone, */12 in month January alone.
    assert fires("0 0 */31 */12 *", "2024-01-15T00:00:00+00:00", 2) == [
        "2025-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00+00:00",
    ]


def test_star_step_in_day_of_week_counts_from_sunday() -> None:
    # */2 is Sun, Tue, Thu, Sat. From Monday 2024-01-01.
    assert fires("0 0 * * */2", "2024-01-01T00:00:00+00:00", 4) == [
        "2024-01-02T00:00:00+00:00",
        "2024-01-04T00:00:00+00:00",
        "2024-01-06T00:00:00+00:00",
        "2024-01-07T00:00:00+00:00",
    ]


def test_nearest_weekday_to_the_first_stays_in_the_month() -> None:
    # 2024-06-01 is a Saturday: Quartz moves 1W to Monday the 3rd, not to May 31.
    assert fires("0 0 1W * *", "2024-05-15T00:00:00+00:00", 2) == [
        "2024-06-03T00:00:00+00:00",
        "2024-07-01T00:00:00+00:00",
    ]


def test_nearest_weekday_to_a_last_day_on_sunday_goes_back_to_friday() -> None:
    # 2024-06-30 is a Sunday and the last day of June: 30W is Friday the 28th.
    assert fires("0 0 30W 6 *", "2024-06-01T00:00:00+00:00", 1) == ["2024-06-28T00:00:00+00:00"]


def test_last_day_and_first_day_in_one_list() -> None:
    assert fires("0 0 1,L 2 *", "2024-01-15T00:00:00+00:00", 3) == [
        "2024-02-01T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
        "2025-02-01T00:00:00+00:00",
    ]


def test_day_fields_are_or_ed_when_both_are_restricted() -> None:
    # The 1st or any Monday. 2024-04-01 is a Monday; Mondays follow on the 8th, 15th.
    assert fires("0 0 1 * MON", "2024-03-26T00:00:00+00:00", 3) == [
        "2024-04-01T00:00:00+00:00",
        "2024-04-08T00:00:00+00:00",
        "2024-04-15T00:00:00+00:00",
    ]
    assert fires("0 0 2 * MON", "2024-03-26T00:00:00+00:00", 2) == [
        "2024-04-01T00:00:00+00:00",
        "2024-04-02T00:00:00+00:00",
    ]


def test_a_star_prefixed_day_field_makes_both_day_fields_required() -> None:
    # */10 is 1, 11, 21, 31; AND-ed with Monday. Jan 2024: 1 Mon, 11 Thu, 21 Sun, 31 Wed;
    # Feb: 1 Thu, 11 Sun, 21 Wed; Mar: 1 Fri, 11 Mon.
    assert fires("0 0 */10 * MON", "2023-12-31T00:00:00+00:00", 2) == [
        "2024-01-01T00:00:00+00:00",
        "2024-03-11T00:00:00+00:00",
    ]


def test_year_field_lists_and_ends() -> None:
    schedule = cron.parse("0 0 0 1 1 ? 2030,2032")
    got = schedule.next_fires(datetime(2024, 1, 1, tzinfo=UTC), 5)
    assert got == [datetime(2030, 1, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC)]
    assert schedule.next_after(got[-1]) is None


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", "2025-01-01T00:00:00+00:00"),
        ("@annually", "2025-01-01T00:00:00+00:00"),
        ("@monthly", "2024-06-01T00:00:00+00:00"),
        ("@weekly", "2024-05-19T00:00:00+00:00"),  # Sunday
        ("@daily", "2024-05-16T00:00:00+00:00"),
        ("@MIDNIGHT", "2024-05-16T00:00:00+00:00"),
        ("@hourly", "2024-05-15T11:00:00+00:00"),
    ],
)
def test_macros(macro: str, expected: str) -> None:
    assert fires(macro, "2024-05-15T10:30:00+00:00", 1) == [expected]


def test_fires_are_whole_seconds_strictly_after_the_instant() -> None:
    schedule = cron.parse("*/15 * * * * *")
    fire = datetime(2024, 1, 1, 0, 0, 15, tzinfo=UTC)
    assert schedule.next_after(fire) == fire + timedelta(seconds=15)
    assert schedule.next_after(fire - timedelta(microseconds=1)) == fire


def test_any_offset_in_gives_utc_out() -> None:
    fire = cron.parse("0 9 * * *", "Asia/Tokyo").next_after(
        datetime.fromisoformat("2024-01-01T00:00:00-08:00")
    )
    assert fire == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)  # 09:00 JST on the 2nd
    assert fire is not None and fire.tzinfo is UTC


def test_a_naive_instant_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        cron.parse("* * * * *").next_after(datetime(2024, 1, 1))


def test_module_level_next_fires() -> None:
    got = cron.next_fires("0 12 * * *", "Europe/Paris", datetime(2024, 7, 1, tzinfo=UTC), 2)
    assert got == [datetime(2024, 7, 1, 10, tzinfo=UTC), datetime(2024, 7, 2, 10, tzinfo=UTC)]


# --- Refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "field", "says"),
    [
        ("0 0 30 2 *", "day-of-month", "never"),
        ("0 0 31 4,6 *", "day-of-month", "never"),
        ("0 0 L-30 2 ?", "day-of-month", "never"),
        ("60 * * * * *", "second", "(0-59)"),
        ("0 60 * * * ?", "minute", "(0-59)"),
        ("0 0 24 * * ?", "hour", "(0-23)"),
        ("* * * 13 *", "month", "(1-12)"),
        ("0 0 54 * *", "day-of-month", "(1-31)"),
        ("0 0 0 * 0 ?", "month", "(1-12)"),
        ("0 0 * * 8", "day-of-week", "(0-7)"),
        ("0 0 * * 2#0", "day-of-week", "1 to 5"),
        ("0 0 * * 8#1", "day-of-week", "(0-7)"),
        ("0 0 * * #3", "day-of-week", "missing a number"),
        ("0 0 * * 2#", "day-of-week", "1 to 5"),
        ("0 0 * * L", "day-of-week", "ambiguous"),
        ("0 0 * * MONDAY", "day-of-week", "three-letter name"),
        ("0 0 L/2 * *", "day-of-month", "step"),
        ("0 0 L-31 * *", "day-of-month", "L-n"),
        ("0 0 32W * *", "day-of-month", "(1-31)"),
        ("0/60 * * * * *", "second", "step 60"),
        ("*/0 * * * *", "minute", "step 0"),
        ("0 */24 * * *", "hour", "step 24"),
        ("0 0 */32 * *", "day-of-month", "step 32"),
        ("0 0 1 */13 *", "month", "step 13"),
        ("0 0 * * */8", "day-of-week", "step 8"),
        ("? * * * *", "minute", "'?'"),
        ("0 0 ?,1 * *", "day-of-month", "alone"),
        ("1,,2 * * * *", "minute", "empty list item"),
        ("H * * * *", "minute", "not a number"),
        ("0 0 0 * * ? 1969", "year", "(1970-2099)"),
        ("0 0 0 1 1 ? 2099-2030", "year", "backwards"),
        ("0 0 0 29 2 ? 2025", "year", "never"),
        ("0 * * * * ? 2012", "year", "never fire again"),
        ("* * * *", "cron", "got 4"),
        ("", "cron", "empty"),
        ("@every", "cron", "unknown macro"),
        ("@reboot", "cron", "delay job"),
    ],
)
def test_it_refuses_with_a_message_that_names_the_field(expr: str, field: str, says: str) -> None:
    error = refused(expr)
    assert error.field == field
    assert str(error).startswith(f"cron: {field}" if field != "cron" else "cron: ")
    assert says in str(error)


def test_it_refuses_a_year_in_the_past_only_once_it_is_past() -> None:
    assert cron.validate("0 0 0 1 1 ? 2030", "UTC", datetime(2029, 6, 1, tzinfo=UTC))
    error = refused("0 0 0 1 1 ? 2030", now="2030-01-01T00:00:00+00:00")
    assert error.field == "year"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "localtime", "../etc/passwd", "utc+2"])
def test_it_refuses_unknown_zones(name: str) -> None:
    with pytest.raises(cron.CronError) as caught:
        cron.parse("* * * * *", name)
    assert caught.value.field == "timezone"
    assert "IANA" in str(caught.value)


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(cron.CronError, ValueError)


# --- DST: fixed-time schedules ------------------------------------------------------------
# New York 2024: springs forward 2024-03-10 02:00 EST -> 03:00 EDT, falls back
# 2024-11-03 02:00 EDT -> 01:00 EST.


def test_fixed_times_inside_one_gap_fire_once_at_its_end() -> None:
    assert fires("0,30 2 * * *", "2024-03-10T00:00:00-05:00", 3, "America/New_York") == [
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:00:00-04:00",
        "2024-03-11T02:30:00-04:00",
    ]


def test_a_fixed_time_at_the_gap_end_is_not_doubled_by_a_skipped_one() -> None:
    assert fires("0 1-3 * * *", "2024-03-10T00:00:00-05:00", 4, "America/New_York") == [
        "2024-03-10T01:00:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T01:00:00-04:00",
        "2024-03-11T02:00:00-04:00",
    ]


def test_seconds_inside_a_skipped_minute_collapse_to_one_fire() -> None:
    assert fires("* 30 2 * * *", "2024-03-10T00:00:00-05:00", 2, "America/New_York") == [
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:30:00-04:00",
    ]


def test_a_fixed_time_in_the_repeated_hour_fires_at_the_first_pass_only() -> None:
    assert fires("0 1 * * *", "2024-11-02T12:00:00-04:00", 2, "America/New_York") == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-04T01:00:00-05:00",
    ]
    # Asked from inside the second pass, the day's fire is already done.
    assert fires("0 1 * * *", "2024-11-03T01:30:00-05:00", 1, "America/New_York") == [
        "2024-11-04T01:00:00-05:00",
    ]


def test_seconds_of_a_fixed_minute_run_in_the_first_pass_only() -> None:
    assert fires("*/20 30 1 * * *", "2024-11-03T00:00:00-04:00", 4, "America/New_York") == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:20-04:00",
        "2024-11-03T01:30:40-04:00",
        "2024-11-04T01:30:00-05:00",
    ]


def test_dublin_negative_dst_falls_back_like_any_zone() -> None:
    # Dublin 2019-10-27 02:00 IST (+01) -> 01:00 GMT; tzdata calls winter the DST period.
    assert fires("0 1 * * *", "2019-10-26T12:00:00+01:00", 2, "Europe/Dublin") == [
        "2019-10-27T01:00:00+01:00",
        "2019-10-28T01:00:00+00:00",
    ]


def test_a_fixed_time_in_a_skipped_day_fires_when_the_day_resumes() -> None:
    # Samoa skipped 2011-12-30 entirely: 2011-12-29 24:00 -10:00 became 2011-12-31 00:00 +14:00.
    assert fires("0 12 * * *", "2011-12-29T13:00:00-10:00", 2, "Pacific/Apia") == [
        "2011-12-31T00:00:00+14:00",
        "2011-12-31T12:00:00+14:00",
    ]


# --- DST: schedules that follow the clock --------------------------------------------------


def test_star_schedules_skip_the_gap() -> None:
    assert fires("*/30 * * * *", "2024-03-10T01:00:00-05:00", 3, "America/New_York") == [
        "2024-03-10T01:30:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-10T03:30:00-04:00",
    ]


def test_star_hour_with_fixed_minute_runs_both_passes_of_the_repeated_hour() -> None:
    assert fires("0 */1 * * *", "2024-11-03T00:30:00-04:00", 3, "America/New_York") == [
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:00:00-05:00",
        "2024-11-03T02:00:00-05:00",
    ]


def test_half_hour_dst_shift_repeats_half_an_hour() -> None:
    # Lord Howe 2025-04-06 02:00 +11:00 -> 01:30 +10:30.
    assert fires("*/15 * * * *", "2025-04-06T01:20:00+11:00", 5, "Australia/Lord_Howe") == [
        "2025-04-06T01:30:00+11:00",
        "2025-04-06T01:45:00+11:00",
        "2025-04-06T01:30:00+10:30",
        "2025-04-06T01:45:00+10:30",
        "2025-04-06T02:00:00+10:30",
    ]


def test_star_schedules_skip_a_whole_missing_day() -> None:
    assert fires("0 * * * *", "2011-12-29T23:30:00-10:00", 2, "Pacific/Apia") == [
        "2011-12-31T00:00:00+14:00",
        "2011-12-31T01:00:00+14:00",
    ]


def test_every_second_through_a_fall_back_is_one_fire_per_real_second() -> None:
    schedule = cron.parse("* * * * * *", "America/New_York")
    start = datetime(2024, 11, 3, 5, 59, 58, tzinfo=UTC)  # 01:59:58 EDT
    got = schedule.next_fires(start, 4)
    assert got == [start + timedelta(seconds=n) for n in range(1, 5)]
