"""Read the published aggregates (``meta.extra["aggregates"]``) into rows the dashboard shows.

The shape is ``blt_status.central.plan.compute_aggregates``: per kecamatan a ``desa`` list
(kode, nama, recipients, collected, held, returned, amount_total, amount_collected) and a
``days`` list (date, scheduled, collected). Anything missing or malformed is skipped, never
fatal: the dashboard then says that this data version carries no aggregates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blt_status.regions import region_name

COUNT_KEYS = ("recipients", "collected", "held", "returned", "amount_total", "amount_collected")


def _count(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole > 0 else 0.0


@dataclass(frozen=True)
class DesaRow:
    """One village's progress."""

    kecamatan: str
    kode: str
    nama: str
    recipients: int
    collected: int
    held: int
    returned: int
    amount_total: int
    amount_collected: int
    hidden: frozenset[str] = frozenset()  # counts published as "<10"/"≥10" (read as 0)
    shown: tuple[tuple[str, str], ...] = ()  # those counts as published

    @property
    def percent(self) -> float:
        return percent(self.collected, self.recipients)


def _hidden(row: Mapping[str, Any]) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Which counts the publisher suppressed (small cells), and how they were published."""
    marks = tuple((key, str(row[key])[:4]) for key in COUNT_KEYS
                  if isinstance(row.get(key), str))
    return frozenset(key for key, _ in marks), marks


def shown_count(row: DesaRow | KecamatanSummary, key: str, formatted: str) -> str:
    """A count as the publisher published it: the number, or ``<10`` / ``≥10``."""
    return dict(row.shown).get(key, formatted) if key in row.hidden else formatted


@dataclass(frozen=True)
class KecamatanSummary:
    """A kecamatan's totals, summed over its villages."""

    code: str
    name: str
    recipients: int
    collected: int
    held: int
    returned: int
    amount_total: int
    amount_collected: int
    flagged: str = ""  # flagged payouts as published ("12", "<10"), "" when not published
    hidden: frozenset[str] = frozenset()
    shown: tuple[tuple[str, str], ...] = ()

    @property
    def percent(self) -> float:
        return percent(self.collected, self.recipients)


def _flagged(body: Mapping[str, Any]) -> str:
    totals = body.get("totals")
    value = totals.get("flagged") if isinstance(totals, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value)[:8]


@dataclass(frozen=True)
class DayRow:
    """One payout day: how many were scheduled and how many collected (all kecamatan)."""

    date: dt.date
    scheduled: int
    collected: int


@dataclass(frozen=True)
class DashboardData:
    kecamatans: tuple[KecamatanSummary, ...]
    desa: tuple[DesaRow, ...]
    days: tuple[DayRow, ...]

    @property
    def empty(self) -> bool:
        return not self.desa


def read_aggregates(extra: Mapping[str, Any] | None) -> DashboardData:
    """Rows for the dashboard from an index's ``extra`` (tolerates missing/partial data)."""
    aggregates = (extra or {}).get("aggregates") if isinstance(extra, Mapping) else None
    summaries: list[KecamatanSummary] = []
    desa_rows: list[DesaRow] = []
    days: dict[dt.date, list[int]] = {}
    if not isinstance(aggregates, Mapping):
        return DashboardData((), (), ())
    for kecamatan, body in sorted(aggregates.items()):
        if not isinstance(body, Mapping):
            continue
        rows: list[DesaRow] = []
        for item in body.get("desa") or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("kode"), str):
                continue
            kode = item["kode"]
            nama = item.get("nama") if isinstance(item.get("nama"), str) else ""
            hidden, shown = _hidden(item)
            people, got, held, returned, total, paid = (_count(item, key) for key in COUNT_KEYS)
            rows.append(DesaRow(str(kecamatan), kode, nama or region_name(kode) or kode, people,
                                got, held, returned, total, paid, hidden=hidden, shown=shown))
        if not rows:
            continue
        desa_rows += rows
        name = body.get("region_name") if isinstance(body.get("region_name"), str) else ""
        recipients, collected, held, returned, amount_total, amount_collected = (
            sum(getattr(row, key) for row in rows) for key in COUNT_KEYS)
        totals = body.get("totals")
        hidden, shown = _hidden(totals) if isinstance(totals, Mapping) else (frozenset(), ())
        summaries.append(KecamatanSummary(
            str(kecamatan), name or region_name(str(kecamatan)) or str(kecamatan), recipients,
            collected, held, returned, amount_total, amount_collected, flagged=_flagged(body),
            hidden=hidden, shown=shown))
        for item in body.get("days") or ():
            try:
                day = dt.date.fromisoformat(str(item["date"]))
            except (KeyError, TypeError, ValueError):
                continue
            totals = days.setdefault(day, [0, 0])
            totals[0] += _count(item, "scheduled")
            totals[1] += _count(item, "collected")
    return DashboardData(
        tuple(summaries), tuple(desa_rows),
        tuple(DayRow(day, *counts) for day, counts in sorted(days.items())))


def sample_aggregates() -> dict[str, Any]:
    """A small fixed example (tests and snapshots use it; never shown as real data)."""
    desa = [
        ("32.01.01.1001", "Pakansari", 120, 90, 4, 1),
        ("32.01.01.1002", "Tengah", 80, 20, 2, 0),
        ("32.01.01.1003", "Pondok Rajeg", 60, 60, 0, 0),
        ("32.01.01.1004", "Karadenan", 95, 41, 6, 3),
    ]
    rows = [{"kode": kode, "nama": nama, "recipients": n, "collected": c, "held": h,
             "returned": r, "amount_total": n * 600_000, "amount_collected": c * 600_000}
            for kode, nama, n, c, h, r in desa]
    days = [("2025-11-21", 120, 110), ("2025-11-22", 110, 70), ("2025-11-24", 95, 31),
            ("2025-11-25", 30, 0)]
    return {"32.01.01": {
        "format": "blt-aggregates-v1", "region": "32.01.01", "region_name": "Cibinong",
        "desa": rows, "days": [{"date": d, "scheduled": s, "collected": c} for d, s, c in days],
    }}
