"""The enrollment bundle: everything a new device needs, made by ``central enroll``.

A bundle is one JSON file holding the pinned TUF root (the device's trust anchor: it is never
fetched from the network), the central URL if configured, the view, the regions, and the
view's pepper(s). It is secret (it holds peppers): written 0600, carried to the device, and
consumed by ``blt-status init``, which wraps the peppers under the officer's passphrase (or,
for the bot, may point at a separate secret file). Delete it after installing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blt_status.crypto import b64d, b64e
from blt_status.device import Keyring
from blt_status.errors import FileFormatError
from blt_status.store import atomic_write_bytes

__all__ = ["BUNDLE_FORMAT", "Bundle"]

BUNDLE_FORMAT = "blt-bundle-v1"


@dataclass(frozen=True)
class Bundle:
    root: dict[str, Any]  # signed TUF root metadata (JSON object)
    view: str  # officer | recipient
    regions: tuple[str, ...]  # kecamatan codes; empty for the recipient view (whole country)
    keyring: Keyring = field(repr=False)
    central_url: str | None = None
    label: str = ""  # human description, e.g. "Kecamatan Cibinong, operator desa"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "root": self.root,
            "view": self.view,
            "regions": list(self.regions),
            "peppers": {region: b64e(p) for region, p in self.keyring.peppers.items()},
            "central_url": self.central_url,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Bundle:
        try:
            if data.get("format") != BUNDLE_FORMAT:
                raise ValueError("format")
            bundle = cls(
                root=dict(data["root"]),
                view=str(data["view"]),
                regions=tuple(str(r) for r in data.get("regions", [])),
                keyring=Keyring({str(k): b64d(v) for k, v in data["peppers"].items()}),
                central_url=data.get("central_url"),
                label=str(data.get("label", "")),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise FileFormatError("bundle_invalid") from None
        if bundle.view not in ("officer", "recipient") or not bundle.keyring.peppers:
            raise FileFormatError("bundle_invalid")
        return bundle

    def write(self, path: Path) -> None:
        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=1).encode(), mode=0o600)

    @classmethod
    def read(cls, path: Path) -> Bundle:
        try:
            return cls.from_dict(json.loads(path.read_bytes()))
        except FileNotFoundError:
            raise FileFormatError("bundle_missing", path=str(path)) from None
        except (ValueError, OSError):
            raise FileFormatError("bundle_invalid") from None
