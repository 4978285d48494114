"""The TUI's own interface words in Bahasa Indonesia and English (business wording is in core).

What a status means, what to bring and what to do next come from ``blt_status.present``;
this table holds only labels of the interface itself.
"""

from __future__ import annotations

LANGS = ("id", "en")

_TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("BLT Pangan — Operator Desa", "BLT Pangan — Village Officer"),
    # unlock
    "unlock_title": ("Buka kunci perangkat", "Unlock this device"),
    "unlock_prompt": ("Masukkan kata sandi perangkat lalu tekan Enter.",
                      "Type the device passphrase and press Enter."),
    "unlock_placeholder": ("kata sandi", "passphrase"),
    "unlock_working": ("Membuka kunci…", "Unlocking…"),
    "unlock_wrong": ("Kata sandi salah. Coba lagi dalam {seconds} detik.",
                     "Wrong passphrase. Try again in {seconds} s."),
    "unlock_ready": ("Silakan coba lagi.", "You can try again."),
    "unlock_locked_note": ("Terkunci. Data tidak ditampilkan sampai kunci dibuka.",
                           "Locked. No data is shown until unlocked."),
    "unlock_idle_note": ("Terkunci otomatis karena tidak ada aktivitas.",
                         "Locked automatically after inactivity."),
    "demo_passphrase": ("Demo — kata sandi: {passphrase}", "Demo — passphrase: {passphrase}"),
    # lookup
    "nik_label": ("NIK:", "NIK:"),
    "nik_placeholder": ("contoh: 3201 0145 0590 0001", "e.g. 3201 0145 0590 0001"),
    "demo_samples": ("Demo — coba NIK contoh (orang sintetis):",
                     "Demo — try these sample NIKs (synthetic people):"),
    "demo_scheduled": ("terjadwal", "scheduled"),
    "demo_komunitas": ("terjadwal di titik komunitas", "scheduled at a community point"),
    "demo_antar": ("diantar ke rumah (lansia/disabilitas)", "delivered at home"),
    "demo_issued_elsewhere": ("NIK terbit di kecamatan lain, tinggal di sini",
                              "NIK issued in another kecamatan, lives here"),
    "demo_not_listed": ("tidak terdaftar", "not listed"),
    "nik_hint_empty": ("Ketik NIK, lalu Enter untuk mencari.",
                       "Type a NIK, then press Enter to look it up."),
    "nik_valid": ("NIK valid: {kecamatan}, {kabupaten} · lahir {birth} · {sex}",
                  "Valid NIK: {kecamatan}, {kabupaten} · born {birth} · {sex}"),
    "sex_F": ("perempuan", "female"),
    "sex_M": ("laki-laki", "male"),
    "searching": ("Mencari…", "Looking up…"),
    "found_none": ("Tidak ditemukan", "Not found"),
    "label_address": ("Alamat", "Address"),
    "label_household": ("Anggota keluarga", "Household"),
    "label_needs": ("Kebutuhan khusus", "Special needs"),
    "label_amount": ("Jumlah", "Amount"),
    "label_program": ("Program", "Program"),
    "label_when": ("Jadwal", "When"),
    "label_where": ("Tempat", "Where"),
    "label_bring": ("Bawa", "Bring"),
    "label_next": ("Langkah berikutnya", "Next steps"),
    "label_collected": ("Disalurkan", "Paid out"),
    "label_note": ("Keterangan", "Note"),
    "no_data": ("Belum ada data di perangkat ini. Tekan {key} untuk sinkronisasi.",
                "No data on this device yet. Press {key} to sync."),
    "data_bar": ("Data v{version} per {as_of}", "Data v{version} as of {as_of}"),
    "data_stale": ("KEDALUWARSA — mungkin sudah tidak mutakhir",
                   "EXPIRED — may be out of date"),
    "data_none": ("Data: belum ada", "Data: none yet"),
    "test_kdf": ("KUNCI UJI — BUKAN DATA ASLI", "TEST KEYS — NOT REAL DATA"),
    "today_lookups": ("Pencarian hari ini: {count}", "Lookups today: {count}"),
    "today_short": ("Hari ini: {count}", "Today: {count}"),
    "audit_failed": ("Log audit tidak dapat ditulis: {error}",
                     "The audit log could not be written: {error}"),
    # dashboard
    "dash_title": ("Dasbor desa", "Village dashboard"),
    "dash_none": ("Belum ada data rekap (agregat) di versi data ini. Sinkronkan untuk "
                  "memperbarui.",
                  "This data version carries no aggregates yet. Sync to update."),
    "dash_summary": ("Kec. {name}: {collected}/{recipients} tersalur ({percent}) · "
                     "{amount_collected} dari {amount_total}",
                     "Kec. {name}: {collected}/{recipients} paid out ({percent}) · "
                     "{amount_collected} of {amount_total}"),
    "col_desa": ("Desa", "Village"),
    "col_recipients": ("Penerima", "Recipients"),
    "col_collected": ("Tersalur", "Paid out"),
    "col_percent": ("%", "%"),
    "col_amount": ("Jumlah tersalur", "Amount paid"),
    "col_held": ("Ditahan", "Held"),
    "col_date": ("Tanggal", "Date"),
    "col_scheduled": ("Terjadwal", "Scheduled"),
    "col_progress": ("Kemajuan", "Progress"),
    "sorted_by": ("Urut: {column}", "Sorted by: {column}"),
    "per_day": ("Penyaluran per hari", "Payout per day"),
    "per_desa_chart": ("Kemajuan per desa", "Progress per village"),
    # sync
    "sync_title": ("Sinkronisasi data", "Sync data"),
    "sync_source": ("Sumber: {source}", "Source: {source}"),
    "sync_no_source": ("Belum ada alamat pusat (central_url) di perangkat ini.",
                       "This device has no central URL configured."),
    "sync_idle": ("Tekan {key} untuk mulai. Aplikasi tetap bisa dipakai selama sinkronisasi.",
                  "Press {key} to start. The app stays usable while syncing."),
    "sync_running": ("Sinkronisasi berjalan… ({phase})", "Syncing… ({phase})"),
    "phase_metadata": ("memeriksa metadata bertanda tangan", "checking signed metadata"),
    "phase_shards": ("mengunduh bagian data", "downloading shards"),
    "phase_index": ("menyusun indeks baru", "building the new index"),
    "phase_switch": ("beralih ke data baru", "switching to the new data"),
    "sync_done_changed": ("Selesai: data v{before} → v{after}. {records} penerima, "
                          "{downloaded} bagian diunduh, {reused} dipakai ulang, {kib} KiB.",
                          "Done: data v{before} → v{after}. {records} recipients, "
                          "{downloaded} shards downloaded, {reused} reused, {kib} KiB."),
    "sync_done_same": ("Selesai: data sudah terbaru (v{after}).",
                       "Done: the data is already up to date (v{after})."),
    "sync_failed": ("Sinkronisasi gagal: {error} Data lama tetap dipakai.",
                    "Sync failed: {error} The previous data is still in use."),
    "sync_unavailable": ("Modul sinkronisasi belum tersedia di versi ini.",
                         "Sync is not available in this build."),
    # audit
    "audit_title": ("Log audit", "Audit log"),
    "audit_total": ("Entri total: {count}", "Entries in total: {count}"),
    "audit_verifying": ("Memeriksa rantai log…", "Checking the log chain…"),
    "audit_state": ("Status verifikasi: {state}", "Verification: {state}"),
    "col_time": ("Waktu (UTC)", "Time (UTC)"),
    "col_action": ("Aksi", "Action"),
    "col_tag": ("Tag", "Tag"),
    "col_result": ("Hasil", "Result"),
    "col_version": ("Versi", "Version"),
    # help
    "help_title": ("Bantuan", "Help"),
    "help_intro": (
        "Ketik NIK penerima di layar Cari dan tekan Enter. Kartu hasil menunjukkan status, "
        "jumlah, jadwal, tempat, dokumen yang dibawa dan langkah berikutnya. Semua tindakan "
        "ada di tombol di bawah; Ctrl+P membuka palet perintah. Tombol dapat diubah di "
        "berkas tui.toml pada direktori data ([keymap] id = \"tombol\").",
        "Type a recipient's NIK on the Lookup screen and press Enter. The result card shows "
        "status, amount, schedule, place, what to bring and next steps. Every action is on a "
        "key listed below; Ctrl+P opens the command palette. Keys can be remapped in tui.toml "
        "in the data directory ([keymap] id = \"key\")."),
    "help_keys": ("Tombol", "Keys"),
    "help_close": ("Esc untuk menutup.", "Esc to close."),
    "language_now": ("Bahasa: Indonesia", "Language: English"),
    "locked": ("Perangkat dikunci.", "Device locked."),
    "error_internal": ("Terjadi kesalahan internal ({name}); data tetap aman.",
                       "An internal error occurred ({name}); the data is safe."),
}


def has_text(key: str) -> bool:
    return key in _TEXT


def text(key: str, lang: str = "id", /, **values: object) -> str:
    """The interface sentence ``key`` in ``lang``, with ``{placeholders}`` filled in."""
    pair = _TEXT.get(key, (key, key))
    template = pair[1] if lang == "en" else pair[0]
    return template.format(**values) if values else template


# Binding id -> (description, tooltip) per language: the footer and the help screen use them.
BINDING_LABELS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "lookup": (("Cari", "Lookup"), ("Layar pencarian NIK", "The NIK lookup screen")),
    "dashboard": (("Dasbor", "Dashboard"), ("Kemajuan penyaluran per desa",
                                            "Payout progress per village")),
    "sync": (("Sinkron", "Sync"), ("Sinkronisasi data dari pusat",
                                   "Sync the data from the central store")),
    "audit": (("Audit", "Audit"), ("Log audit dan verifikasinya", "The audit log and its check")),
    "language": (("Bahasa", "Language"), ("Ganti bahasa Indonesia/Inggris",
                                          "Switch Bahasa Indonesia/English")),
    "lock": (("Kunci", "Lock"), ("Kunci perangkat sekarang", "Lock the device now")),
    "help": (("Bantuan", "Help"), ("Tombol dan cara pakai", "Keys and how to use the app")),
    "quit": (("Keluar", "Quit"), ("Tutup aplikasi", "Close the app")),
    "clear": (("Hapus", "Clear"), ("Kosongkan NIK dan hasil", "Clear the NIK and result")),
    "start_sync": (("Mulai", "Start"), ("Mulai sinkronisasi", "Start a sync")),
    "sort": (("Urutkan", "Sort"), ("Ganti kolom urutan tabel desa",
                                   "Change the village table's sort column")),
    "verify_audit": (("Verifikasi", "Verify"), ("Periksa rantai log audit",
                                                "Check the audit log chain")),
    "close": (("Tutup", "Close"), ("Tutup layar ini", "Close this screen")),
}


def binding_label(binding_id: str, lang: str) -> tuple[str, str] | None:
    """(description, tooltip) of a binding id in ``lang``, or None if it has no label."""
    labels = BINDING_LABELS.get(binding_id)
    if labels is None:
        return None
    index = 1 if lang == "en" else 0
    return labels[0][index], labels[1][index]
