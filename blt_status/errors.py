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
    ├── SyncError                 fetching and verifying a new index (see blt_status.sync)
    └── CentralError              the publisher's side (see blt_status.central)

Messages never contain a NIK, a KK number or a name: at most a masked NIK (last four digits).

Every code and its sentence are registered once, in :data:`MESSAGES` below: the English source
text (a ``str.format`` template) whose Bahasa Indonesia translation is in the gettext catalogs
(``blt_status/locale/id/LC_MESSAGES/*.po``, see :mod:`blt_status.i18n`). Raise with the code
and the template's fields: ``CentralError("publish_empty", rejected=12)``.
"""

from __future__ import annotations

from blt_status.i18n import LANGUAGES, N_, current_lang, translate

__all__ = ["LANGUAGES", "MESSAGES"]

MESSAGES: dict[str, str] = {
    # -- central: the database and publish guards -------------------------------------------
    "publish_empty": N_(
        "Nothing to publish: 0 recipients would be published ({rejected} rows rejected). "
        "Use --allow-empty to publish an empty roster on purpose."),
    "publish_shrink": N_(
        "Refused: this publish would remove {removed} of {published} published recipients "
        "({share}){emptied}. Check the recipients file; use --allow-shrink if this is intended."),
    "publish_mostly_rejected": N_(
        "Refused: {rejected} of {rows} input rows were rejected (more than {limit}). Check the "
        "file (e.g. a spreadsheet export that changed the NIK column); use --allow-rejections "
        "if this is intended."),
    "db_url": N_("The database URL {url} is not usable: give sqlite:///FILE or "
                 "postgresql+psycopg://USER@HOST/DB."),
    "db_unreachable": N_("The central database {url} cannot be reached ({reason})."),
    "db_busy": N_("The central database is busy (locked by another process); try again."),
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
    # -- central: reconciliation, signed lists and invitations --------------------------------
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
    # -- devices: sync, index, audit -----------------------------------------------------------
    # -- inputs ---------------------------------------------------------------------------------
}
"""Every registered error code -> its English template (translated through the catalogs)."""


class BltError(Exception):
    """Base of every error blt-status reports to a user.

    ``BltError(code, **fields)`` takes its sentence from :data:`MESSAGES`. The older form
    ``BltError(code, id_text, en_text)`` (both sentences given) is still accepted.
    """

    code: str = "error"

    def __init__(self, code: str | None = None, id_text: str = "", en_text: str = "",
                 /, **fields: object) -> None:
        self.code = code or type(self).code
        self.fields = fields
        self.template = MESSAGES.get(self.code) if not (id_text or en_text) else None
        self.id_text = id_text or en_text or self.code
        self.en_text = en_text or id_text or self.code
        super().__init__(self.message("en"))

    def message(self, lang: str | None = None) -> str:
        """The sentence for a user, in ``lang`` (default: the current language)."""
        lang = lang or current_lang()
        if self.template is not None:
            return translate(self.template, lang).format(**self.fields)
        return self.en_text if lang == "en" else self.id_text

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
        super().__init__(
            None,
            f"Perangkat belum dipasang di {data_dir}: jalankan `blt-status init --data-dir "
            f"{data_dir} --bundle BUNDLE`.",
            f"No device is installed in {data_dir}: run `blt-status init --data-dir {data_dir} "
            "--bundle BUNDLE`.",
        )


class PassphraseRequired(DeviceError):
    code = "passphrase_required"

    def __init__(self) -> None:
        super().__init__(
            None,
            "Kata sandi diperlukan: isi BLT_PASSPHRASE atau jalankan di terminal.",
            "A passphrase is needed: set BLT_PASSPHRASE or run in a terminal.",
        )


class WrongPassphrase(DeviceError):
    code = "wrong_passphrase"

    def __init__(self) -> None:
        super().__init__(
            None,
            "Kata sandi salah.",
            "Wrong passphrase.",
        )


class IndexStoreError(BltError):
    code = "index"


class IndexMissing(IndexStoreError):
    code = "index_missing"

    def __init__(self, where: str) -> None:
        super().__init__(
            None,
            f"Belum ada data di {where}: jalankan `blt-status sync` saat online.",
            f"No index in {where} yet: run `blt-status sync` while online.",
        )


class IndexCorrupt(IndexStoreError):
    code = "index_corrupt"

    def __init__(self, where: str, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            None,
            f"Berkas data {where} rusak{suffix}: jalankan `blt-status sync` lagi.",
            f"The index file {where} is corrupt{suffix}: run `blt-status sync` again.",
        )


class IndexKeyMismatch(IndexStoreError):
    code = "index_key_mismatch"

    def __init__(self, region: str) -> None:
        super().__init__(
            None,
            f"Data wilayah {region} dibuat dengan parameter kunci (KDF, salt atau pepper) yang "
            "berbeda dari perangkat ini: daftarkan ulang perangkat atau sinkronkan.",
            f"The index for region {region} was written with other key parameters (KDF, salt "
            "or pepper) than this device holds: re-enrol the device or sync.",
        )


class SyncError(BltError):
    code = "sync"


class CentralError(BltError):
    code = "central"
