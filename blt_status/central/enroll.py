"""Enrolling a device: the bundle with the pinned root, central URL, view, regions and peppers."""

from __future__ import annotations

from collections.abc import Sequence

from blt_status.bundle import Bundle
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError
from blt_status.indexer import device_keyring
from blt_status.regions import current_region, dotted, region_name

__all__ = ["enroll", "store_kecamatan"]


def store_kecamatan(store: CentralStore) -> set[str]:
    """Kecamatan with records in the published version."""
    from blt_status.central.roster import roster_counts

    return set(roster_counts(store))


def enroll(store: CentralStore, *, regions: Sequence[str] = (), bot: bool = False) -> Bundle:
    """A bundle for an officer device over ``regions`` (kecamatan codes) or for the bot.

    Regions must be current kecamatan codes with records in the published version; the bot
    bundle can be made before the first publish (its pepper covers the whole country).
    """
    if bot == bool(regions):
        raise CentralError("enroll_view")
    root = store.root().to_dict()
    url = store.config.central_url
    params = store.index_params(store.epochs()[-1])  # peppers do not depend on the epoch
    if bot:
        keyring = device_keyring(params, "recipient", ())
        return Bundle(root=root, view="recipient", regions=(), keyring=keyring, central_url=url,
                      label="bot penerima (recipient view)")
    if store.published_version() == 0:
        raise CentralError("nothing_published")
    known = store_kecamatan(store)
    chosen: list[str] = []
    for raw in regions:
        code = dotted(raw)
        region = current_region(code)
        if region is None or code.count(".") != 2:
            raise CentralError("region_unknown", region=raw)
        if code not in known:
            raise CentralError("region_not_published", region=code)
        if code not in chosen:
            chosen.append(code)
    keyring = device_keyring(params, "officer", chosen)
    names = ", ".join(f"{code} {region_name(code)}" for code in chosen)
    return Bundle(root=root, view="officer", regions=tuple(chosen), keyring=keyring,
                  central_url=url, label=f"operator: {names}")
