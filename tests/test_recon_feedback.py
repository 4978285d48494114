"""check_feedback: every rejection code and every flag, on real report files where it fits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from blt_status.central.entitlement import EntitlementRules
from blt_status.central.inputs import PayoutPointRow, ProgramConfig
from blt_status.central.payouts import (
    FLAG_CODES,
    REJECTION_CODES,
    WIB,
    CheckSettings,
    Entitlement,
    check_and_apply,
    check_feedback,
    load_check_settings,
    read_payout_report,
)
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule

PROGRAM = ProgramConfig(Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025"),
                        200_000, 3, 4, dt.date(2025, 11, 21), dt.date(2025, 12, 11),
                        ("mon", "tue", "wed", "thu", "fri", "sat"), (dt.date(2025, 11, 27),),
                        60, EntitlementRules())
CIBINONG = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor 12", "kantor_pos")
BALAI = PayoutPoint("BD-PABUARAN", "Balai Desa Pabuaran", "Jl. Balai 1", "komunitas")
GUNUNGPUTRI = PayoutPoint("KP-GUNUNGPUTRI", "Kantor Pos Gunung Putri", "Jl. GP 5", "kantor_pos")
POINTS = {
    "KP-CIBINONG": PayoutPointRow(CIBINONG, "kantor_pos", ("32.01.01",), 3, dt.time(8),
                                  dt.time(15)),
    "BD-PABUARAN": PayoutPointRow(BALAI, "komunitas", ("32.01.01.1001",), 40, dt.time(8),
                                  dt.time(12)),
    "KP-GUNUNGPUTRI": PayoutPointRow(GUNUNGPUTRI, "kantor_pos", ("32.01.02",), 40, dt.time(8),
                                     dt.time(15)),
}
NIKS = [f"32010145059{n:05d}" for n in range(1, 40)]
NIK_A, NIK_B = NIKS[0], NIKS[1]
RECEIVED = dt.datetime(2025, 12, 1, 12, 0, tzinfo=WIB)
SCHEDULE = Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos")


@dataclass(frozen=True)
class Item:
    """An API-feedback-like fact (satisfies FeedbackItem)."""

    nik_digits: str
    status: str
    occurred_at: dt.datetime
    point_id: str = "KP-CIBINONG"
    amount: int | None = None


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=WIB)


def roster(**changes: object) -> dict[str, Entitlement]:
    base = {"point_id": "KP-CIBINONG", "kecamatan": "32.01.01", "schedule": SCHEDULE,
            "amount": 600_000}
    return {nik: Entitlement(**{**base, **changes}) for nik in NIKS}  # type: ignore[arg-type]


def judge(items: list[Item], people: dict[str, Entitlement] | None = None, **kwargs: object):
    return check_feedback(items, program=PROGRAM, points=POINTS,
                          roster=roster() if people is None else people,
                          received_at=RECEIVED, **kwargs)  # type: ignore[arg-type]


def codes(verdict) -> list[str]:
    return [flag.code for flag in verdict.flags]


GOOD = at("2025-11-24T08:30:00")


def test_a_clean_payout_is_accepted_without_flags():
    [verdict] = judge([Item(NIK_A, "salur", GOOD)])
    assert verdict.accepted and verdict.flags == ()


@pytest.mark.parametrize(("item", "people", "code"), [
    (Item(NIK_A, "salur", RECEIVED + dt.timedelta(minutes=6)), None, "future_time"),
    (Item("3201014505999999", "salur", GOOD), None, "unknown_nik"),
    (Item(NIK_A, "salur", GOOD, point_id="KP-ENTAH"), None, "unknown_point"),
    (Item(NIK_A, "salur", at("2025-11-20T09:00:00")), None, "outside_program"),
    (Item(NIK_A, "gagal", GOOD), roster(status="collected"), "already_collected"),
    (Item(NIK_A, "salur", GOOD), roster(status="returned"), "already_returned"),
])
def test_each_rejection(item, people, code):
    [verdict] = judge([item], people)
    assert verdict.rejection is not None and verdict.rejection[0] == code
    assert item.nik_digits not in verdict.rejection[1]


def test_five_minutes_of_clock_skew_are_allowed():
    [verdict] = judge([Item(NIK_A, "salur", RECEIVED + dt.timedelta(minutes=4))])
    assert verdict.rejection is None or verdict.rejection[0] != "future_time"


def test_a_rejected_row_does_not_make_a_later_valid_row_a_duplicate(tmp_path: Path):
    report = tmp_path / "laporan.csv"
    report.write_text("nik,status,waktu,id_titik,keterangan\n"
                      f"{NIK_A},salur,2025-11-24T08:30:00+07:00,KP-SALAH,\n"
                      f"{NIK_A},salur,2025-11-24T08:40:00+07:00,KP-CIBINONG,\n"
                      f"{NIK_A},salur,2025-11-24T08:50:00+07:00,KP-CIBINONG,\n",
                      encoding="utf-8")
    events, rejected, _ = read_payout_report(report)
    payload = RecordPayload(view="officer", status="scheduled", amount=600_000,
                            program=PROGRAM.program, schedule=SCHEDULE, payout_point=CIBINONG,
                            name="Siti Aminah", kode_wilayah="32.01.01.1001")
    outcome = check_and_apply({NIK_A: payload}, events, POINTS, PROGRAM, received_at=RECEIVED)
    assert rejected == []
    assert [(r.line, r.code) for r in outcome.rejected] == [(2, "unknown_point"),
                                                            (4, "duplicate")]
    assert "baris 3" in outcome.rejected[1].reason
    assert outcome.changed[NIK_A].collected_at == at("2025-11-24T08:40:00")


def test_point_mismatch_is_high_in_another_kecamatan_medium_in_the_same():
    same, other = judge([Item(NIK_A, "salur", GOOD, point_id="BD-PABUARAN"),
                         Item(NIK_B, "salur", GOOD, point_id="KP-GUNUNGPUTRI")])
    assert [(f.code, f.severity) for f in same.flags] == [("point_mismatch", "medium")]
    assert [(f.code, f.severity) for f in other.flags] == [("point_mismatch", "high")]
    assert "another kecamatan" in other.flags[0].text("en")


def test_before_schedule():
    [verdict] = judge([Item(NIK_A, "salur", at("2025-11-22T09:00:00"))])
    assert codes(verdict) == ["before_schedule"]


@pytest.mark.parametrize(("moment", "severity", "words"), [
    ("2025-11-24T16:30:00", "low", "opens 08:00-15:00"),
    ("2025-11-24T07:10:00", "low", "opens"),
    ("2025-11-30T09:00:00", "medium", "not a payout weekday"),  # a Sunday
    ("2025-11-27T09:00:00", "medium", "holiday"),
])
def test_outside_hours(moment, severity, words):
    [verdict] = judge([Item(NIK_A, "salur", at(moment))])
    assert [(f.code, f.severity) for f in verdict.flags] == [("outside_hours", severity)]
    assert words in verdict.flags[0].text("en")


def test_a_utc_time_is_judged_in_wib():
    [verdict] = judge([Item(NIK_A, "salur", dt.datetime(2025, 11, 24, 2, 0, tzinfo=dt.UTC))])
    assert verdict.flags == ()  # 09:00 WIB


def test_over_capacity_counts_the_ledger_and_the_batch():
    past = [("KP-CIBINONG", at("2025-11-24T08:05:00")), ("KP-CIBINONG", at("2025-11-24T08:10:00"))]
    verdicts = judge([Item(NIKS[i], "salur", at(f"2025-11-24T09:{i:02d}:00")) for i in range(3)],
                     past_payouts=past)
    assert [codes(v) for v in verdicts] == [[], ["over_capacity"], ["over_capacity"]]
    assert "capacity is 3" in verdicts[1].flags[0].text("en")


def test_burst_uses_n_and_m_from_the_settings(tmp_path: Path):
    toml = tmp_path / "program.toml"
    toml.write_text("[checks]\nburst_count = 3\nburst_seconds = 30\n", encoding="utf-8")
    settings = load_check_settings(toml)
    assert settings == CheckSettings(3, 30)
    people = roster()
    items = [Item(NIKS[i], "salur", GOOD + dt.timedelta(seconds=5 * i), point_id="KP-GUNUNGPUTRI")
             for i in range(5)]
    people.update({nik: Entitlement("KP-GUNUNGPUTRI", "32.01.02", SCHEDULE, 600_000)
                   for nik in NIKS[:5]})
    verdicts = judge(items, people, settings=settings)
    assert [codes(v) for v in verdicts] == [[], [], [], ["burst"], ["burst"]]
    spread = [Item(NIKS[i], "salur", GOOD + dt.timedelta(seconds=31 * i),
                   point_id="KP-GUNUNGPUTRI") for i in range(5)]
    assert all(v.flags == () for v in judge(spread, people, settings=settings))


def test_amount_mismatch_only_when_the_source_gives_an_amount():
    more, same, none = judge([Item(NIK_A, "salur", GOOD, amount=900_000),
                              Item(NIK_B, "salur", GOOD, amount=600_000),
                              Item(NIKS[2], "salur", GOOD)])
    assert [(f.code, f.severity) for f in more.flags] == [("amount_mismatch", "high")]
    assert same.flags == () and none.flags == ()


def test_order_conflict_a_salur_dated_before_an_earlier_gagal():
    people = roster(status="held", last_event_at=at("2025-11-25T10:00:00"))
    [verdict] = judge([Item(NIK_A, "salur", GOOD)], people)
    assert verdict.accepted and codes(verdict) == ["order_conflict"]


def test_removed_recipient():
    people = roster(current=False)
    [verdict] = judge([Item(NIK_A, "salur", GOOD)], people)
    assert verdict.accepted and [(f.code, f.severity) for f in verdict.flags] == [
        ("removed_recipient", "high")]


def test_every_code_is_covered_by_this_file():
    source = Path(__file__).read_text(encoding="utf-8")
    for code in (*REJECTION_CODES, *FLAG_CODES):
        assert f"\"{code}\"" in source, code


def test_flag_details_hold_no_nik():
    items = [Item(NIK_A, "salur", at("2025-11-30T20:00:00"), point_id="KP-GUNUNGPUTRI",
                  amount=1)]
    [verdict] = judge(items, roster(current=False, last_event_at=at("2025-12-01T08:00:00")))
    assert len(verdict.flags) >= 4
    assert all(NIK_A not in flag.detail and NIK_A[-4:] not in flag.detail
               for flag in verdict.flags)
