"""How much a household receives: ``monthly_amount x months`` plus small data-driven rules.

program.toml may add rules under ``[entitlement]``::

    [entitlement]
    monthly_amount = 200000
    months = 3
    cap = 900000                 # optional: no household receives more than this

    [[entitlement.rules]]        # 50,000 per member above four
    members_above = 4
    per_member = 50000

    [[entitlement.rules]]        # a flat top-up for elderly recipients
    special_needs = "lansia"
    add = 100000

A rule applies when all its conditions hold (``members_above``: household larger than N;
``special_needs``: ``lansia`` or ``disabilitas``; ``desil_at_most``: desil <= N). It then adds
``add`` plus ``per_member`` for every member above ``members_above`` (0 when not given).
Rules add up in order; ``cap`` bounds the total. Unknown keys are an error, so a typo does not
silently pay the wrong amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RULE_KEYS", "EntitlementRule", "EntitlementRules", "entitlement_amount",
           "parse_entitlement_rules"]

SPECIAL_NEEDS = ("lansia", "disabilitas")
RULE_KEYS = frozenset({"members_above", "special_needs", "desil_at_most", "add", "per_member"})
_MAX_RUPIAH = 1_000_000_000


@dataclass(frozen=True)
class EntitlementRule:
    add: int = 0
    per_member: int = 0
    members_above: int = 0
    special_needs: str | None = None
    desil_at_most: int | None = None

    def applies(self, household_size: int, desil: int, special_needs: str | None) -> bool:
        if household_size <= self.members_above:
            return False
        if self.special_needs is not None and special_needs != self.special_needs:
            return False
        return self.desil_at_most is None or desil <= self.desil_at_most

    def amount(self, household_size: int) -> int:
        return self.add + self.per_member * max(0, household_size - self.members_above)


@dataclass(frozen=True)
class EntitlementRules:
    rules: tuple[EntitlementRule, ...] = ()
    cap: int | None = None


def _whole(table: dict[str, Any], key: str, low: int, high: int, where: str) -> int | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where}{key} must be a whole number from {low} to {high}")
    return value


def parse_entitlement_rules(table: dict[str, Any]) -> EntitlementRules:
    """The rules and cap of an ``[entitlement]`` table; ValueError says what is wrong."""
    cap = _whole(table, "cap", 1, _MAX_RUPIAH, "entitlement.")
    raw_rules = table.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ValueError("entitlement.rules must be [[entitlement.rules]] tables")
    rules = []
    for number, raw in enumerate(raw_rules, start=1):
        where = f"entitlement.rules #{number}: "
        if not isinstance(raw, dict):
            raise ValueError(f"{where}must be a table")
        unknown = sorted(set(raw) - RULE_KEYS)
        if unknown:
            raise ValueError(f"{where}unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(RULE_KEYS))}")
        special = raw.get("special_needs")
        if special is not None and special not in SPECIAL_NEEDS:
            raise ValueError(f"{where}special_needs must be lansia or disabilitas")
        rule = EntitlementRule(
            add=_whole(raw, "add", 0, _MAX_RUPIAH, where) or 0,
            per_member=_whole(raw, "per_member", 0, _MAX_RUPIAH, where) or 0,
            members_above=_whole(raw, "members_above", 0, 100, where) or 0,
            special_needs=special,
            desil_at_most=_whole(raw, "desil_at_most", 1, 10, where),
        )
        if rule.add == 0 and rule.per_member == 0:
            raise ValueError(f"{where}needs add or per_member")
        rules.append(rule)
    return EntitlementRules(tuple(rules), cap)


def entitlement_amount(base_amount: int, rules: EntitlementRules, *, household_size: int,
                       desil: int, special_needs: str | None) -> int:
    """The rupiah a household receives in this program."""
    total = base_amount + sum(rule.amount(household_size) for rule in rules.rules
                              if rule.applies(household_size, desil, special_needs))
    return min(total, rules.cap) if rules.cap is not None else total
