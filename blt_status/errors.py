"""The one error tree of blt-status: every failure a user can meet, with a stable code.

    BltError                      code, Indonesian and English sentence
    ├── InputError                the user gave something that cannot be used
    │   ├── NikError              length, not_digits, empty, province, region, birth_date, serial
    │   ├── KkError               kk_length, kk_not_digits, kk_region
    │   └── FileFormatError       a CSV/TOML/report file that cannot be read
    ├── DeviceError               the device's own set-up
    │   ├── NotInstalled
    │   ├── PassphraseRequired
    │   └── WrongPassphrase
    ├── IndexStoreError           the local index
    │   ├── IndexMissing
    │   ├── IndexCorrupt
    │   └── IndexKeyMismatch      built with other KDF parameters, salt or pepper
    ├── AuditError                the officer audit log cannot be written or read
    ├── SyncError                 fetching and verifying a new index (see blt_status.sync)
    └── CentralError              the publisher's side (see blt_status.central)
        └── CapacityShortError    the payout points cannot hold everyone in the window

Messages never contain a NIK, a KK number or a name: at most a masked NIK (last four digits).

Every code and its sentence are registered once, in :data:`MESSAGES` below: the English source
text (a ``str.format`` template) whose Bahasa Indonesia translation is in the gettext catalogs
(``blt_status/locale/id/LC_MESSAGES/*.po``, see :mod:`blt_status.i18n`). Raise with the code
and the template's fields: ``CentralError("publish_empty", rejected=12)``.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from blt_status.i18n import LANGUAGES, N_, current_lang, translate

__all__ = [
    "LANGUAGES", "MESSAGES", "OS_REASONS", "AuditError", "BltError", "CapacityShortError",
    "CentralError", "DeviceError", "FileFormatError", "IndexCorrupt", "IndexKeyMismatch",
    "IndexMissing", "IndexStoreError", "InputError", "KkError", "NikError", "NotInstalled",
    "PassphraseRequired", "SyncError", "WrongPassphrase", "os_reason",
]

MESSAGES: dict[str, str] = {
    # -- core: NIK and KK numbers ---------------------------------------------------------------
    "empty": N_("No {subject} was given."),
    "not_digits": N_("A {subject} may hold only 16 digits (spaces, dots or dashes between them "
                     "are fine)."),
    "length": N_("A {subject} has 16 digits; this one has {count}."),
    "province": N_("The province code (first two digits) of this {subject} does not exist."),
    "region": N_("The region code (digits 3 to 6) of this {subject} does not exist."),
    "birth_date": N_("The birth date in this NIK (digits 7 to 12) is not a valid date."),
    "serial": N_("The serial (last four digits) of a {subject} cannot be 0000."),
    "kk_empty": N_("No {subject} was given."),
    "kk_not_digits": N_("A {subject} may hold only 16 digits (spaces, dots or dashes between "
                        "them are fine)."),
    "kk_length": N_("A {subject} has 16 digits; this one has {count}."),
    "kk_province": N_("The province code (first two digits) of this {subject} does not exist."),
    "kk_region": N_("The region code (digits 3 to 6) of this {subject} does not exist."),
    "kk_serial": N_("The serial (last four digits) of a {subject} cannot be 0000."),
    # -- core: the device, its keys and its index -----------------------------------------------
    "not_installed": N_("No device is installed in {data_dir}: run `blt-status init --data-dir "
                        "{data_dir} --bundle BUNDLE`."),
    "passphrase_required": N_("A passphrase is needed: set BLT_PASSPHRASE or run in a "
                              "terminal."),
    "wrong_passphrase": N_("Wrong passphrase."),
    "index_missing": N_("No index in {where} yet: run `blt-status sync` while online."),
    "index_corrupt": N_("The index file {where} is corrupt{detail}: run `blt-status sync` "
                        "again."),
    "index_corrupt:record": N_("A record of the index is corrupt{detail}: run `blt-status "
                               "sync` again."),
    "index_key_mismatch": N_("The index for region {region} was written with other key "
                             "parameters (KDF, salt or pepper) than this device holds: re-enrol "
                             "the device or sync."),
    "index_meta": N_("The index metadata cannot be read."),
    "duplicate_tag": N_("Two records share one tag (the same NIK twice)."),
    "kdf_params": N_("The KDF parameters are incomplete or out of range."),
    "keyring_corrupt": N_("The device key file is corrupt."),
    "device_config": N_("The device file {file} is corrupt or not valid."),
    "pepper_file": N_("The pepper file {path} cannot be read."),
    "bundle_invalid": N_("The enrollment bundle is not valid."),
    "bundle_missing": N_("The bundle file {path} does not exist."),
    # -- core: commands and frontends -----------------------------------------------------------
    "io_error": N_("Reading or writing a file failed{where}: {reason}."),
    "bundle_out": N_("{path} is a folder: give the bundle a file name."),
    "demo_recipients": N_("--recipients must be a whole number from {low} to {high}."),
    "demo_exists": N_("{folder} already holds {files}: demo-data never overwrites a file (it "
                      "could be real data); choose a new folder."),
    "serve_port": N_("Cannot listen on {host}:{port} ({reason})."),
    "data_dir_required": N_("Give --data-dir D or --demo."),
    "audit": N_("The audit log cannot be opened."),
    "sync_internal": N_("Sync failed with an internal error ({name}). The previous data is "
                        "still in use."),
    # -- core: error classes that lived outside this module -------------------------------------
    "capacity_short": N_("Payout point capacity is short in the window {window}: add days, "
                         "capacity or points. {details}"),
    "bot_view": N_("The bot needs a recipient-view device (`central enroll --bot`)."),
    "audit_anchor_missing": N_("The audit log's anchor is missing: it cannot be verified."),
    "audit_state": N_("The audit log's state file is corrupt or missing."),
    "shard_invalid": N_("A shard file is not valid: {detail}."),
    "bundle_root": N_("The TUF root in the bundle is not valid."),
    "bundle_invalid:no_region": N_("The officer bundle names no region."),
    "bundle_invalid:no_pepper": N_("The bot bundle holds no pepper."),
    "pepper_file_exists": N_("The pepper file {path} already exists with other content."),
    "already_installed": N_(
        "A device is already installed in {data_dir}; use another directory."),
    "backend": N_("Unknown backend {backend}."),
    "pepper_file_view": N_("A separate pepper file is only for the bot (recipient view)."),
    "pepper_file_place": N_("The pepper file must not be in the index directory."),
    "bot_token_missing": N_(
        "BLT_BOT_TOKEN is not set (nor token_file in the config); to try it without a token run "
        "`blt-bot --console`."),
    "bot_no_data": N_("No data directory given: --data-dir D."),
    "bot_unreachable": N_(
        "The Telegram Bot API at {url} cannot be reached ({reason}); check the network or "
        "BLT_BOT_API_URL. The bot did not start."),
    "bot_token_invalid": N_(
        "Telegram refused the bot token (check BLT_BOT_TOKEN or token_file). The bot did not "
        "start."),
    "bot_webhook": N_("Webhook mode needs [webhook] url in the config."),
    "bot_workers_webhook": N_(
        "Webhook mode runs in one process only: run it without --workers (or workers = 1)."),
    "bot_config:workers": N_("--workers must be at least 1."),
    "bot_config:table": N_("{path}: [{table}] must be a table."),
    "bot_config:secret_file": N_("The {what} file {path} cannot be read."),
    "bot_config:unreadable": N_("The config file {path} cannot be read."),
    "bot_config:toml": N_("The config file {path} is not valid TOML: {reason}."),
    "bot_config:language": N_("The language must be one of: {languages}."),
    # -- central: the database and publish guards -------------------------------------------
    "publish_empty": N_(
        "Nothing to publish: 0 recipients would be published ({rejected} rows rejected"
        "{reasons}). Use --allow-empty to publish an empty roster on purpose."),
    "publish_shrink": N_(
        "Refused: this publish would remove {removed} of {published} published recipients "
        "({share}){emptied}. Check the recipients file; use --allow-shrink if this is intended."),
    "publish_mostly_rejected": N_(
        "Refused: {rejected} of {rows} input rows were rejected (more than {limit}{reasons}). "
        "Check the file (e.g. a spreadsheet export that changed the NIK column); use "
        "--allow-rejections if this is intended."),
    "db_url": N_("The database URL {url} is not usable: give sqlite:///FILE or "
                 "postgresql+psycopg://USER@HOST/DB."),
    "db_unreachable": N_("The central database {url} cannot be reached ({reason})."),
    "db_busy": N_("The central database is busy (locked by another process); try again."),
    "db_damaged": N_("The central database {url} is damaged (it is not a database file any "
                     "more): restore it from a backup; public/ and the keys are untouched."),
    "db_schema": N_("The central database is at schema revision {found}, this release "
                    "expects {expected}: run `blt-status central migrate` or use the matching "
                    "release."),
    "state_corrupt_db": N_("A sealed row of the central database cannot be opened: the "
                           "database does not belong to this store or is damaged."),
    "db_store_mismatch": N_("The central database holds version {db_version}, but public/ "
                            "is at version {published}: the database belongs to another store "
                            "or was restored from an older backup."),
    "migrate_failed": N_("Migrating the store into the database failed ({reason}); the old "
                         "store is unchanged and still usable."),
    "migrate_nothing": N_("Nothing to migrate: {directory} already keeps its state in the "
                          "database."),
    # -- central: Kantor Pos exchange (pos) ---------------------------------------------------
    "pos_not_configured": N_(
        "The Kantor Pos exchange is not configured in {directory}: run `blt-status central pos "
        "configure {directory} --payer-id ID --payer-key PEM --token-file F "
        "--callback-token-file F2` first."),
    "pos_config_corrupt": N_("The Kantor Pos exchange config (private/pos/config.json) is "
                             "corrupt: run `central pos configure` again."),
    "pos_token": N_("The token file {path} is missing, empty or unreadable (one token on the "
                    "first line)."),
    "pos_client_secret": N_("The client secret file {path} is missing, empty or unreadable "
                            "(the secret on the first line)."),
    "pos_client_credentials": N_(
        "The payer's token comes from either --token-file or OAuth2 client credentials "
        "(--token-url with --client-id and --client-secret-file), not both and not part of "
        "them; --client-auth is basic or post."),
    "pos_token_unreachable": N_("The token endpoint {url} cannot be reached ({reason}); run "
                                "the same command again once it is fixed."),
    "pos_token_refused": N_("The token endpoint {url} refused our client credentials (HTTP "
                            "{status}, error {error}); run the same command again once it is "
                            "fixed."),
    "pos_token_invalid": N_("The token endpoint {url} gave no usable bearer token ({reason}); "
                            "run the same command again once it is fixed."),
    "pos_payer_key": N_("The payer key must be an Ed25519 public key in PEM format."),
    "pos_key_unreadable": N_("The exchange signing key {path} is unreadable."),
    "pos_batch_size": N_("The batch size must be at least 1."),
    "pos_version": N_("Version {version} cannot be pushed: the published versions are 1 to "
                      "{published}."),
    "pos_nothing_published": N_("Nothing is published yet: run `central publish` first."),
    "pos_unreachable": N_(
        "The payer at {endpoint} cannot be reached ({reason}): {delivered} delivered, "
        "{pending} not yet. Run the same command again later to finish."),
    "pos_refused": N_(
        "The payer at {endpoint} refused {refused} instructions ({codes}): fix the cause (the "
        "token file, the endpoint, the payer's configuration) and run the same command again; "
        "it sends only what has not gone yet."),
    "pos_listen": N_("Cannot listen on {host}:{port} ({reason})."),
    "pos_tls": N_("The TLS certificate or key cannot be loaded ({reason})."),
    # -- central: reconciliation, signed lists and invitations --------------------------------
    "nothing_published": N_("Nothing is published yet: run `central publish` first."),
    "reconcile_status": N_("A record has the unknown status {status}: it cannot be reconciled."),
    "reconcile_unbalanced": N_(
        "The money does not balance: entitled {entitled} is not paid {paid} + held {held} + "
        "returned {returned} + pending {pending}."),
    "list_key_invalid": N_("The list-signing key {path} is not an Ed25519 private key."),
    "list_key_invalid:public": N_("The key {path} is not a public key in PEM format: give "
                                  "the store's lists-signing.pub.pem with --key."),
    "list_tampered": N_(
        "The list {file} does not match its signed manifest ({count} problem(s) above): do "
        "not pay from it; ask the central office for a new list."),
    "invitation_desa_unknown": N_("{desa} is not a current desa/kelurahan code."),
    "invitation_token_invalid": N_(
        "This is not an invitation token (scan the QR code of a surat undangan)."),
    "invitation_forged": N_("FORGED (PALSU): {what}. Do not pay; report it to the supervisor."),
    "invitation_no_keys": N_(
        "This device has no trusted keys yet: install it and sync once, then try again."),
    # -- central: progress reports ------------------------------------------------------------
    "report_level": N_("Unknown report level {level}: choose one of {levels}."),
    "report_region_unknown": N_("Region {region} is not a current region code."),
    "report_region_level": N_(
        "Region {region} is finer than the level {level}: choose a coarser region or a finer "
        "level."),
    "report_nothing": N_(
        "Nothing to report: nothing is published yet (run `central publish` first)."),
    "report_binary_stdout": N_(
        "A PDF is not printed to a terminal: give --out FILE or redirect the output."),
    "demo_too_small": N_("The demo world is too small: raise --recipients."),
    "demo_too_small:minimum": N_("A demo world needs at least {minimum} recipients."),
    "demo_too_small:per_kecamatan": N_("--per-kecamatan must be at least {minimum}."),
    "demo_kabupaten": N_("Unknown kabupaten/kota code {kabupaten} (example: 32.01)."),
    "enroll_view": N_("Give either --region KODE... or --bot, not both or neither."),
    "region_unknown": N_("Region {region} is not a current kecamatan code."),
    "region_not_published": N_("Region {region} has no records in the published version."),
    "role_unknown": N_("Unknown role {role}: use root, targets, snapshot or timestamp."),
    "role_unknown:none": N_("Name the roles whose keys to replace."),
    "count_mismatch": N_("Published and rejected rows do not add up to the input rows."),
    "store_corrupt": N_("The central store's {file} is missing or corrupt."),
    "store_corrupt:epoch": N_("Key epoch {epoch} is missing from secrets.json."),
    "key_missing": N_("The signing key {name} is missing or unreadable."),
    "store_exists": N_("{directory} already exists and is not empty: choose a new folder."),
    "root_threshold": N_("The root key threshold must be between 1 and the key count."),
    "central_url": N_("The central URL must start with http:// or https://."),
    "store_missing": N_(
        "No central store in {directory}: run `blt-status central init {directory}` first."),
    "store_busy": N_("Another publish is running on this store; try again when it ends."),
    "store_read_only": N_(
        "{path} is read-only: this command writes to the central store. Run it where the store "
        "can be written (as the user that owns it); status, report and reconcile only read."),
    # -- devices: sync, index, audit -----------------------------------------------------------
    "sync_timeout": N_(
        "The sync did not finish within {seconds} seconds: the server is too slow or has "
        "stalled. The previous data is still in use."),
    "sync_too_slow": N_(
        "The server sent {file} too slowly (under {rate} bytes per second, or nothing for "
        "{stall} seconds). The previous data is still in use."),
    "sync_redirect": N_(
        "The server redirected the sync to another host ({host}), which this device is not "
        "configured to trust. The previous data is still in use."),
    "target_missing": N_(
        "The signed metadata lists {target}, but the server does not have it (HTTP 404). "
        "The previous data is still in use."),
    "audit_write": N_("The audit log cannot be written ({reason})."),
    "audit_mark": N_(
        "The audit log's mark in the device keyring is not valid: the keyring file was "
        "altered."),
    "sync_network": N_(
        "The central server could not be reached or the download broke off{detail}. The previous "
        "data is still in use."),
    "sync_network:refused": N_(
        "The central server {host} refused the connection: nothing answers at that address "
        "and port (is the server running, is the address right?). The previous data is still "
        "in use."),
    "sync_network:dns": N_(
        "The server name {host} cannot be found (no internet connection, or a wrong address). "
        "The previous data is still in use."),
    "sync_network:tls": N_(
        "The secure (HTTPS/TLS) connection to {host} failed: its certificate is not trusted "
        "or not valid, the device's clock is wrong, or the address should start with http://. "
        "The previous data is still in use."),
    "sync_network:timeout": N_(
        "The central server {host} did not answer in time (a slow or broken connection). The "
        "previous data is still in use."),
    "sync_network:lost": N_(
        "The connection to {host} broke off during the download. The previous data is still "
        "in use."),
    "sync_network:unreachable": N_(
        "The central server {host} cannot be reached (no network, or a wrong address). The "
        "previous data is still in use."),
    "sync_network:http": N_(
        "The central server answered with an error (HTTP {status}). The previous data is still "
        "in use."),
    "sync_not_found": N_(
        "There is no data repository at that address{detail}. The previous data is still in use."),
    "sync_too_large": N_(
        "The server sent a file larger than its signed length{detail}. The previous data is "
        "still in use."),
    "sync_hash_mismatch": N_(
        "A file does not match its signed hash{detail}. The previous data is still in use."),
    "sync_bad_signature": N_(
        "Metadata signatures are not valid (wrong or unknown key, or fewer than the "
        "threshold){detail}. The previous data is still in use."),
    "sync_bad_metadata": N_(
        "The server's metadata cannot be read{detail}. The previous data is still in use."),
    "sync_rollback": N_(
        "The server sent an older data version than this device already has (rollback "
        "refused){detail}. The previous data is still in use."),
    "sync_expired": N_(
        "The server's metadata has expired (a stale or frozen mirror){detail}. The previous data "
        "is still in use."),
    "sync_shard_mismatch": N_(
        "A data shard is not for this device's view or region{detail}. The previous data is "
        "still in use."),
    "sync_shard_invalid": N_(
        "A data shard file is corrupt{detail}. The previous data is still in use."),
    "sync_params": N_(
        "The index parameters (params.json) cannot be used{detail}. The previous data is still "
        "in use."),
    "sync_disk": N_(
        "The new index could not be written to this device's disk{detail}. The previous data is "
        "still in use."),
    "sync_busy": N_(
        "Another sync is running on this data directory{detail}. The previous data is still in "
        "use."),
    "sync_source": N_(
        "The sync source is not usable{detail}. The previous data is still in use."),
    "sync_source:none": N_(
        "There is no sync source: this device's bundle named no central URL. Give the address "
        "of DIR/public (or a folder holding it) with {option}. The previous data is still in "
        "use."),
    "sync_source:url": N_(
        "{source} is not a usable sync address: it needs http:// or https://, a host and at "
        "most a port from 1 to 65535 (e.g. http://192.168.1.10:8000/). The previous data is "
        "still in use."),
    "sync_source:scheme": N_(
        "{source} cannot be synced from: only http://, https:// and file:// addresses or a "
        "folder holding public/metadata can. The previous data is still in use."),
    "sync_source:folder": N_(
        "{source} is neither an http:// or https:// address nor a folder holding "
        "public/metadata. The previous data is still in use."),
    "sync_not_enrolled": N_(
        "This device has no trusted root: install it again with `blt-status init`."),
    # -- inputs ---------------------------------------------------------------------------------
    "config_unknown_key": N_(
        "{where}: unknown key `{key}`; did you mean `{suggestion}`?"),
    "config_number": N_(
        "{where}: {key} must be a whole number from {low} to {high}."),
    "program_window_length": N_(
        "{where}: the payout window schedule.start {start} to schedule.end {end} is {days} days "
        "long; at most {limit} days are allowed."),
    "program_window_range": N_(
        "{where}: {key} {date} is more than five years from today (allowed: {low} to {high})."),
    "payout_point_number": N_(
        "{where} line {line}: {column} must be a whole number from {low} to {high}, written "
        "with the digits 0-9 only."),
    "scheduler_insecure": N_(
        "The scheduler {address} is not on this machine and not tls://: peppers and salts may "
        "leave this process only over TLS (see docs/cluster.md)."),
    "scheduler_address": N_(
        "The scheduler address {address} is not tcp://HOST:PORT or tls://HOST:PORT."),
    "scheduler_unreachable": N_(
        "The Dask scheduler {address} does not answer ({reason}); nothing was published."),
    "scheduler_tls_config": N_(
        "The scheduler {address} is tls:// but Dask has no TLS certificates configured "
        "(distributed.comm.tls.ca-file, client cert and key; see docs/cluster.md)."),
    "cluster_unavailable": N_(
        "The cluster mode needs Dask: pip install 'blt-status[cluster]'."),
    "cluster_failed": N_(
        "Key derivation on the Dask cluster {address} failed ({reason}); nothing was published."),
    "file_missing": N_("The file {path} does not exist."),
    "file_missing:folder": N_("{path} is a folder, not a {kind} file."),
    "file_unreadable": N_("The file {path} cannot be read ({reason})."),
    "csv_encoding": N_(
        "The file {path} is not UTF-8 (byte {byte}): save it again as UTF-8 (e.g. 'CSV UTF-8' in "
        "Excel)."),
    "toml_encoding": N_(
        "The file {path} is not UTF-8 (byte {byte}): save it again as UTF-8 (in a text editor, "
        "choose the encoding UTF-8)."),
    "csv_empty": N_("The file {path} is empty: it needs a header row, then the data."),
    "csv_empty:points": N_("The file {path} lists no payout point."),
    "csv_missing_columns": N_(
        "The file {path} lacks the column(s) {missing} (the header row must name: {required})."),
    "csv_duplicate_columns": N_(
        "The file {path} names the column(s) {columns} more than once in its header row: keep "
        "one of each."),
    "csv_malformed": N_("The file {path} is malformed near line {line}: {reason}."),
    "toml_invalid": N_("The file {path} is not valid TOML: {reason}."),
}
"""Every registered error code -> its English template (translated through the catalogs)."""


# What the operating system said, in the user's language (``strerror`` is always English).
OS_REASONS: dict[int, str] = {
    errno.ENOENT: N_("no such file or folder"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("permission denied"),
    errno.EROFS: N_("the file system is read-only"),
    errno.ENOSPC: N_("no space left on the disk"),
    errno.EDQUOT: N_("no space left on the disk"),
    errno.EISDIR: N_("it is a folder, not a file"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
    errno.EEXIST: N_("a file is there where a folder is needed"),
    errno.EADDRINUSE: N_("the port is already in use"),
    errno.EADDRNOTAVAIL: N_("the address is not on this machine"),
}


def os_reason(error: OSError) -> str:
    """Why an operating-system call failed, as a phrase in the current language (the errno's
    text when it is not one a person commonly meets)."""
    text = OS_REASONS.get(error.errno) if error.errno is not None else None
    if text is not None:
        return translate(text, current_lang())
    return error.strerror or type(error).__name__


class BltError(Exception):
    """Base of every error blt-status reports to a user.

    ``BltError(code, **fields)`` takes its sentence from :data:`MESSAGES`. A code with more
    than one sentence registers each as ``"code:variant"``; the error's :attr:`code` is the part
    before the colon (the stable code users and scripts see). The older form
    ``BltError(code, id_text, en_text)`` (both sentences given) is still accepted.
    """

    code: str = "error"

    def __init__(self, code: str | None = None, id_text: str = "", en_text: str = "",
                 /, **fields: object) -> None:
        key = code or type(self).code
        self.code = key.partition(":")[0]  # "code:variant": one code, one of its sentences
        self.fields = fields
        self.template = MESSAGES.get(key) if not (id_text or en_text) else None
        if self.template is not None:
            self.template.format(**fields)  # a missing field fails here, where it is raised
        self.id_text = id_text or en_text or self.message("id")
        self.en_text = en_text or id_text or self.message("en")
        super().__init__(self.en_text)

    def message(self, lang: str | None = None) -> str:
        """The sentence for a user, in ``lang`` (default: the current language)."""
        lang = lang or current_lang()
        if self.template is None:
            return (self.en_text if lang == "en" else self.id_text) if hasattr(
                self, "en_text") else self.code
        fields = self.fields_in(lang)
        try:
            text = translate(self.template, lang)
            try:
                return text.format(**fields)
            except (KeyError, IndexError, ValueError):  # a field missing: never a traceback
                return text
        except (KeyError, IndexError, ValueError):  # a translation with a wrong placeholder
            return self.template.format(**fields)

    def fields_in(self, lang: str) -> Mapping[str, object]:
        """The sentence's fields for ``lang``: as given, unless an error translates one."""
        return self.fields

    def line(self, lang: str | None = None) -> str:
        """One line with the stable code, as the CLI prints it."""
        return f"error [{self.code}]: {self.message(lang)}"

    def to_dict(self, lang: str | None = None) -> dict[str, str]:
        return {"code": self.code, "message": self.message(lang)}


class InputError(BltError):
    code = "input"


class NikError(InputError):
    code = "nik"


class KkError(InputError):
    code = "kk"


class FileFormatError(InputError):
    code = "file_format"


class DeviceError(BltError):
    code = "device"


class NotInstalled(DeviceError):
    code = "not_installed"

    def __init__(self, data_dir: str) -> None:
        super().__init__(None, data_dir=data_dir)


class PassphraseRequired(DeviceError):
    code = "passphrase_required"

    def __init__(self) -> None:
        super().__init__(None)


class WrongPassphrase(DeviceError):
    code = "wrong_passphrase"

    def __init__(self) -> None:
        super().__init__(None)


class AuditError(BltError):
    """The officer audit log cannot be written or read."""

    code = "audit"


class IndexStoreError(BltError):
    code = "index"


class IndexMissing(IndexStoreError):
    code = "index_missing"

    def __init__(self, where: str) -> None:
        super().__init__(None, where=where)


class IndexCorrupt(IndexStoreError):
    """The index (``where``: its file) is damaged. ``detail`` says how, in English: a phrase
    marked ``N_`` (translated with the sentence) or a technical name (an exception's class).
    Without ``where`` (a record found damaged while being read) the sentence names a record.
    """

    code = "index_corrupt"

    def __init__(self, where: str | None, detail: str = "") -> None:
        self.detail = detail
        wrapped = f" ({detail})" if detail else ""
        if where is None:
            super().__init__("index_corrupt:record", detail=wrapped)
        else:
            super().__init__(None, where=where, detail=wrapped)

    def fields_in(self, lang: str) -> Mapping[str, object]:
        if not self.detail:
            return self.fields
        return {**self.fields, "detail": f" ({translate(self.detail, lang)})"}


class IndexKeyMismatch(IndexStoreError):
    code = "index_key_mismatch"

    def __init__(self, region: str) -> None:
        super().__init__(None, region=region)


class SyncError(BltError):
    code = "sync"


class CentralError(BltError):
    code = "central"


_SHORTAGE = N_("{desa} {desa_name}: needed {needed}, available {available}, {unscheduled} "
               "without a slot; points: {points}")
_SHORT_POINT = N_("{id} ({available} places, {used} used)")


class CapacityShortError(CentralError):
    """The payout points cannot hold every eligible recipient in the program window."""

    code = "capacity_short"

    def __init__(self, shortages: list[dict[str, Any]], window: str) -> None:
        self.shortages = shortages
        super().__init__(None, window=window, details="")

    def message(self, lang: str | None = None) -> str:
        lang = lang or current_lang()
        lines = []
        for short in self.shortages:
            points = ", ".join(translate(_SHORT_POINT, lang).format(**point)
                               for point in short["points"])
            lines.append(translate(_SHORTAGE, lang).format(**{**short, "points": points}))
        self.fields["details"] = "; ".join(lines)
        return super().message(lang)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {**super().to_dict(lang), "shortages": self.shortages}
