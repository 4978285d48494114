"""Payer feedback the happy path does not send: rejected facts, two answers in one message,
bodies that break the schema with personal data in them, odd bodies and odd retry hints.

Real central store, the payer simulator and our receiver on 127.0.0.1 (see test_pos_exchange).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from central_world import write_world
from conftest import PEOPLE
from support.pos_payer import Instruction, ReceiverThread
from test_pos_exchange import FAST, World, run

from blt_status.central import CentralStore
from blt_status.central.ledger import Ledger
from blt_status.central.pos.journal import Journal
from blt_status.central.pos.models import canonical_json
from blt_status.central.publish import publish_files
from blt_status.cli import main


@pytest.fixture()
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    world = World(tmp_path, capsys)
    yield world
    world.payer.stop()


def _post(url: str, body: object, token: str, content_type: str = "application/json"
          ) -> httpx.Response:
    return httpx.post(url, content=canonical_json(body) if not isinstance(body, bytes) else body,
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": content_type}, timeout=30)


def _one(world: World) -> Instruction:
    return next(item for item in world.payer.all_instructions() if item.nik == PEOPLE[0].nik)


def _outcome(world: World, reference: str) -> str | None:
    journal = Journal.of(CentralStore.open(world.dir))
    try:
        return journal.delivered_fingerprints()[reference][1]
    finally:
        journal.close()


def test_a_rejected_fact_leaves_the_reference_open_for_the_corrected_report(
        world: World) -> None:
    """The ledger's rules refuse a payout at a point that does not exist; the payer corrects
    it under a new message id: the corrected payout must reach the ledger (before, the journal
    had taken the refused report as the final answer and the correction was a "duplicate")."""
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        world.push("--callback-url", url)
        item = _one(world)
        wrong = world.payer.response_for(item)
        wrong["instruction"] = json.dumps({"id_titik": "NO-SUCH-POINT"})
        answer = _post(url, world.payer.envelope(item.transaction_id, [wrong]),
                       world.payer.callback_token)
        assert answer.status_code == 200
        assert receiver.receiver.totals.recorded == 0
        assert len(receiver.receiver.totals.rejected) == 1
        assert world.state()[item.nik][0] == "scheduled"
        assert _outcome(world, item.reference_id) is None  # still open: pull asks again
        right = world.payer.response_for(item)
        answer = _post(url, world.payer.envelope(item.transaction_id, [right]),
                       world.payer.callback_token)
        assert answer.status_code == 200
        assert receiver.receiver.totals.recorded == 1
        assert world.state()[item.nik][0] == "collected"
        assert _outcome(world, item.reference_id) == "salur"


@pytest.mark.parametrize("order", ["attempt_first", "payout_first"])
def test_an_attempt_and_the_payout_in_one_message_record_the_payout(world: World,
                                                                    order: str) -> None:
    """One message: RJCT (a failed attempt at 08:15) and SUCC (paid at 09:15) for the same
    reference. The ledger keeps one fact per reference and message; it must be the payout
    (before, the first row won: the recipient stayed "held" although paid)."""
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        world.push("--callback-url", url)
        item = _one(world)
        failed = world.payer.response_for(item, "RJCT", "RJCT_PAYEE_NAME_MISMATCH")
        paid = world.payer.response_for(item, "SUCC")
        paid["timestamp"] = (item.scheduled + dt.timedelta(minutes=75)).isoformat()
        responses = [failed, paid] if order == "attempt_first" else [paid, failed]
        body = world.payer.envelope(item.transaction_id, responses)
        assert _post(url, body, world.payer.callback_token).status_code == 200
        assert world.state()[item.nik][0] == "collected"
        assert _outcome(world, item.reference_id) == "salur"
        events = [event for event in Ledger(CentralStore.open(world.dir)).events()
                  if event.row_ref == item.reference_id]
        assert [event.status for event in events] == ["salur"]
        # The same message again changes nothing.
        assert _post(url, body, world.payer.callback_token).status_code == 200
        assert len([event for event in Ledger(CentralStore.open(world.dir)).events()
                    if event.row_ref == item.reference_id]) == 1


def test_schema_refusals_never_echo_personal_data(world: World) -> None:
    """A payer that puts a NIK or a name where it does not belong gets a 400 naming the field
    and the rule, never the value (the library's message quoted it)."""
    person = PEOPLE[0]
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        world.push("--callback-url", url)
        item = _one(world)
        good = world.payer.response_for(item)
        cases = [dict(good, reference_id=f"{person.nik}@dukcapil"),
                 dict(good, status=person.nik),
                 dict(good, amount=person.nik),
                 dict(good, payee_fa=f"{person.nik}@dukcapil" + "x" * 300),
                 dict(good, payee_name=person.name * 20),
                 dict(good, locale=person.name)]
        for response in cases:
            answer = _post(url, world.payer.envelope(item.transaction_id, [response]),
                           world.payer.callback_token)
            assert answer.status_code == 400
            error = answer.json()["error"]
            assert error["code"] == "ERR_INVALID_MESSAGE"
            assert error["message"].startswith("message/disburse_response/0/")
            assert person.nik not in answer.text and person.name not in answer.text
        body = world.payer.envelope(item.transaction_id, [good])
        body["header"]["message_id"] = f"{person.nik} {person.name}"
        answer = _post(url, body, world.payer.callback_token)
        assert answer.status_code == 400 and person.nik not in answer.text
        assert world.state()[item.nik][0] == "scheduled"


def test_deep_bodies_and_wrong_content_types_get_documented_refusals(world: World) -> None:
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        world.push("--callback-url", url)
        token = world.payer.callback_token
        answer = _post(url, b"[" * 100_000, token)
        assert answer.status_code == 400  # not a 500 and a traceback
        assert answer.json()["error"]["code"] == "ERR_INVALID_REQUEST"
        item = _one(world)
        body = world.payer.envelope(item.transaction_id, [world.payer.response_for(item)])
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            answer = _post(url, body, token, content_type)
            assert answer.status_code == 415
            assert answer.json()["error"]["code"] == "ERR_INVALID_REQUEST"
        assert world.state()[item.nik][0] == "scheduled"
        answer = _post(url, body, token, "application/json; charset=utf-8")
        assert answer.status_code == 200
        assert world.state()[item.nik][0] == "collected"


def test_a_retry_after_that_is_not_a_number_or_date_is_retried(world: World) -> None:
    world.payer.disburse_faults = ["503_retry_after_garbage"]
    code, report, err = world.push()
    assert code == 0, err
    assert report["complete"] and report["sent"] == len(list(world.payer.all_instructions()))
    assert world.payer.disburse_calls == report["messages_sent"] + 1


def test_a_payout_to_a_recipient_removed_after_the_push_is_recorded(world: World,
                                                                   tmp_path: Path) -> None:
    """The payer got the instruction in version 1 and paid; version 2 no longer lists the
    recipient (the spec has no cancel). The fact must reach the ledger, flagged like a CSV
    report's, not be acknowledged and dropped as an unknown reference."""
    world.push()
    leaver = PEOPLE[-1]
    item = next(item for item in world.payer.all_instructions() if item.nik == leaver.nik)
    files = write_world(tmp_path / "inputs2", people=PEOPLE[:-1])
    published = publish_files(CentralStore.open(world.dir), files.recipients,
                              files.payout_points, files.program, workers=1, allow_shrink=True)
    assert published.version == 2
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        body = world.payer.envelope(item.transaction_id, [world.payer.response_for(item)])
        assert _post(url, body, world.payer.callback_token).status_code == 200
        totals = receiver.receiver.totals
        assert (totals.unknown_references, totals.recorded) == (0, 1)
        # The same message again: a duplicate, still not "unknown".
        assert _post(url, body, world.payer.callback_token).status_code == 200
        assert (totals.unknown_references, totals.recorded) == (0, 1)
    events = [event for event in Ledger(CentralStore.open(world.dir)).events()
              if event.row_ref == item.reference_id]
    assert [event.status for event in events] == ["salur"]
    flags = {flag.code for flag in Ledger(CentralStore.open(world.dir)).flags()}
    assert "removed_recipient" in flags
    assert _outcome(world, item.reference_id) == "salur"


def test_the_bearer_scheme_is_case_insensitive(world: World) -> None:
    """RFC 9110 11.1: ``bearer`` is ``Bearer``; a payer's HTTP library that writes it in lower
    case was refused with 401 (and its payouts never arrived). A wrong token still is."""
    with ReceiverThread(world.dir) as receiver:
        url = f"{receiver.url}/on-disburse"
        world.push("--callback-url", url)
        item = _one(world)
        body = canonical_json(world.payer.envelope(item.transaction_id,
                                                   [world.payer.response_for(item)]))
        for authorization, status in ((f"bearer {world.payer.callback_token}x", 401),
                                      (f"Basic {world.payer.callback_token}", 401),
                                      (f"bearer {world.payer.callback_token}", 200),
                                      (f"BEARER  {world.payer.callback_token}", 200)):
            answer = httpx.post(url, content=body, headers={
                "Authorization": authorization, "Content-Type": "application/json"})
            assert answer.status_code == status, authorization
        assert world.state()[item.nik][0] == "collected"


def test_pull_refuses_an_answer_nested_too_deeply(world: World) -> None:
    """A polling answer of 100,000 nested brackets raised RecursionError out of ``pos pull``
    (``error [internal]``, nothing asked after it); it is refused like any non-JSON answer."""
    world.push()
    world.payer.poll_faults = ["deep"]
    code, out, err = run(world.capsys, "central", "pos", "pull", world.dir, "--endpoint",
                         world.payer.url, "--json", *FAST)
    assert code == 0, err
    data = json.loads(out)
    assert list(data["refused"].values()) == ["ERR_INVALID_REQUEST"]
    assert data["asked"] == data["transactions"] == 2 and data["recorded"] > 0


def test_a_callback_and_a_poll_at_once_record_each_payout_once(world: World) -> None:
    """``pos listen`` and ``pos pull`` (two processes: here two processors on two store
    handles, racing from a barrier) get the same payouts under different message ids. Each
    read "not answered yet" and appended: the ledger held the payout twice."""
    import threading

    from blt_status.central.pos.feedback import FeedbackProcessor
    from blt_status.central.pos.models import parse_callback

    world.push()
    items = list(world.payer.all_instructions())
    for round_ in range(3):
        processors = [FeedbackProcessor(CentralStore.open(world.dir)) for _ in range(2)]
        for processor in processors:
            processor.warm()
        for transaction in sorted(world.payer.instructions):
            book = list(world.payer.instructions[transaction].values())
            status = ("RJCT", "RJCT_PAYEE_NAME_MISMATCH") if round_ == 0 else ("SUCC", None)
            callbacks = [parse_callback(world.payer.envelope(
                transaction, [world.payer.response_for(item, *status) for item in book]),
                action="on-disburse", items_key="disburse_response") for _ in processors]
            barrier = threading.Barrier(len(processors))

            def run(processor: FeedbackProcessor, callback, barrier: threading.Barrier) -> None:
                barrier.wait()
                processor.process(callback)

            threads = [threading.Thread(target=run, args=(*pair, barrier))
                       for pair in zip(processors, callbacks, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    events = list(Ledger(CentralStore.open(world.dir)).events())
    for item in items:
        mine = sorted(event.status for event in events if event.row_ref == item.reference_id)
        assert mine == ["gagal", "salur"], mine  # one attempt, one payout: each once


@pytest.mark.parametrize(("lang", "line"), [
    ("en", "  rejected by the payout checks: 1 (unknown_point 1)"),
    ("id", "  ditolak oleh pemeriksaan penyaluran: 1 (unknown_point 1)"),
])
def test_pull_says_what_the_checks_rejected(world: World, lang: str, line: str) -> None:
    """A poll answer whose payout the ledger's checks refuse (a point that does not exist)
    was simply missing from ``pos pull``'s lines: the operator saw N recorded and a reference
    still open, with no reason. Now the rejections are counted by code."""
    world.push()
    item = _one(world)
    item.instruction["id_titik"] = "NO-SUCH-POINT"
    code = main(["--lang", lang, "central", "pos", "pull", str(world.dir), "--endpoint",
                 world.payer.url, *FAST])
    out, err = world.capsys.readouterr()
    assert code == 0, err
    assert line in out.splitlines(), out
    assert _outcome(world, item.reference_id) is None
