"""Small-cell suppression for the public per-kecamatan progress aggregates.

The aggregates are public (any static host serves them), so no published number may single
out a person. Two rules, applied to every count of one kecamatan's document (per desa:
recipients, collected, held, returned, pending; the kecamatan totals; per payout day:
scheduled, collected):

1. **Small cells**: a count under :data:`THRESHOLD` (0 included: "nobody collected" says
   something about everyone) is published as ``"<10"``.
2. **No subtraction**: the document's sums (a desa's recipients = collected + held + returned
   + pending; a total = the sum over desa; the days add up to the totals) must not let anyone
   compute a hidden cell exactly. :func:`feasible` plays the attacker — it narrows every cell
   to the interval its published neighbours allow — and while any hidden cell is pinned to
   one value, one more cell next to it (the smallest shown one in a sum it belongs to) is
   hidden as well, published as ``"≥10"``.

A payout day whose counts are both small is left out (its mere presence would say that
someone collected that day); the document then says ``"days_complete": false``. A rupiah
amount is published only next to its count (``amount_total`` with ``recipients``,
``amount_collected`` with ``collected``); otherwise it is ``null``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["HIDDEN", "PARTS", "SMALL", "THRESHOLD", "feasible", "relations", "suppress"]

THRESHOLD = 10
SMALL = "<10"
HIDDEN = "≥10"
PARTS = ("collected", "held", "returned", "pending")
COUNTS = ("recipients", *PARTS)
AMOUNT_OF = {"amount_total": "recipients", "amount_collected": "collected"}

Cell = tuple[str, int, str]  # (section: desa | totals | days, index, key)
Relation = tuple[Cell, list[Cell]]  # total == sum(parts)


def relations(document: Mapping[str, Any]) -> list[Relation]:
    """The sums a reader of the document knows hold (only those that hold in this data)."""
    desa = document.get("desa") or []
    days = document.get("days") or []
    found: list[Relation] = []
    for index, _ in enumerate(desa):
        found.append((("desa", index, "recipients"), [("desa", index, key) for key in PARTS]))
    found.append((("totals", 0, "recipients"), [("totals", 0, key) for key in PARTS]))
    for key in COUNTS:
        found.append((("totals", 0, key), [("desa", index, key) for index in range(len(desa))]))
    if document.get("days_complete") is False:
        return found  # days were left out: they no longer add up to the totals
    for total_key, day_key in (("recipients", "scheduled"), ("collected", "collected")):
        total = document["totals"][total_key]
        values = [day[day_key] for day in days]
        if isinstance(total, int) and all(isinstance(value, int) for value in values) \
                and sum(values) != total:
            continue  # this sum does not hold here (a payout without a time)
        found.append((("totals", 0, total_key),
                      [("days", index, day_key) for index in range(len(days))]))
    return found


def _value(document: Mapping[str, Any], cell: Cell) -> Any:
    section, index, key = cell
    if section == "totals":
        return document["totals"][key]
    return document[section][index][key]


def _set(document: dict[str, Any], cell: Cell, value: Any) -> None:
    section, index, key = cell
    if section == "totals":
        document["totals"][key] = value
    else:
        document[section][index][key] = value


def feasible(document: Mapping[str, Any],
             known: list[Relation] | None = None) -> dict[Cell, tuple[float, float]]:
    """Every count cell's interval given what the document shows and its sums (the attacker).

    A number is exact; ``"<10"`` is 0..9; ``"≥10"`` is 10 or more. Each sum narrows its parts
    and its total; repeated until nothing changes.
    """
    rules = relations(document) if known is None else known
    bounds: dict[Cell, tuple[float, float]] = {}
    for total, parts in rules:
        for cell in (total, *parts):
            value = _value(document, cell)
            if value == SMALL:
                bounds[cell] = (0, THRESHOLD - 1)
            elif value == HIDDEN:
                bounds[cell] = (THRESHOLD, math.inf)
            else:
                bounds[cell] = (int(value), int(value))
    for _ in range(100):
        changed = False
        for total, parts in rules:
            if not parts:
                continue
            low_sum = sum(bounds[part][0] for part in parts)
            high_sum = sum(bounds[part][1] for part in parts)
            lo, hi = bounds[total]
            new = (max(lo, low_sum), min(hi, high_sum))
            if new != bounds[total]:
                bounds[total], changed = new, True
            lo, hi = bounds[total]
            for part in parts:
                p_lo, p_hi = bounds[part]
                others_lo = low_sum - p_lo
                others_hi = high_sum - p_hi
                new = (max(p_lo, lo - others_hi), min(p_hi, hi - others_lo))
                if new != bounds[part]:
                    bounds[part], changed = new, True
                    low_sum = sum(bounds[item][0] for item in parts)
                    high_sum = sum(bounds[item][1] for item in parts)
        if not changed:
            break
    return bounds


def _shown(document: Mapping[str, Any], cell: Cell) -> bool:
    return _value(document, cell) not in (SMALL, HIDDEN)


def _next_to_hide(document: Mapping[str, Any], rules: list[Relation], pinned: list[Cell],
                  exact: Mapping[Cell, int]) -> Cell:
    """The smallest shown cell in a sum with a pinned cell; else one sum further away; else
    the smallest shown cell of the document."""
    near = set(pinned)
    for _ in range(3):
        linked = {other for total, parts in rules if near & {total, *parts}
                  for other in (total, *parts)}
        candidates = [cell for cell in linked if _shown(document, cell)]
        if candidates:
            return min(candidates, key=lambda cell: (exact[cell], cell))
        near = linked
    candidates = [cell for cell in exact if _shown(document, cell)]
    if not candidates:  # pragma: no cover - with every cell hidden nothing is pinned
        raise AssertionError("cannot protect a hidden cell")
    return min(candidates, key=lambda cell: (exact[cell], cell))


def suppress(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one kecamatan's aggregates with small cells hidden so none can be computed."""
    out = copy.deepcopy(dict(document))
    rules = relations(out)
    exact = {cell: int(_value(out, cell)) for total, parts in rules for cell in (total, *parts)}
    for cell, value in exact.items():
        if value < THRESHOLD:
            _set(out, cell, SMALL)
    for _ in range(len(exact) + 1):
        bounds = feasible(out, rules)
        pinned = [cell for cell, (lo, hi) in bounds.items()
                  if lo == hi and _value(out, cell) in (SMALL, HIDDEN)]
        if not pinned:
            break
        chosen = _next_to_hide(out, rules, pinned, exact)
        _set(out, chosen, SMALL if exact[chosen] < THRESHOLD else HIDDEN)
    for rows in ([out["totals"]], out.get("desa") or []):
        for row in rows:
            for amount, count in AMOUNT_OF.items():
                if amount in row and row[count] in (SMALL, HIDDEN):
                    row[amount] = None
    # A day row whose counts are all small would still say "someone collected that day".
    days = out.get("days") or []
    kept = [day for day in days if not (day["scheduled"] == SMALL and day["collected"] == SMALL)]
    if len(kept) != len(days):
        out["days"] = kept
        out["days_complete"] = False
    flagged = out["totals"].get("flagged")
    if isinstance(flagged, int) and flagged < THRESHOLD:
        out["totals"]["flagged"] = SMALL
    out["suppression"] = {"threshold": THRESHOLD, "small": SMALL, "hidden": HIDDEN}
    return out
