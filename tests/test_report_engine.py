"""The report engine on generated worlds: totals equal the sum of the ledger, at every level and
in every format; rows add up to the total; region narrowing; refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from blt_status.central.report import (
    COUNT_KEYS,
    LEVELS,
    WIB,
    ReportRecipient,
    build_report,
    fold_events,
)
from blt_status.central.report_format import render
from blt_status.errors import CentralError
from blt_status.i18n import format_number, set_lang, translate


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """set_lang is process-wide: leave it as found for the tests that follow."""
    yield
    set_lang(None)


DESA = ["32.01.01.1001", "32.01.01.1002", "32.01.02.2001", "32.73.01.1001", "33.01.01.2001",
        "94.01.01.2001"]
POINTS = [("KP-1", "Kantor Pos Satu"), ("KB-2", "Balai Desa Dua"), (None, "")]
MODES = ["kantor_pos", "komunitas", "antar"]
START = dt.datetime(2025, 11, 21, 8, 0, tzinfo=WIB)


@dataclass(frozen=True)
class Event:
    id: int
    subject: str
    status: str
    occurred_at: dt.datetime
    amount: int | None = None


@dataclass(frozen=True)
class Flag:
    event_id: int
    subject: str


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[ReportRecipient], list[Event], list[Flag]]:
    count = draw(st.integers(0, 40))
    recipients = []
    for index in range(count):
        point_id, point_name = draw(st.sampled_from(POINTS))
        recipients.append(ReportRecipient(
            f"s{index}", draw(st.sampled_from(DESA)), point_id, point_name,
            draw(st.sampled_from([400_000, 600_000, 750_000])), draw(st.sampled_from(MODES))))
    events = []
    for event_id in range(1, draw(st.integers(0, 60)) + 1):
        subject = f"s{draw(st.integers(0, count + 2))}"  # a few subjects outside the roster
        events.append(Event(
            event_id, subject, draw(st.sampled_from(["salur", "gagal", "kembali"])),
            START + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 10))),
            draw(st.one_of(st.none(), st.sampled_from([500_000, 600_000])))))
    flags = [Flag(event.id, event.subject)
             for event in events if draw(st.booleans()) and draw(st.booleans())]
    flags += flags[:1]  # two flags on one event still count one flagged payout
    return recipients, draw(st.permutations(events)), flags


def ledger_sum(recipients, events, flags, region=None) -> dict[str, int]:
    """What the ledger says, the long way: one state machine per recipient."""
    chosen = [r for r in recipients if region is None or r.desa.startswith(region + ".")
              or r.desa == region]
    totals = dict.fromkeys(COUNT_KEYS, 0)
    for recipient in chosen:
        status, paid = "scheduled", None
        mine = sorted((e for e in events if e.subject == recipient.subject),
                      key=lambda e: (e.occurred_at, e.id))
        for event in mine:
            if status in ("collected", "returned"):
                continue
            status = {"salur": "collected", "gagal": "held", "kembali": "returned"}[event.status]
            paid = event.amount if event.amount is not None else recipient.amount
        totals["recipients"] += 1
        totals["entitled"] += recipient.amount
        key = "pending" if status == "scheduled" else status
        totals[key] += 1
        if status == "collected":
            totals["collected_amount"] += paid
        totals["flagged"] += len({f.event_id for f in flags if f.subject == recipient.subject})
    return totals


def table_total(text: str) -> list[str]:
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    total_line = next(line for line in lines[rule + 1:] if line.lstrip().startswith("Total"))
    return total_line.split()[1:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), region=st.sampled_from([None, "32", "32.01", "32.01.01"]))
def test_totals_equal_the_ledger_at_every_level_and_text_format(world, region) -> None:
    set_lang("en")
    recipients, events, flags = world
    expected = ledger_sum(recipients, events, flags, region)
    for level in LEVELS:
        if region is not None and level != "titik" and region.count(".") > LEVELS.index(level):
            with pytest.raises(CentralError) as refused:
                build_report(recipients, events, flags, level=level, region=region)
            assert refused.value.code == "report_region_level"
            continue
        report = build_report(recipients, events, flags, level=level, region=region)
        total = report.total.to_dict()
        assert {key: total[key] for key in COUNT_KEYS} == expected
        for key in COUNT_KEYS:  # the rows add up to the total
            assert sum(getattr(row, key) for row in report.rows) == expected[key]
        assert (report.days[-1].cumulative if report.days else 0) == expected["collected"]
        assert sum(day.collected for day in report.days) == expected["collected"]
        assert sum(mode.recipients for mode in report.modes) == expected["recipients"]
        assert sum(mode.collected_amount for mode in report.modes) == \
            expected["collected_amount"]

        data = json.loads(render(report, "json"))
        assert set(data) >= {"level", "as_of", "rows", "total", "days"}
        assert {key: data["total"][key] for key in COUNT_KEYS} == expected
        assert set(data["rows"][0] if data["rows"] else data["total"]) >= {
            "code", "name", *COUNT_KEYS}
        assert [day["cumulative"] for day in data["days"]][-1:] == \
            ([expected["collected"]] if expected["collected"] else [])

        rows = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
        assert rows[-1]["code"] == "TOTAL"
        assert {key: int(rows[-1][key]) for key in COUNT_KEYS} == expected
        for key in COUNT_KEYS:
            assert sum(int(row[key]) for row in rows[:-1]) == expected[key]

        cells = table_total(render(report, "table").decode())
        shown = [cells[0], cells[1], cells[2], cells[4], *cells[5:]]
        assert shown == [format_number(expected[key], "en") for key in COUNT_KEYS]


def total_cells_of_html(text: str) -> list[str]:
    row = re.search(r'<tr class="total">(.*?)</tr>', text).group(1)
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.generate))
@given(world=worlds())
def test_html_and_pdf_totals_equal_the_ledger(world) -> None:
    from pypdf import PdfReader

    set_lang("id")
    recipients, events, flags = world
    expected = ledger_sum(recipients, events, flags)
    report = build_report(recipients, events, flags, level="desa")
    wanted = [format_number(expected[key], "id") for key in COUNT_KEYS]
    cells = total_cells_of_html(render(report, "html").decode())
    assert [cells[2], cells[3], cells[4], cells[6], *cells[7:]] == wanted
    pages = PdfReader(io.BytesIO(render(report, "pdf"))).pages
    text = " ".join(page.extract_text() for page in pages)
    word = translate("Total", "id")
    total_line = next(line for line in text.splitlines() if line.startswith(word))
    numbers = total_line.split()[1:]
    assert [numbers[0], numbers[1], numbers[2], *numbers[5:10]] == wanted


def test_fold_is_final_after_collected_or_returned() -> None:
    def event(i, status, minutes, amount=None):
        return Event(i, "s", status, START + dt.timedelta(minutes=minutes), amount)

    assert fold_events([]).status == "scheduled"
    assert fold_events([event(2, "salur", 5, 1), event(1, "gagal", 1)]).status == "collected"
    assert fold_events([event(1, "salur", 5, 7), event(2, "kembali", 9)]).amount == 7
    assert fold_events([event(1, "kembali", 1), event(2, "salur", 9)]).status == "returned"
    assert fold_events([event(2, "gagal", 1), event(1, "gagal", 1)]).status == "held"
    # same time: the lower id first
    assert fold_events([event(2, "salur", 1), event(1, "kembali", 1)]).status == "returned"


def test_names_come_from_the_region_table_and_points() -> None:
    recipients = [ReportRecipient("a", "32.01.01.1001", "KP-1", "Kantor Pos Satu", 1, "antar"),
                  ReportRecipient("b", "33.01.01.2001", None, "", 1, "antar")]
    names = {level: [(row.code, row.name) for row in build_report(
        recipients, [], level=level).rows] for level in LEVELS}
    assert names["provinsi"] == [("32", "Jawa Barat"), ("33", "Jawa Tengah")]
    assert names["kabupaten"][0] == ("32.01", "Kabupaten Bogor")
    assert names["kecamatan"][0] == ("32.01.01", "Cibinong")
    assert names["titik"] == [("-", "-"), ("KP-1", "Kantor Pos Satu")]
    narrowed = build_report(recipients, [], level="desa", region="33")
    assert [row.code for row in narrowed.rows] == ["33.01.01.2001"]
    assert narrowed.total.name == "Jawa Tengah"


@pytest.mark.parametrize(("level", "region", "code"), [
    ("kota", None, "report_level"),
    ("desa", "99.99", "report_region_unknown"),
    ("provinsi", "32.01", "report_region_level"),
])
def test_refusals_have_codes(level, region, code) -> None:
    with pytest.raises(CentralError) as refused:
        build_report([], [], level=level, region=region)
    assert refused.value.code == code


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["salur", "gagal", "kembali"]),
                                st.integers(0, 20)), max_size=8))
def test_fold_agrees_with_the_ledger(steps) -> None:
    from blt_status.central.ledger import StoredEvent, fold_status

    events = [StoredEvent(index, "e1", "s", "0001", status, START + dt.timedelta(hours=hour),
                          "KP-1", "csv", "ref", str(index), None, None, START)
              for index, (status, hour) in enumerate(steps, 1)]
    mine, theirs = fold_events(events), fold_status(events)
    assert (mine.status, mine.collected_at) == (theirs.status, theirs.collected_at)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_fast_number_formats_equal_the_i18n_ones(lang) -> None:
    from blt_status.central.report_format import _int, _share
    from blt_status.i18n import format_percent

    set_lang(lang)
    for value in (0, 7, 999, 1000, 1_234_567, 98_765_432_100):
        assert _int(value) == format_number(value, lang)
    for fraction in (0.0, 0.0004, 0.566, 0.9996, 1.0, 12.34567):
        assert _share(fraction) == format_percent(fraction, lang)
