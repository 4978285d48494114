"""Signed invitations (surat undangan): a printable PDF whose QR token devices verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blt_status.central.store import CentralStore
from blt_status.errors import CentralError


def write_invitations(store: CentralStore, desa: str, out: Path) -> dict[str, Any]:
    raise CentralError("invitation_desa_unknown", desa=desa)
