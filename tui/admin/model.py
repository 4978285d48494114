"""The admin dashboard's data: the report tally as a tree Indonesia → provinsi → kabupaten →
kecamatan → desa → titik, with counts and payouts per day at every node.

Built once per data change (in a worker thread); a drill-down step is then a dictionary
lookup, so moving through the tree never waits for the database.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from blt_status.central.report import DayRow, ReportRow, Tally, days_of
from blt_status.central.report_source import FlaggedPayout, Snapshot
from blt_status.regions import region_name

ROOT = ""
LEVEL_OF_DEPTH = ("nasional", "provinsi", "kabupaten", "kecamatan", "desa", "titik")


def depth_of(code: str) -> int:
    """0 for Indonesia, 1 provinsi ... 4 desa, 5 titik (``<desa>/<point>``)."""
    if code == ROOT:
        return 0
    if "/" in code:
        return 5
    return code.count(".") + 1


def parent_of(code: str) -> str:
    if "/" in code:
        return code.split("/", 1)[0]
    return code.rsplit(".", 1)[0] if "." in code else ROOT


def _chain(desa: str, point: str) -> list[str]:
    parts = desa.split(".")
    return [ROOT, parts[0], ".".join(parts[:2]), ".".join(parts[:3]), desa, f"{desa}/{point}"]


@dataclass
class ProgressTree:
    """Counts per node, children per node, payouts per day per node."""

    rows: dict[str, ReportRow]
    children: dict[str, list[str]]
    day_counts: dict[str, dict[dt.date, int]]
    version: int = 0
    as_of: dt.datetime | None = None
    flagged: list[FlaggedPayout] = field(default_factory=list)

    @classmethod
    def from_tally(cls, counted: Tally, *, version: int = 0, as_of: dt.datetime | None = None,
                   flagged: list[FlaggedPayout] | None = None) -> ProgressTree:
        rows: dict[str, ReportRow] = {ROOT: ReportRow("ID", "Indonesia")}
        children: dict[str, set[str]] = defaultdict(set)
        day_counts: dict[str, dict[dt.date, int]] = {}
        for leaf in counted.leaves.values():
            chain = _chain(leaf.desa, leaf.point_id)
            for parent, code in itertools.pairwise(chain):
                children[parent].add(code)
            for code in chain:
                row = rows.get(code)
                if row is None:
                    name = (counted.point_names.get(leaf.point_id, leaf.point_id)
                            if "/" in code else region_name(code) or code)
                    row = rows[code] = ReportRow(leaf.point_id if "/" in code else code, name)
                row.add(leaf.row)
            day_counts[chain[-1]] = dict(leaf.days)
        # Payouts per day bottom-up, one level at a time (each node summed once).
        for depth in (4, 3, 2, 1, 0):
            for code in [code for code in rows if depth_of(code) == depth]:
                merged: dict[dt.date, int] = defaultdict(int)
                for child in children.get(code, ()):
                    for day, count in day_counts.get(child, {}).items():
                        merged[day] += count
                day_counts[code] = dict(merged)
        ordered = {code: sorted(kids) for code, kids in children.items()}
        return cls(rows, ordered, day_counts, version, as_of, list(flagged or []))

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> ProgressTree:
        return cls.from_tally(snapshot.tally, version=snapshot.version, as_of=snapshot.as_of,
                              flagged=snapshot.flagged)

    def row(self, code: str) -> ReportRow:
        return self.rows.get(code) or ReportRow(code, region_name(code) or code)

    def child_rows(self, code: str) -> list[ReportRow]:
        return [self.rows[child] for child in self.children.get(code, ())]

    def child_codes(self, code: str) -> list[str]:
        return list(self.children.get(code, ()))

    def days(self, code: str) -> list[DayRow]:
        return days_of(self.day_counts.get(code, {}))

    def worst(self, code: str, count: int = 5) -> list[ReportRow]:
        """The children with the lowest share collected (those with recipients)."""
        rows = [row for row in self.child_rows(code) if row.recipients]
        return sorted(rows, key=lambda row: (row.share, -row.recipients, row.code))[:count]

    def flagged_in(self, code: str) -> list[FlaggedPayout]:
        """Flagged payouts in the node's kecamatan (all of them at provinsi level and up)."""
        if "/" in code:
            code = parent_of(code)
        prefix = ".".join(code.split(".")[:3])
        return [flag for flag in self.flagged
                if not prefix or (flag.kecamatan or "").startswith(prefix)]

    def path(self, code: str) -> list[str]:
        """Indonesia, ..., ``code``."""
        chain = [code]
        while chain[-1] != ROOT:
            chain.append(parent_of(chain[-1]))
        return list(reversed(chain))
