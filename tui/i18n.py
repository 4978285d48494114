"""Interface words looked up by key — kept only for the lookup card and the audit screen.

The officer app's texts are English source texts marked ``_("...")`` where they are used and
translated through :mod:`blt_status.i18n` (Bahasa Indonesia in ``tui.po``). The lookup card
(``tui/widgets/result_card.py``) and the audit screen still ask for theirs by key through
:func:`text`, which translates the same way; these keys go when those two use ``_()`` too.
"""

from __future__ import annotations

from blt_status.i18n import N_, translate

__all__ = ["has_text", "text"]

_TEXT: dict[str, str] = {
    "found_none": N_("Not found"),
    "label_address": N_("Address"),
    "label_household": N_("Household"),
    "label_needs": N_("Special needs"),
    "label_amount": N_("Amount"),
    "label_program": N_("Program"),
    "label_when": N_("When"),
    "label_where": N_("Where"),
    "label_bring": N_("Bring"),
    "label_next": N_("Next steps"),
    "label_collected": N_("Collected"),
    "label_note": N_("Note"),
    "audit_title": N_("Audit log"),
    "today_lookups": N_("Lookups today: {count}"),
    "audit_total": N_("Entries in total: {count}"),
    "audit_verifying": N_("Checking the log chain…"),
    "audit_state": N_("Verification: {state}"),
    "col_time": N_("Time (UTC)"),
    "col_action": N_("Action"),
    "col_tag": N_("Tag"),
    "col_result": N_("Result"),
    "col_version": N_("Version"),
}


def has_text(key: str) -> bool:
    return key in _TEXT


def text(key: str, lang: str | None = None, /, **values: object) -> str:
    """The interface sentence ``key`` in ``lang`` (default: current), placeholders filled in."""
    template = translate(_TEXT[key], lang) if key in _TEXT else key
    return template.format(**values) if values else template
