"""Indonesia's three time zones (WIB, WITA, WIT) by region code, for times shown to people.

Indonesia has kept fixed offsets without daylight saving since 1988, so each zone is a fixed
``datetime.timezone`` carrying its Indonesian label as its name:

    zone_for_region("32.01.01.2001")              # WIB, UTC+07:00 (Jawa Barat)
    local_label(moment, "73")                     # "14:35 WITA"
    local_datetime_text(moment, "91.01", "id")    # "Senin, 24 November 2025 10:31 WIT"

Times are stored and exchanged in UTC (JSON, files); every time a person reads is converted
here, to the zone of the payout point (the recipient's region) or of the device's region.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "PROVINCE_ZONES",
    "WIB",
    "WIT",
    "WITA",
    "local_datetime_text",
    "local_label",
    "local_moment",
    "zone_for_region",
]

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
WITA = dt.timezone(dt.timedelta(hours=8), "WITA")
WIT = dt.timezone(dt.timedelta(hours=9), "WIT")
_ZONES = {"WIB": WIB, "WITA": WITA, "WIT": WIT}

PROVINCE_ZONES: dict[str, str] = {
    # Sumatra, Java, West and Central Kalimantan
    **dict.fromkeys(("11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
                     "31", "32", "33", "34", "35", "36", "61", "62"), "WIB"),
    # Bali, Nusa Tenggara, South/East/North Kalimantan, Sulawesi
    **dict.fromkeys(("51", "52", "53", "63", "64", "65",
                     "71", "72", "73", "74", "75", "76"), "WITA"),
    # Maluku and Papua
    **dict.fromkeys(("81", "82", "91", "92", "93", "94", "95", "96"), "WIT"),
}
"""Province code (the first two digits of any region code) -> zone label."""


def zone_for_region(code: str | None) -> dt.timezone:
    """The zone of a region code (``32``, ``32.01``, ``3201010``, ``32.01.01.2001``).

    Unknown or empty codes give WIB, the zone of most recipients and of the central office.
    """
    digits = "".join(char for char in (code or "") if char.isdigit())[:2]
    return _ZONES[PROVINCE_ZONES.get(digits, "WIB")]


def local_moment(moment: dt.datetime, region: str | None) -> dt.datetime:
    """``moment`` (aware; naive is taken as UTC) in the region's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone_for_region(region))


def local_label(moment: dt.datetime, region: str | None) -> str:
    """``09:31 WIB``: the clock time of ``moment`` in the region's zone, with its label."""
    local = local_moment(moment, region)
    return f"{local:%H:%M} {local.tzname()}"


def local_datetime_text(moment: dt.datetime, region: str | None, lang: str = "id", *,
                        weekday: bool = True) -> str:
    """``Senin, 24 November 2025 09:31 WIB``: date and time in the region's zone."""
    from blt_status.present import format_date

    local = local_moment(moment, region)
    return f"{format_date(local.date(), lang, weekday=weekday)} {local_label(local, region)}"
