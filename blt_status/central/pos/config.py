"""Who the payer is and how to reach it: ``DIR/private/pos/config.json`` (0600, no secrets).

The config names the payer (``payer_id``, its Ed25519 public key that verifies callbacks), where
the bearer token we send to the payer comes from — a token file, or OAuth2 client credentials
(token URL, client id and the *path* of the client-secret file; see
:mod:`blt_status.central.pos.oauth`) — and the path of the token file the payer must present to
our receiver. Tokens and secrets are read from their files each time they are used and are never
printed, logged or copied into the store.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from blt_status.central.pos.signing import load_public_key
from blt_status.central.store import CentralStore, write_private
from blt_status.errors import CentralError

__all__ = ["DEFAULT_BATCH", "PosConfig", "config_path", "load_config", "read_secret",
           "read_token", "save_config"]

CONFIG_FORMAT = "blt-pos-config-v1"
DEFAULT_BATCH = 1000
DEFAULT_SENDER = "blt-status-central"
DEFAULT_PAYER_FA = "blt-pangan@kemensos"
_OAUTH_FIELDS = ("token_url", "client_id", "client_secret_file", "client_auth", "scope")


@dataclass(frozen=True)
class PosConfig:
    payer_id: str
    payer_key_pem: str
    token_file: str | None  # the bearer token we present to the payer (or OAuth2 below)
    callback_token_file: str  # the bearer token the payer presents to us
    sender_id: str = DEFAULT_SENDER
    payer_fa: str = DEFAULT_PAYER_FA
    payer_name: str = ""
    callback_url: str | None = None
    batch_size: int = DEFAULT_BATCH
    # OAuth2 client credentials (G2P Connect AUTHZ-TOKN) instead of ``token_file``:
    token_url: str | None = None
    client_id: str | None = None
    client_secret_file: str | None = None  # a path: the secret is never copied
    client_auth: str = "basic"  # "basic" (HTTP Basic) | "post" (in the form body)
    scope: str | None = None

    @property
    def payer_key(self) -> Ed25519PublicKey:
        return load_public_key(self.payer_key_pem)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.token_url is None:  # a token file: the config reads as before OAuth2 existed
            for name in _OAUTH_FIELDS:
                data.pop(name)
        return {"format": CONFIG_FORMAT, **data}

    def summary(self) -> dict[str, Any]:
        """What may be shown: everything but the key body (the token files are only paths)."""
        data = asdict(self)
        data.pop("payer_key_pem")
        return data


def config_path(store: CentralStore) -> Path:
    return store.private_dir / "pos" / "config.json"


def save_config(store: CentralStore, config: PosConfig) -> None:
    config.payer_key  # noqa: B018  (refuses a key that is not Ed25519 before saving)
    oauth = (config.token_url, config.client_id, config.client_secret_file)
    if (config.token_file is None) == (not any(oauth)) or (any(oauth) and not all(oauth)) \
            or config.client_auth not in ("basic", "post"):
        raise CentralError("pos_client_credentials")
    if config.token_file is not None:
        read_token(Path(config.token_file))
    else:
        read_secret(Path(str(config.client_secret_file)))
    read_token(Path(config.callback_token_file))
    if config.batch_size < 1:
        raise CentralError("pos_batch_size")
    write_private(config_path(store), json.dumps(config.to_dict(), indent=1).encode())


def load_config(store: CentralStore) -> PosConfig:
    """The payer's config; ``pos_not_configured`` before ``central pos configure``."""
    path = config_path(store)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CentralError("pos_not_configured", directory=str(store.directory)) from None
    except (OSError, ValueError):
        raise CentralError("pos_config_corrupt") from None
    if not isinstance(data, dict) or data.pop("format", None) != CONFIG_FORMAT:
        raise CentralError("pos_config_corrupt")
    try:
        return PosConfig(**data)
    except TypeError:
        raise CentralError("pos_config_corrupt") from None


def read_token(path: Path) -> str:
    """The bearer token in ``path`` (first line, stripped); ``pos_token`` if unusable."""
    try:
        token = path.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        raise CentralError("pos_token", path=str(path)) from None
    if not token or any(ch.isspace() for ch in token):
        raise CentralError("pos_token", path=str(path))
    return token


def read_secret(path: Path) -> str:
    """The OAuth2 client secret in ``path`` (first line, stripped); ``pos_client_secret``."""
    try:
        secret = path.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        raise CentralError("pos_client_secret", path=str(path)) from None
    if not secret:
        raise CentralError("pos_client_secret", path=str(path))
    return secret
