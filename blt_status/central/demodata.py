"""A synthetic but realistic demo world on real region codes: inputs for publish, a payout report.

:func:`write_demo_world` writes ``recipients.csv``, ``payout_points.csv``, ``program.toml``
(the example program of docs/central-data.md) and ``payout_report.csv`` for one kabupaten:

- people with Indonesian names of both sexes, addresses with RT/RW in real desa, households
  with a KK number under their kecamatan; NIKs consistent with birth date, sex (+40 on the day
  for women) and region — about 10% issued in another kecamatan than where the person lives;
- desil spread 1–7 (so about a quarter are above the program's maximum of 4), about 5%
  ``nonaktif``, about 3% ``lansia``/``disabilitas``; about 1% second members of a household
  already listed (one recipient per KK), and a few re-listed or mistyped NIKs;
- a Kantor Pos per kecamatan and a community point (balai desa) per two or three desa, with
  capacities that fit the program window;
- a Kantor Pos payout report touching only the first kecamatan: mostly ``salur``, some
  ``gagal``, one ``kembali``, and a few rows that must be rejected.

Without ``today`` the program is the fixed 2025 example (the central tests' world). With
``today`` the program window runs around that day, every day of the week, and the first
kecamatan's slots are spread so that it has past slots (paid, held, returned, and one missed
with nothing collected), slots today and tomorrow (a day-before reminder fires): the demo
always looks like a payout week in progress.

Every NIK, KK and name is synthetic. The same seed (and ``today``) gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from blt_status.central.inputs import PAYOUT_POINT_COLUMNS, RECIPIENT_COLUMNS, REPORT_COLUMNS
from blt_status.central.payouts import WIB
from blt_status.central.plan import PlannedRecipient, plan_publication
from blt_status.errors import CentralError
from blt_status.regions import dotted

__all__ = ["DEMO_PROGRAM_TOML", "DemoFiles", "demo_program_toml", "write_demo_world"]

_PROGRAM_TEMPLATE = """\
[program]
id = "BLT-PANGAN-{year}"
name = "BLT Pangan {year}"
period = "{period}"
[entitlement]
monthly_amount = 200000        # rupiah
months = 3
[eligibility]
max_desil = 4
[schedule]
start = {start}
end = {end}
days = [{days}]
holidays = []
slot_minutes = 60
"""
_SIX_DAYS = '"mon", "tue", "wed", "thu", "fri", "sat"'
_SEVEN_DAYS = _SIX_DAYS + ', "sun"'
_RELATIVE_WINDOW_DAYS = 21  # a relative demo's program window, every day of the week


def demo_program_toml(start: dt.date, end: dt.date, *, period: str = "",
                      every_day: bool = False) -> str:
    """The demo program.toml for a window ``start``..``end``."""
    if not period:
        from blt_status.present import format_date

        first, last = (format_date(day, "id", weekday=False).split(" ", 1)[1]
                       for day in (start, end))
        period = first if first == last else f"{first.split()[0]}-{last}"
    return _PROGRAM_TEMPLATE.format(year=start.year, period=period, start=start.isoformat(),
                                    end=end.isoformat(),
                                    days=_SEVEN_DAYS if every_day else _SIX_DAYS)


DEMO_PROGRAM_TOML = demo_program_toml(dt.date(2025, 11, 21), dt.date(2025, 12, 11),
                                      period="Oktober-Desember 2025")


def _words(text: str) -> list[str]:
    """The distinct words of ``text``, in order."""
    return list(dict.fromkeys(text.split()))


_WINDOW_PAYOUT_DAYS = 18  # Mon-Sat from 2025-11-21 to 2025-12-11
_REFERENCE_DAY = dt.date(2025, 11, 1)

FEMALE_NAMES = _words("""
Siti Sri Dewi Ani Rina Yuni Wati Nur Ratna Lestari Endang Sumiati Yanti Ika Rini Tuti Eni Neneng
Euis Imas Iis Cucu Entin Nining Lilis Popon Enok Titin Yeti Dede Kokom Onih Ai Eti Nani Cicih
Nurhayati Nurul Aminah Fatimah Aisyah Khadijah Maryam Zainab Halimah Rohmah Komariah Maesaroh
Rohayati Juariah Sulastri Suryani Suparmi Sukarsih Painem Tukinem Sarinah Marni Sartini Wartini
Kartini Rukmini Puspita Indah Ayu Putri Fitri Novi Yulia Dian Eka Nia Mega Wulan Intan Tika Rani
Maya Lina Vina Desi Evi Ida Umi Ani Rosita Rahmawati Kurniasih Mulyani Hartini Suhartini Sumarni
Kusmiati Nuraeni Nurjanah Yayah Enah Acih Iyah Oom Omah Ijah Esih Uum Tati Atikah Hasanah
Rosidah Nurlela Farida Hamidah Mariam Salamah Syarifah Salma Anisa Nabila Zahra Aulia Safitri
""")
MALE_NAMES = _words("""
Budi Agus Asep Dedi Ujang Cecep Dadang Deden Endang Iwan Wawan Yayan Ade Aep Acep Encep Jajang
Ujang Otong Usep Maman Mamat Oman Engkos Karna Nana Dana Herman Hendra Rudi Joko Slamet Sugeng
Supriyadi Suparno Sutrisno Sukardi Suyanto Bambang Hadi Heru Teguh Wahyu Eko Dwi Tri Andi Rizki
Fajar Arif Ahmad Muhammad Abdul Hasan Husein Ali Umar Usman Ridwan Rahmat Hidayat Syaiful Imam
Ilham Irfan Yusuf Ismail Ibrahim Zainal Ruslan Sulaiman Darmawan Gunawan Kurniawan Setiawan
Firmansyah Saepudin Saepulloh Syamsudin Nurdin Jaenudin Komarudin Udin Ocid Ohim Odih Aceng
Entis Emed Edi Ari Dani Doni Roni Yogi Bayu Galih Reza Dimas Adi Yudi Toni Kusnadi Sopian Sanusi
Darsono Karyono Warsito Tarmuji Paijo Tukiman Sarijo Kasim Rasim Wasim Tasrip Caswan Darma
""")
FAMILY_NAMES = _words("""
Saputra Santoso Wijaya Hidayat Setiawan Gunawan Kurniawan Pratama Nugraha Permana Suryadi
Suhendar Sudrajat Hermawan Ramdani Firdaus Maulana Mulyana Sukmana Supriatna Rahmat Hakim Lubis
Nasution Siregar Harahap Simanjuntak Sihombing Pane Tanjung Rangkuti Ginting Sembiring Tarigan
Rahayu Lestari Handayani Wulandari Susanti Anggraini Puspitasari Kusumawati Rahmawati Hartati
Wahyuni Purnamasari Ningsih Astuti Utami Yuliani Fitriani Marlina Sari Suherman Sutisna Wiguna
Kusnadi Sopandi Rohendi Somantri Sukandar Wiranata Hendrawan Syahputra Effendi Iskandar Fauzi
Zulkarnain Nurdiansyah Ramadhan Febriansyah Apriyanto Saefullah Mukhtar Kosasih Jaelani
""")
KAMPUNG = _words("""
Pabuaran Babakan Cibeureum Cikaret Sukamaju Sukasari Cilebut Cimanggu Cipayung Tegalwaru
Leuwiliang Pasirangin Bojong Rawa Kebon Kalapa Sawah Lebak Pasir Tonggoh Girang Hilir Tengah
Cisalada Cijambu Ciherang Pondok Cibodas Sindangsari Mekarjaya Sirnagalih Cempaka Melati
""")
STREETS = _words("""
Raya Merdeka Mawar Melati Kenanga Anggrek Flamboyan Cempaka Dahlia Nusantara Pahlawan
Masjid Pesantren Pasar Sekolah Kelapa Gading Sawo Duku Mangga Rambutan Nangka Jambu Pinang
""")
GAGAL_REASONS = ("nama tidak sesuai KTP", "KTP tidak dibawa", "KK tidak sesuai",
                 "penerima sedang sakit, belum ada surat kuasa")


@dataclass(frozen=True)
class DemoFiles:
    recipients_csv: Path
    payout_points_csv: Path
    program_toml: Path
    payout_report_csv: Path
    sample_niks: dict[str, str] = field(repr=False)  # label -> NIK (synthetic)
    report_kecamatan: str = ""  # the one kecamatan the payout report touches


@dataclass
class _Person:
    nik: str
    kk: str
    name: str
    address: str
    desa: str
    household_size: int
    desil: int
    status: str
    special_needs: str

    def row(self) -> list[str]:
        return [self.nik, self.kk, self.name, self.address, self.desa, str(self.household_size),
                str(self.desil), self.status, self.special_needs]


def _regions(kabupaten: str,
             ) -> tuple[dict[str, str], dict[str, str], dict[str, list[str]], list[str]]:
    """Names of the province's codes, kecamatan names, desa by kecamatan, province kecamatan.

    Kecamatan names and desa are the kabupaten's; the names and desa of the whole province
    are read too (a spread world, see :func:`_spread`, may reach its other kabupaten)."""
    path = resources.files("blt_status") / "data" / "wilayah.csv"
    province = kabupaten.split(".")[0]
    names: dict[str, str] = {}
    kecamatan_names: dict[str, str] = {}
    desa_names: dict[str, list[str]] = defaultdict(list)
    province_kecamatan: list[str] = []
    with io.TextIOWrapper(path.open("rb"), encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["kode"]
            if not code.startswith(province + "."):
                continue
            depth = code.count(".")
            names[code] = row["nama"]
            if depth == 2:
                province_kecamatan.append(code)
                if code.startswith(kabupaten + "."):
                    kecamatan_names[code] = row["nama"]
            elif depth == 3:
                desa_names[code.rsplit(".", 1)[0]].append(code)
    return names, kecamatan_names, desa_names, province_kecamatan


def _spread(recipients: int, per_kecamatan: int, kabupaten: str, names: dict[str, str],
            desa_by_kecamatan: dict[str, list[str]], province_kecamatan: list[str],
            ) -> dict[str, str]:
    """The kecamatan (code -> name) of a world of ``recipients`` rows at about
    ``per_kecamatan`` rows each: the kabupaten's kecamatan first, then those of the next
    kabupaten of its province, in code order, as many as it takes (at most the province's)."""
    wanted = max(1, math.ceil(recipients / per_kecamatan))
    own = [code for code in province_kecamatan if code.startswith(kabupaten + ".")]
    others = [code for code in province_kecamatan if code > kabupaten + "."
              and not code.startswith(kabupaten + ".")]
    before = [code for code in province_kecamatan if code < kabupaten + "."]
    ordered = [code for code in own + others + before if desa_by_kecamatan.get(code)]
    return {code: names[code] for code in ordered[:wanted]}


class _NumberIssuer:
    """Unique NIK and KK numbers: prefix (region + date) plus a serial per prefix.

    Each prefix's serials start at a random small number, as if others had been issued before,
    so that the last four digits (all a masked NIK shows) differ between people.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serials: dict[str, int] = {}

    def issue(self, prefix: str) -> str:
        serial = self.serials.get(prefix)
        serial = self.rng.randint(1, 150) if serial is None else serial + 1
        self.serials[prefix] = serial
        return f"{prefix}{serial:04d}"


def _nik(issuer: _NumberIssuer, kecamatan: str, born: dt.date, female: bool) -> str:
    day = born.day + (40 if female else 0)
    return issuer.issue(f"{kecamatan.replace('.', '')}{day:02d}{born.month:02d}"
                        f"{born.year % 100:02d}")


def _csv_bytes(header: tuple[str, ...], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _people(rng: random.Random, count: int, kecamatan_names: dict[str, str],
            desa_by_kecamatan: dict[str, list[str]], province_kecamatan: list[str],
            names: dict[str, str], *, even: bool = False) -> list[_Person]:
    """``even``: a person's kecamatan is drawn first (each as likely), then a desa in it, so
    the kecamatan are about the same size; otherwise a desa of the world (kecamatan grow
    with their number of desa)."""
    issuer = _NumberIssuer(rng)
    all_desa = [desa for kecamatan in sorted(kecamatan_names)
                for desa in desa_by_kecamatan[kecamatan]]
    kabupaten_kecamatan = sorted(kecamatan_names)
    first_kecamatan = kabupaten_kecamatan[0]
    people: list[_Person] = []
    while len(people) < count:
        number = len(people)
        # The first rows live in the report's kecamatan and cover the sample cases.
        if number < 12:
            desa = desa_by_kecamatan[first_kecamatan][number % len(
                desa_by_kecamatan[first_kecamatan])]
        elif even:
            desa = rng.choice(desa_by_kecamatan[rng.choice(kabupaten_kecamatan)])
        else:
            desa = rng.choice(all_desa)
        kecamatan = desa.rsplit(".", 1)[0]
        roll = rng.random()
        if number > 12 and roll < 0.01 and people:
            # A second member of an already listed household (same KK, desil, address).
            head = people[rng.randrange(len(people))]
            female = rng.random() < 0.5
            born = _REFERENCE_DAY - dt.timedelta(days=rng.randint(18 * 365, 60 * 365))
            nik = _nik(issuer, head.desa.rsplit(".", 1)[0], born, female)
            family = head.name.split()[-1] if " " in head.name else rng.choice(FAMILY_NAMES)
            given = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
            people.append(_Person(nik, head.kk, f"{given} {family}", head.address, head.desa,
                                  head.household_size, head.desil, head.status, ""))
            continue
        if number > 12 and roll < 0.012 and people:
            # Listed twice: the same person again (a later data entry).
            earlier = people[rng.randrange(len(people))]
            people.append(_Person(**{**earlier.__dict__, "address": earlier.address + " (baru)"}))
            continue
        female = rng.random() < 0.55
        age_days = rng.randint(20 * 365, 85 * 365)
        born = _REFERENCE_DAY - dt.timedelta(days=age_days)
        issued_in = kecamatan
        if rng.random() < 0.10:
            pool = kabupaten_kecamatan if rng.random() < 0.8 else province_kecamatan
            issued_in = rng.choice([code for code in pool if code != kecamatan] or [kecamatan])
        nik = _nik(issuer, issued_in, born, female)
        if number > 12 and rng.random() < 0.002:
            nik = nik[:7] + nik[8:]  # a digit lost in data entry
        kk_issued = _REFERENCE_DAY - dt.timedelta(days=rng.randint(365, 20 * 365))
        kk = issuer.issue(f"{kecamatan.replace('.', '')}{kk_issued:%d%m%y}")
        given = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        name = given if rng.random() < 0.15 else f"{given} {rng.choice(FAMILY_NAMES)}"
        rt, rw = rng.randint(1, 12), rng.randint(1, 8)
        desa_name = names.get(desa, "")
        if rng.random() < 0.6:
            address = f"Kp. {rng.choice(KAMPUNG)} RT {rt:03d}/RW {rw:03d}, {desa_name}"
        else:
            address = (f"Jl. {rng.choice(STREETS)} No. {rng.randint(1, 120)} RT {rt:03d}/RW "
                       f"{rw:03d}, {desa_name}")
        desil = rng.choices(range(1, 8), weights=(15, 18, 20, 20, 12, 9, 6))[0]
        status = "nonaktif" if rng.random() < 0.05 else "aktif"
        age = age_days // 365
        special = ""
        if rng.random() < 0.03:
            special = "lansia" if age >= 60 else "disabilitas"
        household_size = rng.choices(range(1, 8), weights=(8, 17, 25, 25, 14, 7, 4))[0]
        # Fixed sample cases in the report's kecamatan.
        if number == 0:
            special, desil, status = "lansia", 1, "aktif"
        elif number == 1:
            desil, status, special = 7, "aktif", ""
        elif number == 2:
            desil, status, special = 2, "nonaktif", ""
        elif 3 <= number < 12:
            desil, status, special = 1 + number % 4, "aktif", ""
        people.append(_Person(nik, kk, name, address, desa, household_size, desil, status,
                              special))
    return people


def _payout_points(rng: random.Random, kecamatan_names: dict[str, str],
                   desa_by_kecamatan: dict[str, list[str]], names: dict[str, str],
                   people: list[_Person], *, spread: bool = False) -> list[list[str]]:
    """Payout point rows. ``spread``: small daily capacities, so a kecamatan's recipients
    take about a week of slots (a relative demo shows past, today's and tomorrow's slots)."""
    demand: dict[str, int] = defaultdict(int)
    for person in people:
        demand[person.desa] += 1
    rows = []
    for kecamatan in sorted(kecamatan_names):
        desa_list = desa_by_kecamatan[kecamatan]
        kecamatan_demand = sum(demand[desa] for desa in desa_list)
        # The Kantor Pos alone could serve the whole kecamatan in the window, with a margin.
        capacity = max(2, math.ceil(kecamatan_demand / 10)) if spread else \
            max(20, math.ceil(kecamatan_demand * 1.25 / _WINDOW_PAYOUT_DAYS / 5) * 5)
        name = kecamatan_names[kecamatan]
        rows.append([f"KP-{kecamatan.replace('.', '')}", "kantor_pos", f"Kantor Pos {name}",
                     f"Jl. Raya {name} No. {rng.randint(1, 200)}, {name}", kecamatan,
                     str(capacity), "08:00", "15:00"])
        group_size = 2 + (len(desa_list) > 8)
        for start in range(0, len(desa_list), group_size * 2):
            group = desa_list[start:start + group_size]
            host = group[0]
            group_demand = sum(demand[desa] for desa in group)
            kind = "Kantor Kelurahan" if host.rsplit(".", 1)[1].startswith("1") else "Balai Desa"
            rows.append([f"KOM-{host.replace('.', '')}", "komunitas",
                         f"{kind} {names.get(host, '')}",
                         f"Jl. {rng.choice(STREETS)} No. {rng.randint(1, 60)}, "
                         f"{names.get(host, '')}", ";".join(group),
                         str(max(1, math.ceil(group_demand / 10)) if spread else
                             max(10, math.ceil(group_demand / _WINDOW_PAYOUT_DAYS / 5) * 5)),
                         "09:00", "13:00"])
    return rows


def _report(rng: random.Random, chosen: list[PlannedRecipient], unknown_nik: str,
            program_end: dt.date) -> tuple[list[list[str]], dict[str, str]]:
    """Report rows for the recipients of one kecamatan, and the sample labels they give."""
    rows: list[list[str]] = []
    labels: dict[str, str] = {}
    home = [r for r in chosen if r.payload.schedule.mode == "antar"]
    counter = [r for r in chosen if r.payload.schedule.mode != "antar"]
    if home:
        labels["antar"] = home[0].nik_digits
    if len(counter) < 6:
        raise CentralError("demo_too_small")
    labels["scheduled"] = counter[0].nik_digits
    communities = [r for r in counter[1:] if r.payload.schedule.mode == "komunitas"]
    if communities:
        labels["komunitas"] = communities[0].nik_digits
    touched = [r for r in counter if r.nik_digits not in labels.values()]
    # The last three are kept out of the salur/gagal rows: one is returned, two carry an error.
    *paid, returned, wrong_point, wrong_period = touched
    rows += _pay_rows(rng, paid, labels)
    point_id = returned.payload.payout_point.id if returned.payload.payout_point else ""
    rows.append([returned.nik_digits, "kembali", f"{program_end.isoformat()}T16:00:00+07:00",
                 point_id, "tidak diambil sampai akhir periode"])
    labels["will_be_returned"] = returned.nik_digits
    # Rows the ingest must reject: paid out twice in one report, a NIK not in the program, a
    # mistyped NIK, a payout point that does not exist, a date of another period.
    rows += [
        [labels["will_be_collected"], "salur", "2025-11-28T10:00:00+07:00", point_id, ""],
        [unknown_nik, "salur", "2025-11-24T09:30:00+07:00", point_id, ""],
        ["3201 0145 0590", "salur", "2025-11-24T09:30:00+07:00", point_id, ""],
        [wrong_point.nik_digits, "salur", "2025-11-24T10:00:00+07:00", "KP-TIDAKADA", ""],
        [wrong_period.nik_digits, "salur", "2025-06-02T10:00:00+07:00", point_id,
         "laporan periode lain"],
    ]
    return rows, labels


def _pay_rows(rng: random.Random, paid: list[PlannedRecipient], labels: dict[str, str],
              ) -> list[list[str]]:
    """``salur`` (mostly) and ``gagal`` rows at each recipient's slot."""
    rows: list[list[str]] = []
    for index, recipient in enumerate(paid):
        schedule = recipient.payload.schedule
        point = recipient.payload.payout_point
        assert schedule.start is not None and point is not None
        moment = dt.datetime.combine(schedule.date, schedule.start, tzinfo=WIB) + dt.timedelta(
            minutes=rng.randint(0, 55))
        roll = rng.random()
        if index % 10 == 1 or roll < 0.1:
            rows.append([recipient.nik_digits, "gagal", moment.isoformat(), point.id,
                         rng.choice(GAGAL_REASONS)])
            labels.setdefault("will_be_held", recipient.nik_digits)
        elif index == 0 or roll < 0.85:
            rows.append([recipient.nik_digits, "salur", moment.isoformat(), point.id, ""])
            labels.setdefault("will_be_collected", recipient.nik_digits)
    return rows


def _relative_report(rng: random.Random, chosen: list[PlannedRecipient], unknown_nik: str,
                     program_start: dt.date, today: dt.date,
                     ) -> tuple[list[list[str]], dict[str, str]]:
    """A report of the days before ``today`` (nothing in the future), with sample labels:
    slots today and tomorrow, one missed slot with nothing collected, paid, held, returned."""
    labels: dict[str, str] = {}
    home = [r for r in chosen if r.payload.schedule.mode == "antar"]
    counter = [r for r in chosen if r.payload.schedule.mode != "antar"]
    if home:
        labels["antar"] = home[0].nik_digits
    on_day = {day: [r for r in counter if r.payload.schedule.date == day]
              for day in (today, today + dt.timedelta(days=1))}
    past = [r for r in counter if r.payload.schedule.date < today]
    if not all(on_day.values()) or len(past) < 6:
        raise CentralError("demo_too_small")
    # today's sample has the day's last slot, so it is still ahead for most of the day
    last_today = max(on_day[today], key=lambda r: (r.payload.schedule.start or dt.time(0)))
    labels["scheduled"] = labels["today"] = last_today.nik_digits
    labels["tomorrow"] = on_day[today + dt.timedelta(days=1)][0].nik_digits
    later = [r for r in counter if r.payload.schedule.date >= today
             and r.payload.schedule.mode == "komunitas"]
    if later:
        labels["komunitas"] = later[0].nik_digits
    missed, returned, wrong_point, wrong_period, *paid = past
    labels["missed"] = missed.nik_digits
    rows = _pay_rows(rng, paid, labels)
    point_id = returned.payload.payout_point.id if returned.payload.payout_point else ""
    yesterday = today - dt.timedelta(days=1)
    rows.append([returned.nik_digits, "kembali", f"{yesterday.isoformat()}T16:00:00+07:00",
                 point_id, "tidak diambil sampai akhir periode"])
    labels["will_be_returned"] = returned.nik_digits
    earlier = max(program_start, today - dt.timedelta(days=2)).isoformat()
    rows += [
        [labels["will_be_collected"], "salur", f"{yesterday.isoformat()}T10:00:00+07:00",
         point_id, ""],
        [unknown_nik, "salur", f"{earlier}T09:30:00+07:00", point_id, ""],
        ["3201 0145 0590", "salur", f"{earlier}T09:30:00+07:00", point_id, ""],
        [wrong_point.nik_digits, "salur", f"{earlier}T10:00:00+07:00", "KP-TIDAKADA", ""],
        [wrong_period.nik_digits, "salur",
         f"{(program_start - dt.timedelta(days=150)).isoformat()}T10:00:00+07:00", point_id,
         "laporan periode lain"],
    ]
    return rows, labels


def _relative_start(plan_days: list[int]) -> int:
    """How many days before today the window starts: the first slot day with at least eight
    slots before it and a slot on the next day (indices of the first kecamatan's slots)."""
    days = sorted(set(plan_days))
    for day in days:
        if day + 1 in days and sum(index < day for index in plan_days) >= 8:
            return day
    raise CentralError("demo_too_small")


def write_demo_world(out_dir: Path, *, kabupaten: str = "32.01", recipients: int = 2000,
                     seed: int = 7, today: dt.date | None = None,
                     per_kecamatan: int | None = None) -> DemoFiles:
    """Write the demo inputs and a sample payout report into ``out_dir``.

    ``today``: date the program around that day (see the module doc); None: the fixed 2025
    program. ``per_kecamatan``: about that many rows per kecamatan, each kecamatan as likely,
    over as many kecamatan as it takes: the kabupaten's first, then the next kabupaten of the
    province (at most the province's kecamatan). None: the kabupaten's kecamatan, each
    recipient in a desa drawn from all of them.
    """
    kabupaten = dotted(kabupaten)
    names, kecamatan_names, desa_by_kecamatan, province_kecamatan = (
        _regions(kabupaten) if re.fullmatch(r"[0-9]{2}\.[0-9]{2}", kabupaten) else ({}, {}, {}, []))
    if kabupaten not in names or not kecamatan_names:
        raise CentralError("demo_kabupaten", kabupaten=kabupaten)
    if recipients < 20:
        raise CentralError("demo_too_small:minimum", minimum=20)
    if per_kecamatan is not None and per_kecamatan < 20:
        raise CentralError("demo_too_small:minimum", minimum=20)
    desa_by_kecamatan = {code: desa for code, desa in desa_by_kecamatan.items() if desa}
    kecamatan_names = {code: name for code, name in kecamatan_names.items()
                       if code in desa_by_kecamatan}
    if per_kecamatan is not None:
        kecamatan_names = _spread(recipients, per_kecamatan, kabupaten, names,
                                  desa_by_kecamatan, province_kecamatan)
    desa_by_kecamatan = {code: desa_by_kecamatan[code] for code in kecamatan_names}
    rng = random.Random(seed)
    people = _people(rng, recipients, kecamatan_names, desa_by_kecamatan, province_kecamatan,
                     names, even=per_kecamatan is not None)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipients_csv = out_dir / "recipients.csv"
    recipients_csv.write_bytes(_csv_bytes(RECIPIENT_COLUMNS, [p.row() for p in people]))
    points_csv = out_dir / "payout_points.csv"
    points_csv.write_bytes(_csv_bytes(PAYOUT_POINT_COLUMNS, _payout_points(
        rng, kecamatan_names, desa_by_kecamatan, names, people, spread=today is not None)))
    program_toml = out_dir / "program.toml"
    report_kecamatan = sorted(kecamatan_names)[0]
    if today is None:
        program_toml.write_text(DEMO_PROGRAM_TOML, encoding="utf-8")
    else:
        # Every day is a payout day, so a slot's day index does not depend on the start:
        # plan once from today, then move the start back so today falls amid the slots.
        window = dt.timedelta(days=_RELATIVE_WINDOW_DAYS - 1)
        program_toml.write_text(demo_program_toml(today, today + window, every_day=True),
                                encoding="utf-8")
        trial = plan_publication(recipients_csv, points_csv, program_toml, today=today)
        start = today - dt.timedelta(days=_relative_start(
            [(r.payload.schedule.date - today).days for r in trial.recipients
             if r.shard == report_kecamatan and r.payload.schedule.mode != "antar"]))
        program_toml.write_text(demo_program_toml(start, start + window, every_day=True),
                                encoding="utf-8")

    plan = plan_publication(recipients_csv, points_csv, program_toml, today=today)
    chosen = [r for r in plan.recipients if r.shard == report_kecamatan]
    unknown = _nik(_NumberIssuer(rng), report_kecamatan, dt.date(1977, 7, 7), True)[:-4] + "9999"
    if today is None:
        report_rows, labels = _report(rng, chosen, unknown, plan.program.end)
    else:
        report_rows, labels = _relative_report(rng, chosen, unknown, plan.program.start, today)
    by_line = {p_line: person for p_line, person in enumerate(people, start=2)}
    rejected_first: dict[str, str] = {}
    for rejection in plan.rejected:
        rejected_first.setdefault(rejection.code, by_line[rejection.line].nik)
    if "desil_above_max" in rejected_first:
        labels["ineligible"] = people[1].nik if people[1].desil > 4 else \
            rejected_first["desil_above_max"]
    if "not_active" in rejected_first:
        labels["not_active"] = people[2].nik if people[2].status == "nonaktif" else \
            rejected_first["not_active"]
    if "duplicate_kk" in rejected_first:
        labels["duplicate_kk"] = rejected_first["duplicate_kk"]
    elsewhere = next((r for r in plan.recipients
                      if r.nik_digits[:6] != r.shard.replace(".", "")), None)
    if elsewhere is not None:
        labels["issued_elsewhere"] = elsewhere.nik_digits
    labels["not_listed"] = unknown
    payout_report_csv = out_dir / "payout_report.csv"
    payout_report_csv.write_bytes(_csv_bytes(REPORT_COLUMNS, report_rows))
    return DemoFiles(recipients_csv, points_csv, program_toml, payout_report_csv,
                     dict(sorted(labels.items())), report_kecamatan)
