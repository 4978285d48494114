"""Assign every eligible recipient a payout point, a date and a time slot, within capacity.

Rules (deterministic: the result depends on the set of recipients, not on their row order):

- **Point.** A recipient is served by the points whose ``kode_wilayah`` lists their desa
  (preferred) or their kecamatan. Recipients are first placed among their preferred tier only
  (desa-level points if any, else kecamatan-level); among several points, the one with the
  lowest share of its window capacity used so far wins (ties: point id). Only when the preferred
  tier is full do they overflow to the kecamatan-level points, after everyone has had a place
  in their preferred tier.
- **Slot.** A point's day runs from ``jam_buka`` to ``jam_tutup`` in whole slots of
  ``slot_minutes``; ``kapasitas_per_hari`` is split evenly over them (the remainder to the
  earliest slots), so a day never takes more than its capacity. A point's recipients, sorted by
  desa then NIK, fill day 1 slot 1, then slot 2, ... then day 2 (payout days = configured
  weekdays within [start, end] minus holidays).
- **At home.** ``lansia``/``disabilitas`` recipients get mode ``antar``: no counter slot, a date
  window of the first ``antar_window_days`` payout days, and as payout point the Kantor Pos
  serving them (the office that sends the officer) — a community point only where no Kantor Pos
  serves them. They use no counter capacity.
- **Shortage.** If the window cannot hold everyone, :class:`CapacityShortError`
  (``capacity_short``) lists each short desa with needed vs available capacity and its points;
  nothing is overbooked or dropped. A desa that no point serves at all is returned in
  ``unserved`` (the plan rejects those rows with ``no_payout_point``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from blt_status.central.inputs import PayoutPointRow, ProgramConfig
from blt_status.errors import CapacityShortError  # the class lives in the error tree
from blt_status.records import Schedule
from blt_status.regions import kecamatan_of, region_name

__all__ = [
    "Assignment",
    "CapacityShortError",
    "ScheduleRequest",
    "ScheduleResult",
    "build_schedule",
    "slot_capacities",
]

HOME_DELIVERY = ("lansia", "disabilitas")


@dataclass(frozen=True)
class ScheduleRequest:
    """One eligible recipient to place: ``key`` is the NIK digits (never shown)."""

    key: str = field(repr=False)
    desa: str  # dotted desa code of residence
    special_needs: str | None = None

    @property
    def at_home(self) -> bool:
        return self.special_needs in HOME_DELIVERY


@dataclass(frozen=True)
class Assignment:
    point: PayoutPointRow
    schedule: Schedule


@dataclass
class ScheduleResult:
    assignments: dict[str, Assignment]  # by request key
    unserved: list[str]  # keys of requests whose desa no point serves


def slot_capacities(point: PayoutPointRow, slot_minutes: int) -> list[tuple[dt.time, int]]:
    """Each slot's start and how many it takes; the slots add up to ``kapasitas_per_hari``."""
    starts = point.slot_starts(slot_minutes)
    if not starts:
        return []
    base, extra = divmod(point.kapasitas_per_hari, len(starts))
    return [(start, base + (1 if index < extra else 0)) for index, start in enumerate(starts)]


def _slot_end(start: dt.time, slot_minutes: int) -> dt.time:
    minutes = start.hour * 60 + start.minute + slot_minutes
    return dt.time(minutes // 60, minutes % 60) if minutes < 24 * 60 else dt.time(23, 59)


class _PointLoad:
    """How full one point is over the whole window while recipients are placed."""

    def __init__(self, point: PayoutPointRow, slots: list[tuple[dt.time, int]],
                 days: int) -> None:
        self.point = point
        self.slots = slots
        self.capacity = sum(count for _, count in slots) * days
        self.counter: list[ScheduleRequest] = []
        self.at_home = 0

    @property
    def free(self) -> int:
        return self.capacity - len(self.counter)

    def fullness(self) -> tuple[float, str]:
        return (len(self.counter) / self.capacity if self.capacity else 1.0, self.point.id)


def _tiers(desa: str, by_desa: Mapping[str, list[str]], by_kecamatan: Mapping[str, list[str]],
           ) -> list[list[str]]:
    desa_level = by_desa.get(desa, [])
    kecamatan_level = [pid for pid in by_kecamatan.get(kecamatan_of(desa), [])
                       if pid not in desa_level]
    return [tier for tier in (desa_level, kecamatan_level) if tier]


def build_schedule(requests: Iterable[ScheduleRequest], points: Mapping[str, PayoutPointRow],
                   program: ProgramConfig) -> ScheduleResult:
    """Place every request; raise :class:`CapacityShortError` if the window is too small."""
    days = program.payout_days()
    loads = {pid: _PointLoad(point, slot_capacities(point, program.slot_minutes), len(days))
             for pid, point in sorted(points.items())}
    by_desa: dict[str, list[str]] = defaultdict(list)
    by_kecamatan: dict[str, list[str]] = defaultdict(list)
    for pid, point in sorted(points.items()):
        for code in point.serves:
            (by_desa if code.count(".") == 3 else by_kecamatan)[code].append(pid)

    window_start, window_end = program.antar_window()
    assignments: dict[str, Assignment] = {}
    unserved: list[str] = []
    overflow: list[tuple[ScheduleRequest, list[str]]] = []
    ordered = sorted(requests, key=lambda request: (request.desa, request.key))
    for request in ordered:
        tiers = _tiers(request.desa, by_desa, by_kecamatan)
        if not tiers:
            unserved.append(request.key)
            continue
        if request.at_home:
            offices = next(([pid for pid in tier if loads[pid].point.jenis == "kantor_pos"]
                            for tier in tiers
                            if any(loads[pid].point.jenis == "kantor_pos" for pid in tier)),
                           tiers[0])
            load = min((loads[pid] for pid in offices), key=lambda item: (item.at_home,
                                                                            item.point.id))
            load.at_home += 1
            assignments[request.key] = Assignment(
                load.point, Schedule(window_start, None, None, "antar", window_end))
            continue
        open_points = [loads[pid] for pid in tiers[0] if loads[pid].free > 0]
        if open_points:
            min(open_points, key=_PointLoad.fullness).counter.append(request)
        else:
            overflow.append((request, [pid for tier in tiers[1:] for pid in tier]))

    unscheduled: list[ScheduleRequest] = []
    for request, others in overflow:
        open_points = [loads[pid] for pid in others if loads[pid].free > 0]
        if open_points:
            min(open_points, key=_PointLoad.fullness).counter.append(request)
        else:
            unscheduled.append(request)
    if unscheduled:
        raise _shortage(unscheduled, ordered, loads, by_desa, by_kecamatan, program)

    for load in loads.values():
        load.counter.sort(key=lambda request: (request.desa, request.key))
        places = ((day, start, count) for day in days for start, count in load.slots)
        queue = iter(load.counter)
        for day, start, count in places:
            batch = [request for _, request in zip(range(count), queue, strict=False)]
            schedule = Schedule(day, start, _slot_end(start, program.slot_minutes),
                                load.point.jenis)
            for request in batch:
                assignments[request.key] = Assignment(load.point, schedule)
            if len(batch) < count:
                break
    return ScheduleResult(assignments, unserved)


def _shortage(unscheduled: list[ScheduleRequest], ordered: list[ScheduleRequest],
              loads: Mapping[str, _PointLoad], by_desa: Mapping[str, list[str]],
              by_kecamatan: Mapping[str, list[str]], program: ProgramConfig,
              ) -> CapacityShortError:
    missing: dict[str, int] = defaultdict(int)
    for request in unscheduled:
        missing[request.desa] += 1
    needed: dict[str, int] = defaultdict(int)
    for request in ordered:
        if request.desa in missing and not request.at_home:
            needed[request.desa] += 1
    shortages = []
    for desa in sorted(missing):
        point_ids = [pid for tier in _tiers(desa, by_desa, by_kecamatan) for pid in tier]
        shortages.append({
            "desa": desa,
            "desa_name": region_name(desa) or "",
            "needed": needed[desa],
            "available": sum(loads[pid].capacity for pid in point_ids),
            "unscheduled": missing[desa],
            "points": [{"id": pid, "available": loads[pid].capacity,
                        "used": len(loads[pid].counter)} for pid in point_ids],
        })
    return CapacityShortError(shortages, f"{program.start}..{program.end}")
