"""``install_bundle``: turn an enrollment bundle into an installed device (``blt-status init``).

The bundle's root becomes the device's TUF trust anchor (``D/tuf/root.bootstrap.json``); it is
checked to be a root signed by its own threshold before anything is written. The peppers are
stored only wrapped under the officer's passphrase, or — for the bot (recipient view) — in a
separate secret file named in the device config, never in the data directory's index.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from tuf.api.metadata import Metadata, Root

from blt_status.bundle import Bundle
from blt_status.crypto import PRODUCTION_WRAP_KDF, KdfProfile, b64d, b64e
from blt_status.device import ALL_REGIONS, Device, DeviceConfig
from blt_status.errors import DeviceError, FileFormatError, PassphraseRequired
from blt_status.store import BACKENDS, atomic_write_bytes
from blt_status.sync._state import SyncPaths

__all__ = ["install_bundle"]


def _bundle_root_bytes(bundle: Bundle) -> bytes:
    """The bundle's root as bytes, after checking it is a root signed by its own keys."""
    data = json.dumps(bundle.root, separators=(",", ":")).encode()
    try:
        root = Metadata[Root].from_bytes(data)
        if not isinstance(root.signed, Root):
            raise ValueError("not a root")
        root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
    except Exception:
        raise FileFormatError("bundle_root") from None
    return data


def _write_pepper_file(path: Path, pepper: bytes) -> None:
    """Store the bot's pepper in its own secret file (0600), refusing to clobber another."""
    encoded = b64e(pepper)
    if path.exists():
        try:
            if b64d(path.read_text().strip()) == pepper:
                return
        except (OSError, ValueError):
            pass
        raise DeviceError("pepper_file_exists", path=path)
    atomic_write_bytes(path, (encoded + "\n").encode(), mode=0o600)


def install_bundle(data_dir: Path, bundle_path: Path, passphrase: str | None, *,
                   backend: str | None = None, pepper_file: Path | None = None,
                   wrap_profile: KdfProfile = PRODUCTION_WRAP_KDF,
                   officer: str | None = None) -> Device:
    """Install a device in ``data_dir`` from an enrollment bundle; refuses an installed dir.

    ``backend`` defaults to ``tinydb`` for an officer device and ``sqlite`` for the bot.
    ``pepper_file`` (recipient view only) puts the pepper in that secret file instead of a
    passphrase-wrapped keyring. ``wrap_profile`` is the passphrase KDF (the production one
    unless a test or demo asks for the labelled cheap profile).
    """
    if (data_dir / "device.json").exists():
        raise DeviceError("already_installed", data_dir=data_dir)
    bundle = Bundle.read(bundle_path)
    root_bytes = _bundle_root_bytes(bundle)
    if bundle.view == "officer" and not bundle.regions:
        raise FileFormatError("bundle_invalid:no_region")
    chosen_backend = backend or ("tinydb" if bundle.view == "officer" else "sqlite")
    if chosen_backend not in BACKENDS:
        raise DeviceError("backend", backend=chosen_backend)
    if pepper_file is not None and bundle.view != "recipient":
        raise DeviceError("pepper_file_view")
    if pepper_file is None and not passphrase:
        raise PassphraseRequired()
    if pepper_file is not None:
        pepper_file = pepper_file.resolve()
        if (data_dir / "index").resolve() in pepper_file.parents:
            raise DeviceError("pepper_file_place")
        pepper = bundle.keyring.peppers.get(ALL_REGIONS)
        if pepper is None:
            raise FileFormatError("bundle_invalid:no_pepper")
        _write_pepper_file(pepper_file, pepper)

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = SyncPaths(data_dir)
    paths.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.targets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(paths.bootstrap_root, root_bytes, mode=0o644)
    config = DeviceConfig(
        view=bundle.view,
        regions=tuple(bundle.regions) if bundle.view == "officer" else (),
        device_id=os.urandom(8).hex(),
        officer=officer or (bundle.label or None),
        central_url=bundle.central_url,
        backend=chosen_backend,
        pepper_file=str(pepper_file) if pepper_file is not None else None,
        extra={"label": bundle.label},
    )
    keyring = None if pepper_file is not None else copy.copy(bundle.keyring)
    # device.json is written last: its presence is what "installed" means.
    return Device.create(data_dir, config, keyring, passphrase, wrap_profile=wrap_profile)
