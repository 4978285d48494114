"""Every way a sync can fail, as one :class:`SyncError` with a stable code and one sentence.

    sync_network          the server could not be reached or the transfer broke off
    sync_not_found        no repository at that address (HTTP 404 on timestamp.json)
    sync_too_large        a response longer than its signed (or configured) length
    sync_hash_mismatch    a file whose length or hash differs from its signed metadata
    sync_bad_signature    metadata not signed by enough trusted keys (bad, unknown, too few)
    sync_bad_metadata     metadata that cannot be parsed or is inconsistent
    sync_rollback         metadata older than what this device already trusts
    sync_expired          metadata past its expiry date (a frozen or stale mirror)
    sync_shard_mismatch   a shard whose view/region (signed or in its header) is not ours
    sync_shard_invalid    a shard file that cannot be read (bad lines, counts, duplicates)
    sync_params           the index parameters (params.json) are missing or unusable
    sync_disk             the new index could not be written on this device
    sync_busy             another sync is running on this data directory
    sync_source           the --from value is neither a URL nor a usable directory
    sync_timeout          the whole sync did not finish within its deadline (--timeout)
    sync_too_slow         a file arrived slower than the byte-rate floor, or stalled
    sync_redirect         the server redirected to another host the device does not trust
    target_missing        a file the signed metadata lists is not on the server (HTTP 404)
"""

from __future__ import annotations

from tuf.api import exceptions as tuf_errors

from blt_status.errors import BltError, FileFormatError, SyncError
from blt_status.sync._fetcher import CrossHostRedirect, MissingFile, NetworkFailure, TooSlow

__all__ = ["sync_error", "translate"]

def sync_error(code: str, detail: str = "") -> SyncError:
    """A :class:`SyncError` with the sentence for ``code`` and an optional technical detail."""
    return SyncError(code, detail=f" ({detail})" if detail else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _network_error(error: NetworkFailure) -> SyncError:
    """A sentence per kind of network failure, in the reader's language (the exception's own
    text, e.g. "ConnectError", is English and says little to an officer)."""
    host = error.host
    if error.kind == "refused":
        return SyncError("sync_network:refused", host=host)
    if error.kind == "dns":
        return SyncError("sync_network:dns", host=host)
    if error.kind == "tls":
        return SyncError("sync_network:tls", host=host)
    if error.kind == "timeout":
        return SyncError("sync_network:timeout", host=host)
    if error.kind == "lost":
        return SyncError("sync_network:lost", host=host)
    return SyncError("sync_network:unreachable", host=host)


def translate(error: BaseException) -> BltError:
    """Map an exception raised during a sync to the one error a user sees."""
    if isinstance(error, SyncError):
        if error.code == "shard_invalid":  # the layout's error, as a sync sees it
            return sync_error("sync_shard_invalid", str(error.fields.get("detail", "")))
        return error
    if isinstance(error, FileFormatError):
        if error.code == "duplicate_tag":
            return sync_error("sync_shard_invalid", "two records share one tag")
        if error.code == "kdf_params":
            return sync_error("sync_params", error.en_text.rstrip("."))
        return error
    if isinstance(error, BltError):
        return error
    detail = _first_line(error)
    if isinstance(error, tuf_errors.DownloadLengthMismatchError):
        return sync_error("sync_too_large", detail)
    if isinstance(error, CrossHostRedirect):
        return SyncError("sync_redirect", host=error.host)
    if isinstance(error, TooSlow):
        return SyncError("sync_too_slow", file=_name(error.url), rate=f"{error.rate:g}",
                         stall=f"{error.stall:g}")
    if isinstance(error, tuf_errors.SlowRetrievalError):
        return SyncError("sync_too_slow", file="?", rate="?", stall="?")
    if isinstance(error, MissingFile):
        if error.url.endswith("/timestamp.json"):
            return sync_error("sync_not_found", detail)
        return SyncError("target_missing", target=_name(error.url))
    if isinstance(error, NetworkFailure):
        return _network_error(error)
    if isinstance(error, tuf_errors.DownloadHTTPError):
        if error.status_code == 404:
            return sync_error("sync_not_found", detail)
        return SyncError("sync_network:http", status=error.status_code)
    if isinstance(error, tuf_errors.DownloadError):
        return sync_error("sync_network", detail)
    if isinstance(error, tuf_errors.UnsignedMetadataError):
        return sync_error("sync_bad_signature", detail)
    if isinstance(error, tuf_errors.ExpiredMetadataError):
        return sync_error("sync_expired", detail)
    if isinstance(error, tuf_errors.BadVersionNumberError):
        return sync_error("sync_rollback", detail)
    if isinstance(error, tuf_errors.LengthOrHashMismatchError):
        return sync_error("sync_hash_mismatch", detail)
    if isinstance(error, tuf_errors.RepositoryError):
        return sync_error("sync_bad_metadata", detail)
    if isinstance(error, OSError):
        return sync_error("sync_disk", error.strerror or type(error).__name__)
    raise error
