"""NIK parsing: each rejection code, region history, birth dates, and Hypothesis properties."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blt_status.errors import KkError, NikError
from blt_status.nik import mask_digits, normalize, parse_kk, parse_nik

TODAY = dt.date(2026, 11, 29)


def _codes() -> tuple[set[str], set[str], set[str]]:
    """Independent oracle: NIK prefixes read straight from the shipped CSVs."""
    provinces, kabupaten, kecamatan = set(), set(), set()
    for name in ("wilayah.csv", "wilayah_historical.csv"):
        path = resources.files("blt_status") / "data" / name
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                code = row["kode"].replace(".", "")
                {2: provinces, 4: kabupaten, 6: kecamatan}.get(len(code), set()).add(code)
    return provinces, kabupaten, kecamatan


PROVINCES, KABUPATEN, KECAMATAN = _codes()
KECAMATAN_LIST = sorted(KECAMATAN)


def oracle_valid(digits: str, today: dt.date = TODAY) -> bool:
    if len(digits) != 16 or not digits.isascii() or not digits.isdigit():
        return False
    if digits[:2] not in PROVINCES or digits[:4] not in KABUPATEN or digits[:6] not in KECAMATAN:
        return False
    day, month, year = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    day = day - 40 if day > 40 else day
    try:
        born = dt.date(2000 + year, month, day)
        if born > today:
            born = dt.date(1900 + year, month, day)
    except ValueError:
        return False
    return digits[12:] != "0000"


@pytest.mark.parametrize("raw", [
    "3201014505900001", " 3201014505900001 ", "3201 0145 0590 0001", "3201.0145.0590.0001",
    "3201-0145-0590-0001", "32 01 01 45 05 90 0001", "3201 - 0145 - 0590 - 0001",
])
def test_accepts_separators_between_digits(raw: str) -> None:
    nik = parse_nik(raw, today=TODAY)
    assert nik.digits == "3201014505900001"


def test_decodes_region_birth_date_and_sex() -> None:
    woman = parse_nik("3201014505900001", today=TODAY)
    assert (woman.province.name, woman.kabupaten.name, woman.kecamatan.name) == (
        "Jawa Barat", "Kabupaten Bogor", "Cibinong")
    assert woman.birth_date == dt.date(1990, 5, 5)
    assert woman.sex == "F"
    man = parse_nik("3201010505900001", today=TODAY)
    assert man.sex == "M" and man.birth_date == dt.date(1990, 5, 5)


@pytest.mark.parametrize(("raw", "code"), [
    ("", "empty"),
    ("   ", "empty"),
    ("320101450590001", "length"),
    ("32010145059000011", "length"),
    ("3201O14505900001", "not_digits"),
    ("-3201014505900001", "not_digits"),
    ("3201014505900001-", "not_digits"),
    ("3201/0145/0590/0001", "not_digits"),
    ("٣٢٠١٠١٤٥٠٥٩٠٠٠٠١", "not_digits"),  # Arabic-Indic digits are not NIK digits
    ("NIK saya 3201014505900001", "not_digits"),
    ("😀", "not_digits"),
    ("9901014505900001", "province"),
    ("3299014505900001", "region"),
    ("3201994505900001", "region"),
    ("3201013202900001", "birth_date"),  # 32 February
    ("3201017202900001", "birth_date"),  # woman, day 32
    ("3201010013900001", "birth_date"),  # month 13
    ("3201014505900000", "serial"),
    ("1" * 500, "length"),  # too many digits: the length is what is wrong
])
def test_rejections_have_stable_codes_and_both_languages(raw: str, code: str) -> None:
    with pytest.raises(NikError) as caught:
        parse_nik(raw, today=TODAY)
    error = caught.value
    assert error.code == code
    assert error.message("id") and error.message("en")
    assert error.message("id") != error.message("en")
    assert raw.strip() == "" or raw not in error.message("id") + error.message("en")


@pytest.mark.parametrize("prefix", ["650101", "910101", "930101", "920101", "950101", "960101"])
def test_kaltara_papua_and_pre_2022_papua_codes_validate(prefix: str) -> None:
    nik = parse_nik(prefix + "0101900001", today=TODAY)
    assert nik.kecamatan.code == f"{prefix[:2]}.{prefix[2:4]}.{prefix[4:6]}"


def test_retired_code_is_marked_historical() -> None:
    nik = parse_nik("9101010101900001", today=TODAY)  # Merauke before the 2022 split
    assert nik.kabupaten.historical and nik.kecamatan.historical
    assert not parse_nik("9301010101900001", today=TODAY).kabupaten.historical


@pytest.mark.parametrize(("yy", "expected_year"), [("25", 2025), ("26", 2026), ("27", 1927),
                                                   ("00", 2000), ("99", 1999)])
def test_two_digit_year_never_in_the_future(yy: str, expected_year: int) -> None:
    nik = parse_nik(f"32010101 01{yy}0001".replace(" ", ""), today=TODAY)
    assert nik.birth_date.year == expected_year


def test_born_later_this_year_belongs_to_last_century() -> None:
    # 30 November 2026 is tomorrow: it must resolve to 1926.
    assert parse_nik("3201013011260001", today=TODAY).birth_date == dt.date(1926, 11, 30)
    assert parse_nik("3201012911260001", today=TODAY).birth_date == dt.date(2026, 11, 29)


def test_repr_and_str_never_show_the_nik() -> None:
    nik = parse_nik("3201014505900001", today=TODAY)
    for text in (repr(nik), str(nik), f"{nik}", repr([nik])):
        assert "3201014505900001" not in text
        assert "0001" in text
    assert mask_digits("3201014505900001") == "************0001"


def test_kk_validation() -> None:
    assert parse_kk("3201 0101 0110 0001").kecamatan.code == "32.01.01"
    for raw, code in [("32010101011000", "kk_length"), ("9901010101100001", "kk_province"),
                      ("3201010101100000", "kk_serial"), ("abc", "kk_not_digits")]:
        with pytest.raises(KkError) as caught:
            parse_kk(raw)
        assert caught.value.code == code
        assert "NIK" not in caught.value.message("en")


# -- properties ---------------------------------------------------------------------------

valid_niks = st.builds(
    lambda kec, born, female, serial: (
        kec + f"{born.day + (40 if female else 0):02d}{born.month:02d}{born.year % 100:02d}"
        + f"{serial:04d}"),
    st.sampled_from(KECAMATAN_LIST),
    st.dates(min_value=dt.date(TODAY.year - 99, TODAY.month, 1), max_value=TODAY),
    st.booleans(),
    st.integers(1, 9999),
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_never_crashes_on_any_text(raw: str) -> None:
    try:
        parse_nik(raw, today=TODAY)
    except NikError as error:
        assert error.code in {"empty", "length", "not_digits", "province", "region",
                              "birth_date", "serial"}


sixteen_digits = st.one_of(
    st.text(alphabet="0123456789", min_size=16, max_size=16),
    # a real kecamatan prefix with arbitrary date and serial digits: most examples get past
    # the region checks, so the date and serial rules are exercised too
    st.builds(lambda kec, rest: kec + rest, st.sampled_from(KECAMATAN_LIST),
              st.text(alphabet="0123456789", min_size=10, max_size=10)),
)


@settings(max_examples=800, deadline=None)
@given(sixteen_digits)
def test_accepts_exactly_the_valid_space(digits: str) -> None:
    try:
        parse_nik(digits, today=TODAY)
        accepted = True
    except NikError:
        accepted = False
    assert accepted == oracle_valid(digits)


@settings(max_examples=300, deadline=None)
@given(valid_niks)
def test_generated_valid_niks_are_accepted(digits: str) -> None:
    assert oracle_valid(digits)
    assert parse_nik(digits, today=TODAY).digits == digits


@settings(max_examples=300, deadline=None)
@given(valid_niks, st.lists(st.sampled_from([" ", ".", "-", " - ", ". "]), min_size=15,
                            max_size=15), st.lists(st.booleans(), min_size=15, max_size=15))
def test_normalisation_round_trips(digits: str, separators: list[str], use: list[bool]) -> None:
    text = digits[0] + "".join((sep if flag else "") + d
                               for d, sep, flag in zip(digits[1:], separators, use, strict=True))
    assert normalize(text) == digits
    assert parse_nik(f"  {text}\t", today=TODAY) == parse_nik(digits, today=TODAY)
