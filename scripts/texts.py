"""Every text a recipient or officer reads about a record, in one file for native-speaker review.

    python scripts/texts.py                 # write docs/texts.md
    python scripts/texts.py --check         # exit 1 if docs/texts.md is not current

The bot's replies (``bots.dialogue``, and ``/statistik``'s in ``bots.statistics``) with their
buttons, the officer's result card (``tui.widgets.result_card``) and the ``blt-status lookup``
text answer are rendered from a small synthetic world at fixed moments (before, on, during and
after a slot; after the programme window), in Bahasa Indonesia and English, side by side.
Nothing here is real data. ``tests/test_present_review.py`` fails when a reply function or a
marked text of the bot is not rendered here.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from blt_status.errors import NikError  # noqa: E402
from blt_status.lookup import LookupResult  # noqa: E402
from blt_status.nik import parse_nik  # noqa: E402
from blt_status.present import lookup_text  # noqa: E402
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule  # noqa: E402
from blt_status.timezones import WIB  # noqa: E402
from bots import dialogue, statistics  # noqa: E402
from bots.console import render_reply  # noqa: E402
from bots.dialogue import Reply  # noqa: E402
from tui.widgets.result_card import render_result  # noqa: E402

OUT = ROOT / "docs" / "texts.md"
LANGS = ("id", "en")

PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025",
                  dt.date(2025, 12, 11))
POS = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12, Cibinong",
                  "kantor_pos")
BALAI = PayoutPoint("KOM-SUKAHATI", "Balai Desa Sukahati", "Jl. Sukahati No. 1, Cibinong",
                    "komunitas")
SLOT = Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos")
AS_OF = dt.datetime(2025, 11, 20, 6, 0, tzinfo=dt.UTC)
NIK = "3201014505900001"  # synthetic


def _record(status: str, **changes: object) -> RecordPayload:
    base = RecordPayload(view="officer", status=status, amount=600_000, program=PROGRAM,
                         schedule=SLOT, payout_point=POS, name="Siti Aminah",
                         kode_wilayah="32.01.01.1001",
                         address="Kp. Pabuaran RT 003/RW 005, Pakansari", household_size=4)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


RECORDS: dict[str, RecordPayload] = {
    "scheduled": _record("scheduled"),
    "komunitas": _record("scheduled", payout_point=BALAI,
                         schedule=dataclasses.replace(SLOT, mode="komunitas")),
    "antar": _record("scheduled", special_needs="lansia", schedule=Schedule(
        dt.date(2025, 11, 25), None, None, "antar", dt.date(2025, 11, 29))),
    "collected": _record("collected", collected_at=dt.datetime(2025, 11, 24, 1, 31,
                                                               tzinfo=dt.UTC),
                         collected_point_id="KP-CIBINONG"),
    # Collected where the record names no place: the answer says when, not where.
    "collected, place unknown": _record("collected", payout_point=None,
                                        collected_at=dt.datetime(2025, 11, 24, 1, 31,
                                                                 tzinfo=dt.UTC)),
    # Handed over at home (antar), brought by the serving post office.
    "collected at home": _record("collected", special_needs="lansia",
                                 schedule=Schedule(dt.date(2025, 11, 25), None, None, "antar",
                                                   dt.date(2025, 11, 29)),
                                 collected_at=dt.datetime(2025, 11, 25, 3, 10, tzinfo=dt.UTC)),
    # The same with no office named: when only.
    "collected at home, office unknown": _record(
        "collected", payout_point=None, special_needs="lansia",
        schedule=Schedule(dt.date(2025, 11, 25), None, None, "antar", dt.date(2025, 11, 29)),
        collected_at=dt.datetime(2025, 11, 25, 3, 10, tzinfo=dt.UTC)),
    "held": _record("held", status_note="nama tidak sesuai KTP"),
    "returned": _record("returned"),
}
STATES = ("komunitas", "antar", "collected", "collected, place unknown", "collected at home",
          "collected at home, office unknown", "held", "returned")
MOMENTS: dict[str, dt.datetime] = {
    "the day before": dt.datetime(2025, 11, 23, 10, 0, tzinfo=WIB),
    "the morning of the slot": dt.datetime(2025, 11, 24, 7, 0, tzinfo=WIB),
    "during the slot": dt.datetime(2025, 11, 24, 8, 30, tzinfo=WIB),
    "after the slot, window open": dt.datetime(2025, 11, 26, 10, 0, tzinfo=WIB),
    "after the programme window": dt.datetime(2025, 12, 15, 10, 0, tzinfo=WIB),
}


def _result(record: RecordPayload | None, view: str = "recipient", *, stale: bool = False,
            kdf_label: str = "argon2id") -> LookupResult:
    if record is not None and view == "recipient":
        record = record.for_recipient()
    return LookupResult(nik=parse_nik(NIK, today=dt.date(2025, 11, 20)), record=record,
                        view=view, data_version=3, data_as_of=AS_OF, expires=None,
                        stale=stale, kdf_label=kdf_label)


# /statistik: a kecamatan with exact figures; one with hidden small cells (ranges); a desa-sized
# region whose every cell is hidden.
FIGURES = {
    "exact": statistics.Figures("32.01.01", "Cibinong", (1_240, 1_240), (702, 702),
                                (421_200_000, 421_200_000), 3),
    "with hidden cells": statistics.Figures("32.01.02", "Gunung Putri", (1_240, 1_249),
                                            (700, 709), (420_000_000, math.inf), 3),
    "all cells hidden": statistics.Figures("32.01.03", "Citeureup", (0, 9), (0, 9),
                                           (0, math.inf), 3),
}


def _bot_texts(lang: str) -> Iterator[tuple[str, str]]:
    """(situation, text and buttons as the console shows them) of every bot reply."""
    for situation, reply in _bot_replies(lang):
        yield situation, render_reply(reply)


def _bot_replies(lang: str) -> Iterator[tuple[str, Reply]]:
    d = dialogue
    tz = WIB
    retry = dt.datetime(2025, 11, 23, 3, 2, tzinfo=dt.UTC)  # 10:02 WIB
    late = dt.datetime(2025, 11, 23, 16, 30, tzinfo=dt.UTC)  # 23:30 WIB: the cap ends tomorrow
    midnight = dt.datetime(2025, 11, 23, 17, 0, tzinfo=dt.UTC)  # 00:00 WIB the next day
    yield "/start", d.start_reply(lang)
    yield "/bantuan", d.help_reply(lang)
    yield "/bahasa", d.language_prompt_reply(lang)
    yield "/bahasa (chosen)", d.language_set_reply(lang)
    yield "text without a NIK", d.no_nik_reply(lang)
    yield "a link without a NIK (e.g. \"is this site real?\")", d.link_reply(lang)
    for code, count in (("length", 15), ("not_digits", 0), ("region", 0), ("birth_date", 0),
                        ("serial", 0)):
        error = NikError(code, subject="NIK", count=count)
        yield f"invalid NIK ({code})", d.invalid_nik_reply(error, lang, count)
    yield "two NIKs in one message", d.several_niks_reply(lang)
    yield "message too long", d.too_long_reply(lang)
    yield "sticker or voice", d.media_reply(lang)
    yield "photo or file", d.photo_reply(lang)
    yield "edited message", d.edited_reply(lang)
    yield "NIK in a group", d.group_reply(lang, "blt_pangan_bot")
    yield "NIK in a group (bot without a username)", d.group_reply(lang)
    yield "unknown command", d.unknown_command_reply(lang)
    yield "internal error", d.error_reply(lang)
    yield "rate limited", d.rate_limited_reply(retry, tz, lang)
    yield "rate limited until tomorrow (daily cap)", d.rate_limited_reply(midnight, tz, lang,
                                                                          late)
    yield "service busy", d.busy_reply(retry, tz, lang)
    yield "service busy until tomorrow", d.busy_reply(midnight, tz, lang, late)
    yield "data being updated", d.data_updating_reply(AS_OF, tz, lang)
    yield "data being updated (no valid data yet)", d.data_updating_reply(None, tz, lang)
    yield "not found", d.answer_reply(_result(None), tz, lang, MOMENTS["the day before"])
    for moment_name, moment in MOMENTS.items():
        yield (f"found, scheduled — {moment_name}",
               d.answer_reply(_result(RECORDS["scheduled"]), tz, lang, moment))
    day_before = MOMENTS["the day before"]
    for name in STATES:
        yield f"found, {name}", d.answer_reply(_result(RECORDS[name]), tz, lang,
                                               day_before)
    yield ("found, data past its validity, test data", d.answer_reply(
        _result(RECORDS["scheduled"], stale=True, kdf_label="argon2id-test-insecure"), tz, lang,
        day_before))
    masked = RECORDS["scheduled"].for_recipient()
    yield "/ingatkan before a lookup", d.remind_needs_lookup_reply(lang)
    yield "/ingatkan for a slot that has passed", d.remind_past_reply(lang)
    for status in sorted(d.FINAL_STATUSES):
        yield f"/ingatkan for aid already {status}", d.remind_final_reply(status, lang)
    yield "/ingatkan NIK not listed", d.remind_not_found_reply(lang)
    yield "reminders on", d.reminders_on_reply(masked.name, "0001", lang)
    yield "/berhenti (none on)", d.reminders_off_reply(0, lang)
    yield "/berhenti", d.reminders_off_reply(1, lang)
    yield "day-before reminder", d.reminder_reply(masked, "0001", tz, lang, day_before)
    yield "status changed", d.status_change_reply(
        RECORDS["collected"].for_recipient(), "scheduled", "0001", tz, lang, day_before)
    yield "subscription ended", d.subscription_gone_reply("0001", lang)
    yield "/statistik, choose a kabupaten", statistics.kabupaten_reply(
        [("32.01", "Kabupaten Bogor"), ("32.71", "Kota Bogor")], lang)
    for name, figures in FIGURES.items():
        yield f"/statistik, figures {name}", statistics.statistics_reply(figures, lang)
    yield "/statistik, no verified data yet", statistics.unavailable_reply(lang)
    yield "/statistik, figures cannot be fetched", statistics.unreachable_reply(lang)


def _officer_texts(lang: str, render: Callable[[LookupResult, str, dt.datetime], str],
                   ) -> Iterator[tuple[str, str]]:
    day_before = MOMENTS["the day before"]
    yield "not found", render(_result(None, "officer"), lang, day_before)
    for moment_name, moment in MOMENTS.items():
        yield (f"scheduled — {moment_name}",
               render(_result(RECORDS["scheduled"], "officer"), lang, moment))
    for name in STATES:
        yield name, render(_result(RECORDS[name], "officer"), lang, day_before)


def _card(result: LookupResult, lang: str, now: dt.datetime) -> str:
    return render_result(result, lang, now).plain.rstrip("\n")


def _section(title: str, pairs: dict[str, list[tuple[str, str]]]) -> list[str]:
    lines = [f"## {title}", ""]
    for index, (situation, _) in enumerate(pairs["id"]):
        lines += [f"### {situation}", ""]
        for lang in LANGS:
            text = pairs[lang][index][1]
            lines += [f"**{'Bahasa Indonesia' if lang == 'id' else 'English'}**", "",
                      "```text", text, "```", ""]
    return lines


def render_review() -> str:
    """The whole review file."""
    lines = [
        "# Texts for review",
        "",
        "Every reply of the recipients' bot (its buttons in brackets, as `blt-bot --console` "
        "shows them), the officer's result card and the `blt-status lookup` text answer, in "
        "Bahasa Indonesia and English, from a synthetic record at fixed moments. Generated "
        "by `python scripts/texts.py`; a test fails when this file is not current. "
        "Indonesian texts live in `blt_status/locale/id/LC_MESSAGES/*.po`.",
        "",
    ]
    lines += _section("Bot replies", {lang: list(_bot_texts(lang)) for lang in LANGS})
    lines += _section("Officer result card (TUI)",
                      {lang: list(_officer_texts(lang, _card)) for lang in LANGS})
    lines += _section("`blt-status lookup` text answer",
                      {lang: list(_officer_texts(lang, lookup_text)) for lang in LANGS})
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) docs/texts.md.")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/texts.md differs from what would be written")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render_review()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not current: run python scripts/texts.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
