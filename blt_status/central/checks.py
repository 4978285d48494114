"""The payout rules against the database: what :func:`check_feedback` needs, read from the ledger.

:func:`check_events` is what ``ingest_events`` calls for every source (CSV reports and API
feedback): it reads, for the people of a batch only, their roster entries of this epoch (the
current one, or the last one for someone removed since), their status and latest event from the
ledger, and the payouts already recorded at the batch's points around the batch's days (for
``over_capacity`` and ``burst``); then it applies
:func:`blt_status.central.payouts.check_feedback` and returns the accepted events, the
rejections and the flags per accepted event, ready for :meth:`Ledger.append`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from blt_status.central.db import open_engine, payout_events, roster, subject_of, versions
from blt_status.central.inputs import load_payout_points, load_program
from blt_status.central.ledger import (
    Flag,
    PayoutEvent,
    StoredEvent,
    events_in,
    fold_status,
    member_chunks,
    with_outcome,
)
from blt_status.central.payouts import (
    Entitlement,
    check_feedback,
    entitlement_of,
    load_check_settings,
)
from blt_status.central.roster import unseal_row
from blt_status.nik import mask_digits

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

__all__ = ["check_events"]


def _aware(utc_naive: dt.datetime, offset_seconds: int) -> dt.datetime:
    zone = dt.timezone(dt.timedelta(seconds=offset_seconds))
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(zone)


def _line(event: PayoutEvent, index: int) -> int:
    return int(event.row_ref) if event.row_ref.isdigit() else index + 1


def check_events(store: CentralStore, events: Sequence[PayoutEvent], *, version: int,
                 epoch_id: str, inputs: Mapping[str, str],
                 received_at: dt.datetime | None = None,
                 recorded: Sequence[PayoutEvent] = (),
                 ) -> tuple[list[PayoutEvent], list[dict[str, Any]], dict[int, list[Flag]]]:
    """``(accepted events, rejections as report dicts, flags by index into accepted)``.

    ``recorded`` are the rows of the same report that the ledger already holds (the report
    ingested before): a report row naming the same person as one of them is a ``duplicate``,
    as it was when both were first judged together.
    """
    if not events:
        return [], [], {}
    program_toml = store.input_path(inputs["program"])
    program = load_program(program_toml)
    points = load_payout_points(store.input_path(inputs["payout_points"]))
    settings = load_check_settings(Path(program_toml))
    by_subject = {subject_of(store, event.nik_digits): event.nik_digits for event in events}
    subjects = sorted(by_subject)
    entitlements: dict[str, Entitlement] = {}
    past: list[tuple[str, dt.datetime]] = []
    with open_engine(store).connect() as connection:
        epoch_versions = sa.select(versions.c.version).where(versions.c.epoch_id == epoch_id)
        # One read of the batch's people's events serves both their status and their latest
        # event time.
        grouped: dict[str, list[StoredEvent]] = {}
        for stored in events_in(connection, epoch_id=epoch_id, subjects=subjects):
            grouped.setdefault(stored.subject, []).append(stored)
        outcomes = {subject: fold_status(items) for subject, items in grouped.items()}
        last_event = {subject: max(item.occurred_at for item in items)
                      for subject, items in grouped.items()}
        for among in member_chunks(connection, roster.c.subject, subjects):
            query = (sa.select(roster).where(among, roster.c.valid_from.in_(epoch_versions))
                     .order_by(roster.c.valid_from))
            # Per person the entry of this version wins, else their last one of the epoch
            # (removed since): only that one row is unsealed.
            chosen: dict[str, tuple[Any, bool]] = {}
            for row in connection.execute(query):
                current = row.valid_from <= version and (row.valid_to is None
                                                         or row.valid_to > version)
                known = chosen.get(row.subject)
                if known is not None and known[1] and not current:
                    continue  # the current entry wins over an older, closed one
                chosen[row.subject] = (row, current)
            for subject, (row, current) in chosen.items():
                opened = unseal_row(store, row)
                payload = opened.payload
                if subject in outcomes:
                    payload = with_outcome(payload, outcomes[subject])
                entitlements[opened.nik_digits] = entitlement_of(
                    payload, kecamatan=row.kecamatan, current=current)
        for subject, moment in last_event.items():
            nik = by_subject[subject]
            if nik in entitlements:
                entitlements[nik] = _with_last(entitlements[nik], moment)
        point_ids = sorted({event.point_id for event in events})
        times = [event.occurred_at.astimezone(dt.UTC).replace(tzinfo=None) for event in events]
        window = (min(times) - dt.timedelta(days=1), max(times) + dt.timedelta(days=1))
        query = sa.select(payout_events.c.point_id, payout_events.c.occurred_at,
                          payout_events.c.occurred_offset).where(
            payout_events.c.epoch_id == epoch_id, payout_events.c.status == "salur",
            payout_events.c.point_id.in_(point_ids),
            payout_events.c.occurred_at.between(*window))
        past = [(row.point_id, _aware(row.occurred_at, int(row.occurred_offset)))
                for row in connection.execute(query)]
    verdicts = check_feedback(events, program=program, points=points, roster=entitlements,
                              past_payouts=past, received_at=received_at, settings=settings,
                              recorded=recorded)
    accepted: list[PayoutEvent] = []
    rejected: list[dict[str, Any]] = []
    found: dict[int, list[Flag]] = {}
    for verdict in verdicts:
        event = events[verdict.index]
        if verdict.rejection is not None:
            code, reason = verdict.rejection
            rejected.append({"line": _line(event, verdict.index),
                             "nik_masked": mask_digits(event.nik_digits), "code": code,
                             "reason": reason})
            continue
        if verdict.flags:
            found[len(accepted)] = [Flag(flag.code, flag.severity, flag.detail)
                                    for flag in verdict.flags]
        accepted.append(event)
    return accepted, rejected, found


def _with_last(entitlement: Entitlement, moment: dt.datetime) -> Entitlement:
    from dataclasses import replace

    latest = entitlement.last_event_at
    return replace(entitlement, last_event_at=moment if latest is None or moment > latest
                   else latest)
