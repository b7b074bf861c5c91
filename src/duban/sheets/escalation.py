"""Escalation levels in officials' words. The rule itself is `duban.policy.escalation_stage`, shared with delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from duban.catalog import BUILTIN_ROLES, EscalationLevel

NUMERALS = "一二三四五六七八九十"


def level_label(number: int, levels: Sequence[EscalationLevel], roles: Mapping[str, str] | None = None,
                unit_labels: Mapping[str, str] | None = None) -> str:
    """二级（主要负责同志） for level 2 of these levels; '' for level 0."""
    if number <= 0 or number > len(levels):
        return ""
    roles = {**BUILTIN_ROLES, **(roles or {})}
    names = []
    for target in levels[number - 1].to:
        if target.startswith("unit:"):
            names.append((unit_labels or {}).get(target[5:], target[5:]))
        else:
            role = target.removeprefix("role:")
            names.append(roles.get(role, role))
    numeral = NUMERALS[number - 1] if number <= len(NUMERALS) else str(number)
    return f"{numeral}级（{'、'.join(names)}）" if names else f"{numeral}级"
