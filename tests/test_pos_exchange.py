"""Push, callbacks and polling against the payer simulator, with every fault the issue names.

Each test builds a real central store (test KDF), publishes the conftest people, configures the
exchange with the simulator's key and tokens, and talks HTTP on 127.0.0.1: the simulator in a
thread, our receiver (the ``pos listen`` app) in another.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from central_world import write_world
from conftest import PEOPLE
from support.pos_payer import PosPayer, ReceiverThread

from blt_status.central import CentralStore
from blt_status.central.ledger import Ledger
from blt_status.central.pos.journal import Journal
from blt_status.cli import main

FAST = ["--attempts", "3", "--max-wait", "0.05", "--timeout", "5"]


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["--lang", "en", *[str(arg) for arg in args]])
    out, err = capsys.readouterr()
    return code, out, err


class World:
    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.dir = tmp_path / "central"
        files = write_world(tmp_path / "inputs")
        assert run(capsys, "central", "init", self.dir, "--kdf", "test")[0] == 0
        code, _, err = run(capsys, "central", "publish", self.dir, "--recipients",
                           files.recipients, "--payout-points", files.payout_points,
                           "--program", files.program, "--workers", "1")
        assert code == 0, err
        code, pem, _ = run(capsys, "central", "pos", "public-key", self.dir)
        assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
        self.payer = PosPayer(pem).start()
        key = tmp_path / "payer.pem"
        key.write_text(self.payer.public_pem)
        (tmp_path / "token").write_text(self.payer.token + "\n")
        (tmp_path / "cbtoken").write_text(self.payer.callback_token + "\n")
        code, out, err = run(capsys, "central", "pos", "configure", self.dir, "--payer-id",
                             self.payer.payer_id, "--payer-key", key, "--token-file",
                             tmp_path / "token", "--callback-token-file", tmp_path / "cbtoken",
                             "--batch-size", "2", "--json")
        assert code == 0, err
        assert self.payer.token not in out and self.payer.callback_token not in out

    def push(self, *extra: object) -> tuple[int, dict, str]:
        code, out, err = run(self.capsys, "central", "pos", "push", self.dir, "--endpoint",
                             self.payer.url, "--json", *FAST, *extra)
        return code, json.loads(out), err

    def state(self) -> dict[str, tuple[str, str | None, str | None]]:
        records = CentralStore.open(self.dir).load_state().records
        return {nik: (record.payload.status,
                      record.payload.collected_at.isoformat()
                      if record.payload.collected_at else None,
                      record.payload.collected_point_id) for nik, record in records.items()}

    def version(self) -> int:
        return CentralStore.open(self.dir).published_version()


@pytest.fixture()
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    world = World(tmp_path, capsys)
    yield world
    world.payer.stop()


def test_push_sends_signed_batches_once_and_repush_is_a_noop(world: World) -> None:
    code, report, err = world.push("--callback-url", "http://127.0.0.1:9/on-disburse")
    assert code == 0, err
    instructions = list(world.payer.all_instructions())
    assert report["sent"] == len(instructions) > 0
    assert report["messages_sent"] == len(world.payer.messages)
    assert report["transactions"] == len(world.payer.instructions) == 2  # two payout points
    assert all(count == 1 for count in world.payer.messages.values())
    assert not world.payer.refused
    nik_of = {item.nik for item in instructions}
    assert nik_of <= {person.nik for person in PEOPLE}
    for item in instructions:
        assert item.amount.endswith(".00")
        assert item.scheduled.utcoffset().total_seconds() == 7 * 3600  # WIB (Jawa Barat)
        assert set(item.instruction) == {"id_titik", "tanggal", "mulai", "selesai", "mode"}
        assert item.reference_id.startswith("R") and item.nik not in item.reference_id
    assert world.payer.callback_uri == "http://127.0.0.1:9/on-disburse"
    calls = world.payer.disburse_calls
    code, again, _ = world.push()
    assert code == 0 and again["sent"] == 0 and again["messages_sent"] == 0
    assert again["messages_already_delivered"] == report["messages_sent"]
    assert world.payer.disburse_calls == calls
    # Nothing personal in the journal or the config.
    for path in (world.dir / "private" / "pos").iterdir():
        data = path.read_bytes()
        for person in PEOPLE:
            assert person.nik.encode() not in data and person.name.encode() not in data


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_retries_on_5xx_429_and_timeouts(world: World, fault: str) -> None:
    world.payer.disburse_faults = [fault, fault]
    world.payer.timeout_seconds = 1.5
    started = time.monotonic()
    extra = ["--timeout", "0.5"] if fault == "timeout" else []
    if fault == "429":
        extra = ["--max-wait", "3"]
    code, report, err = world.push(*extra)
    assert code == 0, err
    assert report["complete"] and report["sent"] == len(list(world.payer.all_instructions()))
    assert world.payer.disburse_calls == report["messages_sent"] + 2
    if fault == "429":
        assert time.monotonic() - started >= 2.0  # Retry-After: 1, twice, honoured


def test_unreachable_payer_then_a_later_push_completes(world: World) -> None:
    world.payer.disburse_faults = ["500"] * 3  # the first message fails every attempt
    code, report, err = world.push()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error [pos_unreachable]: ")
    assert report["error"]["code"] == "pos_unreachable"
    assert report["not_delivered"] > 0 and not report["complete"]
    planned = report["messages_planned"]
    assert report["messages_sent"] == 0
    code, report2, err = world.push()
    assert code == 0, err
    assert report2["messages_sent"] == planned and report2["complete"]
    # Stopped part-way: a message delivered, then the payer goes down.
    code, _, _ = world.push()
    assert code == 0
    assert sum(world.payer.messages.values()) == planned  # each message accepted once


def test_interrupted_push_resumes_with_the_same_message_ids(world: World) -> None:
    # The payer accepts the first message, then answers 500 to everything.
    world.payer.disburse_faults = []
    original = world.payer.accept
    calls = {"n": 0}

    def flaky(body, authorization):
        calls["n"] += 1
        if calls["n"] > 1:
            world.payer.down = True
        return original(body, authorization)

    world.payer.accept = flaky  # type: ignore[method-assign]
    code, report, _ = world.push()
    assert code == 1 and report["messages_sent"] == 2
    delivered_first = set(world.payer.messages)
    world.payer.down = False
    world.payer.accept = original  # type: ignore[method-assign]
    code, report2, _ = world.push()
    assert code == 0
    assert delivered_first < set(world.payer.messages)
    assert all(count == 1 for count in world.payer.messages.values())
    assert report["messages_sent"] + report2["messages_sent"] == report2["messages_planned"]


def _listen(world: World, **settings):
    return ReceiverThread(world.dir, **settings)


def test_callbacks_record_outcomes_and_replays_change_nothing(world: World) -> None:
    collected_before = {nik for nik, s in world.state().items() if s[0] == "collected"}
    world.payer.outcomes = {PEOPLE[3].nik: ("RJCT", "RJCT_PAYEE_NAME_MISMATCH"),
                            PEOPLE[4].nik: ("RJCT", "RTRN_NOT_COLLECTED")}
    with _listen(world) as receiver:
        world.push("--callback-url", f"{receiver.url}/on-disburse")
        answers = world.payer.send_callbacks()
        assert [a.status_code for a in answers] == [200] * len(answers)
        assert all(a.json()["message"]["ack"]["status"] == "ACK" for a in answers)
        state = world.state()
        version = world.version()
        for item in world.payer.all_instructions():
            status, when, point = state[item.nik]
            if item.nik == PEOPLE[3].nik:
                assert status == "held"
            elif item.nik == PEOPLE[4].nik:
                assert status == "returned"
            else:
                assert status == "collected" and point == item.instruction["id_titik"]
                assert when is not None
        # Replays: the same messages again, and duplicate + out-of-order deliveries.
        for mode in ("duplicate", "out_of_order", "normal"):
            answers = world.payer.send_callbacks(mode=mode)
            assert all(a.status_code == 200 for a in answers)
        assert world.state() == state and world.version() == version
        totals = receiver.receiver.totals
        instructions = list(world.payer.all_instructions())
        assert totals.recorded == len(instructions)
        events = list(Ledger(CentralStore.open(world.dir)).events())
        assert len(events) == len(instructions)  # each fact once, whatever was replayed
        assert {event.source for event in events} == {"api"}
        assert {event.row_ref for event in events} == {i.reference_id for i in instructions}
    assert collected_before <= {nik for nik, s in state.items() if s[0] == "collected"}


@pytest.mark.parametrize(("mode", "status", "code"), [
    ("bad_signature", 403, "ERR_INVALID_SIGNATURE"),
    ("tampered", 403, "ERR_INVALID_SIGNATURE"),
    ("bad_token", 401, "ERR_ACCESS_DENIED"),
    ("oversize", 413, "ERR_INVALID_REQUEST"),
])
def test_refused_callbacks_change_nothing(world: World, mode: str, status: int,
                                          code: str) -> None:
    world.payer.outcomes = {PEOPLE[0].nik: ("RJCT", "RJCT_PAYEE_NAME_MISMATCH")}
    with _listen(world) as receiver:
        world.push("--callback-url", f"{receiver.url}/on-disburse")
        before, version = world.state(), world.version()
        answers = world.payer.send_callbacks(mode=mode)
        assert {a.status_code for a in answers} == {status}
        assert {a.json()["error"]["code"] for a in answers} == {code}
        assert world.state() == before and world.version() == version
        journal = Journal.of(CentralStore.open(world.dir))
        assert journal.outcome_counts() == {"open": len(list(world.payer.all_instructions()))}
        journal.close()
        # The genuine message still goes through afterwards.
        answers = world.payer.send_callbacks()
        assert {a.status_code for a in answers} == {200}
        assert world.state() != before


def test_unknown_references_are_counted_not_applied(world: World) -> None:
    with _listen(world) as receiver:
        world.push("--callback-url", f"{receiver.url}/on-disburse")
        answers = world.payer.send_callbacks(mode="unknown_reference")
        assert {a.status_code for a in answers} == {200}
        totals = receiver.receiver.totals
        assert totals.unknown_references == len(answers)
        assert totals.recorded == len(list(world.payer.all_instructions()))


def test_receiver_refuses_malformed_bodies_and_limits_rate(world: World) -> None:
    with _listen(world, rate=5, burst=5) as receiver:
        url = f"{receiver.url}/on-disburse"
        auth = {"Authorization": f"Bearer {world.payer.callback_token}"}
        with httpx.Client() as client:
            answer = client.post(url, content=b"{not json", headers=auth)
            assert answer.status_code == 400
            assert answer.json()["error"]["code"] == "ERR_INVALID_REQUEST"
            answer = client.post(url, json={"header": {}, "message": {}}, headers=auth)
            assert answer.status_code == 400
            assert answer.json()["message"]["ack"]["status"] == "NACK"
            assert client.post(url, json={}).status_code == 401
            assert client.get(f"{receiver.url}/nothing").status_code == 404
            statuses = [client.post(url, json={}, headers=auth).status_code for _ in range(10)]
        assert 429 in statuses
        assert world.version() == 1


def test_pull_records_the_same_outcomes_and_repeats_nothing(world: World, capsys) -> None:
    world.payer.outcomes = {PEOPLE[3].nik: ("PDNG", None)}
    world.push()
    world.payer.poll_faults = ["429", "500"]
    code, out, err = run(capsys, "central", "pos", "pull", world.dir, "--endpoint",
                         world.payer.url, "--json", *FAST)
    assert code == 0, err
    first = json.loads(out)
    assert first["transactions"] == 2 and first["pending"] == 1
    assert first["open_after"] == 1
    state = world.state()
    assert state[PEOPLE[3].nik][0] == "scheduled"
    world.payer.outcomes = {}
    code, out, _ = run(capsys, "central", "pos", "pull", world.dir, "--endpoint",
                       world.payer.url, "--json", *FAST)
    second = json.loads(out)
    assert second["transactions"] == 1 and second["recorded"] == 1 and second["open_after"] == 0
    assert second["duplicates"] >= 1  # the others in that transaction: already known
    assert world.state()[PEOPLE[3].nik][0] == "collected"
    code, out, _ = run(capsys, "central", "pos", "pull", world.dir, "--endpoint",
                       world.payer.url, "--json", *FAST)
    assert json.loads(out)["transactions"] == 0


def test_pull_refuses_a_badly_signed_answer(world: World, capsys) -> None:
    world.push()
    world.payer.poll_faults = ["bad_signature"]
    code, out, _ = run(capsys, "central", "pos", "pull", world.dir, "--endpoint",
                       world.payer.url, "--json", *FAST)
    data = json.loads(out)
    assert code == 0 and "ERR_INVALID_SIGNATURE" in data["refused"].values()
    assert data["recorded"] < len(list(world.payer.all_instructions()))
