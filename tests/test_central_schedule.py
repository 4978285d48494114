"""Schedule invariants: capacity never exceeded, dates and slots inside the rules, determinism."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from blt_status.central.entitlement import EntitlementRules
from blt_status.central.inputs import WEEKDAYS, PayoutPointRow, ProgramConfig
from blt_status.central.schedule import (
    CapacityShortError,
    ScheduleRequest,
    build_schedule,
    slot_capacities,
)
from blt_status.records import PayoutPoint, Program

CIBINONG = [f"32.01.01.{1000 + n}" for n in range(1, 14)]
GUNUNGPUTRI = [f"32.01.02.{2000 + n}" for n in range(1, 11)]
PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")


def make_program(start: dt.date = dt.date(2025, 11, 21), end: dt.date = dt.date(2025, 12, 11),
                 days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat"),
                 holidays: tuple[dt.date, ...] = (), slot_minutes: int = 60,
                 antar_window_days: int = 5) -> ProgramConfig:
    return ProgramConfig(PROGRAM, 200_000, 3, 4, start, end, days, holidays, slot_minutes,
                         EntitlementRules(), antar_window_days)


def make_point(point_id: str, serves: tuple[str, ...], capacity: int, opening: dt.time = dt.time(8),
               closing: dt.time = dt.time(15), jenis: str = "kantor_pos") -> PayoutPointRow:
    return PayoutPointRow(PayoutPoint(point_id, f"Titik {point_id}", "Jl. Uji", jenis), jenis,
                          serves, capacity, opening, closing)


def check_invariants(requests, points, program, result) -> None:
    """Everything a valid schedule must satisfy."""
    payout_days = set(program.payout_days())
    per_day: Counter = Counter()
    per_slot: Counter = Counter()
    served = {request.key for request in requests} - set(result.unserved)
    assert set(result.assignments) == served
    for request in requests:
        if request.key in result.unserved:
            assert not any(request.desa in p.serves or request.desa[:8] in p.serves
                           for p in points.values())
            continue
        assignment = result.assignments[request.key]
        point = assignment.point
        schedule = assignment.schedule
        assert request.desa in point.serves or request.desa[:8] in point.serves
        assert schedule.date in payout_days
        assert schedule.date not in program.holidays
        assert program.start <= schedule.date <= program.end
        assert WEEKDAYS[schedule.date.weekday()] in program.days
        if request.at_home:
            assert schedule.mode == "antar" and schedule.start is None
            assert schedule.window_end in payout_days and schedule.window_end >= schedule.date
            if any(points[pid].jenis == "kantor_pos" for pid in points
                   if request.desa in points[pid].serves
                   or request.desa[:8] in points[pid].serves):
                assert point.jenis == "kantor_pos"
            continue
        assert schedule.mode == point.jenis
        assert point.jam_buka <= schedule.start < schedule.end <= point.jam_tutup
        start_minutes = schedule.start.hour * 60 + schedule.start.minute
        end_minutes = schedule.end.hour * 60 + schedule.end.minute
        assert end_minutes - start_minutes == program.slot_minutes
        per_day[(point.id, schedule.date)] += 1
        per_slot[(point.id, schedule.date, schedule.start)] += 1
    for (point_id, _), count in per_day.items():
        assert count <= points[point_id].kapasitas_per_hari
    for (point_id, _, start), count in per_slot.items():
        assert count <= dict(slot_capacities(points[point_id], program.slot_minutes))[start]


def test_desa_point_preferred_then_overflow_to_kecamatan_point():
    points = {"KOM-1": make_point("KOM-1", (CIBINONG[0],), 1, jenis="komunitas"),
              "KP-1": make_point("KP-1", ("32.01.01",), 100)}
    program = make_program(end=dt.date(2025, 11, 22))  # two payout days
    requests = [ScheduleRequest(f"{n:016d}", CIBINONG[0]) for n in range(5)]
    result = build_schedule(requests, points, program)
    by_point = Counter(a.point.id for a in result.assignments.values())
    assert by_point == {"KOM-1": 2, "KP-1": 3}
    check_invariants(requests, points, program, result)


def test_primary_tier_is_served_before_overflow_takes_shared_capacity():
    # Desa A overflows from its small desa point; desa B depends on the kecamatan point only.
    points = {"KOM-A": make_point("KOM-A", (CIBINONG[0],), 1, jenis="komunitas"),
              "KP-1": make_point("KP-1", ("32.01.01",), 2)}
    program = make_program(end=dt.date(2025, 11, 21))  # one payout day
    requests = [ScheduleRequest("a1", CIBINONG[0]), ScheduleRequest("a2", CIBINONG[0]),
                ScheduleRequest("b1", CIBINONG[1]), ScheduleRequest("b2", CIBINONG[1])]
    with pytest.raises(CapacityShortError) as caught:
        build_schedule(requests, points, program)
    # B's recipients got the kecamatan point; only A's overflow is short.
    assert [s["desa"] for s in caught.value.shortages] == [CIBINONG[0]]
    assert caught.value.shortages[0]["unscheduled"] == 1


def test_several_points_are_balanced_by_share_of_capacity():
    points = {"KP-1": make_point("KP-1", ("32.01.01",), 30),
              "KP-2": make_point("KP-2", ("32.01.01",), 10)}
    requests = [ScheduleRequest(f"k{n:03d}", CIBINONG[n % 13]) for n in range(400)]
    result = build_schedule(requests, points, make_program())
    by_point = Counter(a.point.id for a in result.assignments.values())
    assert by_point == {"KP-1": 300, "KP-2": 100}


def test_capacity_split_evenly_over_slots_with_remainder_first():
    point = make_point("KP-1", ("32.01.01",), 10, dt.time(8), dt.time(12))
    assert slot_capacities(point, 60) == [(dt.time(8), 3), (dt.time(9), 3), (dt.time(10), 2),
                                          (dt.time(11), 2)]
    assert slot_capacities(point, 90) == [(dt.time(8), 5), (dt.time(9, 30), 5)]
    assert slot_capacities(point, 300) == []  # shorter opening than one slot: no capacity


def test_fill_order_day_then_slot():
    points = {"KP-1": make_point("KP-1", ("32.01.01",), 4, dt.time(8), dt.time(10))}
    requests = [ScheduleRequest(f"k{n}", CIBINONG[0]) for n in range(6)]
    result = build_schedule(requests, points, make_program())
    placed = sorted((a.schedule.date, a.schedule.start, key)
                    for key, a in result.assignments.items())
    assert [(d.day, t.hour) for d, t, _ in placed] == [(21, 8), (21, 8), (21, 9), (21, 9),
                                                         (22, 8), (22, 8)]


def test_home_delivery_goes_to_the_kantor_pos_with_a_window_and_no_capacity():
    points = {"KOM-1": make_point("KOM-1", (CIBINONG[0],), 1, jenis="komunitas"),
              "KP-1": make_point("KP-1", ("32.01.01",), 1)}
    program = make_program(end=dt.date(2025, 11, 21), holidays=())
    requests = [ScheduleRequest(f"h{n}", CIBINONG[0], "lansia") for n in range(5)]
    result = build_schedule(requests, points, program)
    assert {a.point.id for a in result.assignments.values()} == {"KP-1"}
    assert {a.schedule.mode for a in result.assignments.values()} == {"antar"}
    only_community = {"KOM-1": points["KOM-1"]}
    result = build_schedule(requests, only_community, program)
    assert {a.point.id for a in result.assignments.values()} == {"KOM-1"}


def test_unserved_desa_is_reported_not_scheduled():
    points = {"KP-1": make_point("KP-1", ("32.01.01",), 10)}
    requests = [ScheduleRequest("a", CIBINONG[0]), ScheduleRequest("b", GUNUNGPUTRI[0])]
    result = build_schedule(requests, points, make_program())
    assert result.unserved == ["b"] and list(result.assignments) == ["a"]


def test_zero_capacity_point_is_reported_short():
    points = {"KP-1": make_point("KP-1", ("32.01.01",), 5, dt.time(8), dt.time(8, 30))}
    with pytest.raises(CapacityShortError) as caught:
        build_schedule([ScheduleRequest("a", CIBINONG[0])], points, make_program())
    assert caught.value.shortages[0]["available"] == 0
    assert caught.value.code == "capacity_short"


point_strategy = st.builds(
    lambda serves, capacity, opening, hours, jenis: (serves, capacity, dt.time(opening),
                                                      dt.time(min(opening + hours, 23)), jenis),
    serves=st.lists(st.sampled_from(["32.01.01", "32.01.02", *CIBINONG[:4], *GUNUNGPUTRI[:3]]),
                    min_size=1, max_size=3, unique=True),
    capacity=st.integers(1, 40),
    opening=st.integers(6, 12),
    hours=st.integers(0, 9),
    jenis=st.sampled_from(["kantor_pos", "komunitas"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    point_specs=st.lists(point_strategy, min_size=1, max_size=5),
    desa_choices=st.lists(st.sampled_from(CIBINONG[:6] + GUNUNGPUTRI[:4]), min_size=0,
                          max_size=150),
    special=st.lists(st.sampled_from([None, None, None, "lansia", "disabilitas"]), min_size=150,
                     max_size=150),
    start_offset=st.integers(0, 6),
    length=st.integers(0, 20),
    days=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    holiday_offsets=st.lists(st.integers(0, 20), max_size=4),
    slot_minutes=st.sampled_from([15, 30, 45, 60, 90]),
    seed=st.integers(0, 1000),
)
def test_schedule_invariants_hold_or_capacity_short_is_raised(
        point_specs, desa_choices, special, start_offset, length, days, holiday_offsets,
        slot_minutes, seed):
    start = dt.date(2025, 11, 17) + dt.timedelta(days=start_offset)
    end = start + dt.timedelta(days=length)
    holidays = tuple(sorted({start + dt.timedelta(days=o) for o in holiday_offsets}))
    program = make_program(start, end, tuple(d for d in WEEKDAYS if d in days), holidays,
                           slot_minutes)
    if not program.payout_days():
        return  # load_program refuses such a program
    points = {f"P{n}": make_point(f"P{n}", tuple(serves), capacity, opening, closing, jenis)
              for n, (serves, capacity, opening, closing, jenis) in enumerate(point_specs)}
    requests = [ScheduleRequest(f"{n:016d}", desa, special[n])
                for n, desa in enumerate(desa_choices)]
    try:
        result = build_schedule(requests, points, program)
    except CapacityShortError as error:
        event("capacity short")
        assert error.shortages and all(s["unscheduled"] > 0 for s in error.shortages)
        assert all(s["needed"] > 0 for s in error.shortages)
        return
    event(f"scheduled, {(len(result.unserved) > 0 and 'with') or 'no'} unserved")
    check_invariants(requests, points, program, result)
    shuffled = list(requests)
    random.Random(seed).shuffle(shuffled)
    again = build_schedule(shuffled, points, program)
    assert again.assignments == result.assignments
    assert sorted(again.unserved) == sorted(result.unserved)


def test_capacity_short_only_when_a_group_truly_exceeds_its_points():
    # One shared kecamatan point, exactly enough places: no error; one more: error.
    points = {"KP-1": make_point("KP-1", ("32.01.01",), 7, dt.time(8), dt.time(15))}
    program = make_program(end=dt.date(2025, 11, 22))  # 2 payout days -> 14 places
    exact = [ScheduleRequest(f"k{n:02d}", CIBINONG[n % 13]) for n in range(14)]
    check_invariants(exact, points, program, build_schedule(exact, points, program))
    with pytest.raises(CapacityShortError):
        build_schedule([*exact, ScheduleRequest("k99", CIBINONG[0])], points, program)
