"""Fuzzing the publisher's input readers: recipients, payout points, report CSVs, program.toml.

Any file gives a plan (every row published or rejected), a set of points, a report, a program
— or a coded one-line refusal. Never another exception (exit 70). Examples per test: the
Hypothesis profile (2,000 in CI, more with ``--hypothesis-profile=long``).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_world import POINTS, recipient_rows
from hypothesis import given
from hypothesis import strategies as st
from support.fuzz import FUZZ, coded, nasty_text

from blt_status.central.demodata import DEMO_PROGRAM_TOML as PROGRAM_TOML
from blt_status.central.inputs import (
    PAYOUT_POINT_COLUMNS,
    PROGRAM_KEYS,
    RECIPIENT_COLUMNS,
    REPORT_COLUMNS,
    load_payout_points,
    load_program,
)
from blt_status.central.payouts import apply_payouts, read_payout_report
from blt_status.central.plan import PublicationPlan, plan_publication
from blt_status.errors import BltError

TODAY = dt.date(2025, 11, 1)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="blt-fuzz-") as name:
        directory = Path(name)
        (directory / "program.toml").write_text(PROGRAM_TOML, encoding="utf-8")
        (directory / "points.csv").write_text(
            _csv_text(list(PAYOUT_POINT_COLUMNS), POINTS, ",", crlf=False, bom=False),
            encoding="utf-8")
        yield directory


def _csv_text(header: list[str], rows: list[list[str]], delimiter: str, crlf: bool,
              bom: bool) -> str:
    def cell(value: str) -> str:
        if any(char in value for char in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value
    newline = "\r\n" if crlf else "\n"
    body = newline.join(delimiter.join(cell(value) for value in row) for row in [header, *rows])
    return ("\ufeff" if bom else "") + body + newline


def csv_files(columns: tuple[str, ...], good_rows: list[list[str]]) -> st.SearchStrategy[bytes]:
    """CSV files near the real format (good rows with some cells replaced, shuffled or dropped
    columns, odd separators) and plain noise."""
    column = st.sampled_from([*columns, "extra", "NIK ", ""])
    header = st.one_of(st.just(list(columns)), st.just(list(columns)),
                       st.permutations(list(columns)),
                       st.lists(column, max_size=len(columns) + 2))

    @st.composite
    def row(draw: st.DrawFn) -> list[str]:
        base = list(draw(st.sampled_from(good_rows)))
        for _ in range(draw(st.integers(0, 3))):
            base[draw(st.integers(0, len(base) - 1))] = draw(nasty_text)
        size = draw(st.integers(len(base) - 2, len(base) + 1))
        return [*base, draw(nasty_text)][:size]

    structured = st.builds(_csv_text, header, st.lists(row(), max_size=8),
                           st.sampled_from([",", ";", "\t"]), st.booleans(), st.booleans())
    text_files = structured.map(lambda text: text.encode("utf-8", "surrogatepass"))
    return st.one_of(text_files, text_files, text_files, st.binary(max_size=300),
                     st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))


RECIPIENT_ROWS = recipient_rows()
REPORT_ROWS = [[row[0], status, "2025-11-24T09:15:00+07:00", "KP-CIBINONG", ""]
               for row, status in zip(RECIPIENT_ROWS, ["salur", "gagal", "kembali", "salur", "x"],
                                      strict=False)]


@FUZZ
@given(csv_files(RECIPIENT_COLUMNS, RECIPIENT_ROWS))
def test_recipients_csv_gives_a_plan_or_a_coded_refusal(folder, data):
    path = folder / "recipients.csv"
    path.write_bytes(data)
    outcome = coded(lambda: plan_publication(path, folder / "points.csv",
                                             folder / "program.toml", today=TODAY))
    if isinstance(outcome, PublicationPlan):
        assert outcome.input_rows == len(outcome.recipients) + len(outcome.rejected)
        assert all(rejection.code for rejection in outcome.rejected)


@FUZZ
@given(csv_files(PAYOUT_POINT_COLUMNS, [list(row) for row in POINTS]))
def test_payout_points_csv_gives_points_or_a_coded_refusal(folder, data):
    path = folder / "fuzz-points.csv"
    path.write_bytes(data)
    outcome = coded(lambda: load_payout_points(path))
    if not isinstance(outcome, BltError):
        assert outcome and all(1 <= point.kapasitas_per_hari <= 100_000
                               for point in outcome.values())


@FUZZ
@given(csv_files(REPORT_COLUMNS, REPORT_ROWS))
def test_report_csv_gives_events_or_a_coded_refusal(folder, data):
    path = folder / "report.csv"
    path.write_bytes(data)
    outcome = coded(lambda: read_payout_report(path))
    if isinstance(outcome, BltError):
        return
    events, rejected, rows = outcome
    assert len(events) + len(rejected) == rows
    program = load_program(folder / "program.toml", today=TODAY)
    points = load_payout_points(folder / "points.csv")
    changed, refused = apply_payouts({}, events, points, program)  # nobody is a recipient
    assert changed == {} and len(refused) == len(events)


# -- program.toml -----------------------------------------------------------------------------

ALL_KEYS = sorted({*PROGRAM_KEYS, *(key for keys in PROGRAM_KEYS.values() for key in keys),
                   "holiday", "caps", "min_desil", "elegibility", "add", "per_member"})
toml_scalar = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.dates().map(str), st.sampled_from(["9999-12-31", "0001-01-01", "1979-05-27T07:32:00Z"]),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.text(max_size=20).map(json.dumps), st.booleans().map(lambda value: str(value).lower()),
    st.sampled_from(["inf", "nan", "-0.0", "1.5", '"²"', '"' + "9" * 5000 + '"', "[]", "{}"]),
)
toml_value = st.one_of(toml_scalar, st.lists(toml_scalar, max_size=4).map(
    lambda items: "[" + ", ".join(items) + "]"))


@st.composite
def program_files(draw: st.DrawFn) -> str:
    lines = PROGRAM_TOML.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "insert", "delete", "table", "noise"]))
        line = lines[index]
        if action == "value" and " = " in line:
            lines[index] = line.split(" = ", 1)[0] + " = " + draw(toml_value)
        elif action == "insert":
            lines.insert(index, f"{draw(st.sampled_from(ALL_KEYS))} = {draw(toml_value)}")
        elif action == "delete":
            del lines[index]
        elif action == "table":
            name = draw(st.sampled_from([*ALL_KEYS, "entitlement.rules"]))
            lines.insert(index, f"[[{name}]]" if draw(st.booleans()) else f"[{name}]")
        else:
            lines[index] = draw(st.text(max_size=30))
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.one_of(program_files(), program_files(), st.text(max_size=200)))
def test_program_toml_gives_a_program_or_a_coded_refusal(folder, text):
    path = folder / "fuzz-program.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    outcome = coded(lambda: load_program(path, today=TODAY))
    if not isinstance(outcome, BltError):
        days = outcome.payout_days()
        assert days and (outcome.end - outcome.start).days < 366
        assert outcome.antar_window()[0] == days[0]
