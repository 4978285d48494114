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
from blt_status.sync._fetcher import CrossHostRedirect, MissingFile, TooSlow

__all__ = ["sync_error", "translate"]

_TEXT: dict[str, tuple[str, str]] = {
    "sync_network": ("Server pusat tidak dapat dihubungi atau unduhan terputus",
                     "The central server could not be reached or the download broke off"),
    "sync_not_found": ("Tidak ada repositori data di alamat itu",
                       "There is no data repository at that address"),
    "sync_too_large": ("Server mengirim berkas lebih besar dari yang ditandatangani",
                       "The server sent a file larger than its signed length"),
    "sync_hash_mismatch": ("Isi berkas tidak cocok dengan hash yang ditandatangani",
                           "A file does not match its signed hash"),
    "sync_bad_signature": ("Tanda tangan metadata tidak sah (kunci salah, tidak dikenal, "
                           "atau kurang dari ambang)",
                           "Metadata signatures are not valid (wrong or unknown key, or fewer "
                           "than the threshold)"),
    "sync_bad_metadata": ("Metadata dari server tidak dapat dibaca",
                          "The server's metadata cannot be read"),
    "sync_rollback": ("Server mengirim versi data yang lebih lama dari yang sudah ada "
                      "(rollback ditolak)",
                      "The server sent an older data version than this device already has "
                      "(rollback refused)"),
    "sync_expired": ("Metadata dari server sudah kedaluwarsa (cermin usang atau dibekukan)",
                     "The server's metadata has expired (a stale or frozen mirror)"),
    "sync_shard_mismatch": ("Shard data bukan untuk tampilan/wilayah perangkat ini",
                            "A data shard is not for this device's view or region"),
    "sync_shard_invalid": ("Berkas shard data rusak", "A data shard file is corrupt"),
    "sync_params": ("Parameter indeks (params.json) tidak dapat dipakai",
                    "The index parameters (params.json) cannot be used"),
    "sync_disk": ("Indeks baru tidak dapat ditulis ke disk perangkat",
                  "The new index could not be written to this device's disk"),
    "sync_busy": ("Sinkronisasi lain sedang berjalan di direktori data ini",
                  "Another sync is running on this data directory"),
    "sync_source": ("Sumber sinkronisasi tidak dikenali", "The sync source is not usable"),
}

_KEEP = ("Data lama tetap dipakai.", "The previous data is still in use.")


def sync_error(code: str, detail: str = "") -> SyncError:
    """A :class:`SyncError` with the sentence for ``code`` and an optional technical detail."""
    id_text, en_text = _TEXT[code]
    suffix = f" ({detail})" if detail else ""
    return SyncError(code, f"{id_text}{suffix}. {_KEEP[0]}", f"{en_text}{suffix}. {_KEEP[1]}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def translate(error: BaseException) -> BltError:
    """Map an exception raised during a sync to the one error a user sees."""
    if isinstance(error, SyncError):
        if error.code in _TEXT or error.template is not None:
            return error
        if error.code == "shard_invalid":
            return sync_error("sync_shard_invalid", error.en_text.rstrip("."))
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
    if isinstance(error, tuf_errors.DownloadHTTPError):
        if error.status_code == 404:
            return sync_error("sync_not_found", detail)
        return sync_error("sync_network", detail)
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
