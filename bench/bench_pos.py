"""Kantor Pos exchange: push time and peak memory for 100k instructions; callback ingest rate.

    python bench/bench_pos.py [--records 100000] [--events 20000] [--ingest-records 25000]
        [--pg-url URL] [--rounds N] [--baseline CHECKOUT] [--no-push]

1. A demo world of ``--records`` recipients is published (test KDF, all cores; setup, not
   measured), the exchange is configured, and the payer simulator (tests/support/pos_payer.py)
   runs in its own process on 127.0.0.1.
2. ``blt-status central pos push`` runs as a child process: wall time, instructions/s and its
   peak RSS (``VmHWM``), then a second push of the same version (a no-op) for comparison.
3. Callback ingest: ``--events`` signed DisburseResponses (messages of 1,000) are POSTed to a
   ``pos listen`` child process, once on a SQLite store and once on PostgreSQL (a fresh
   database on ``--pg-url``, given to the store as ``BLT_CENTRAL_DB``), and the rate is
   events/s from the first request to the last Ack.
4. ``--baseline CHECKOUT`` (a checkout of another revision, e.g. ``git worktree add --detach
   /tmp/base main``) compares in the same run: each ingest round runs this code and the
   baseline's (``PYTHONPATH=CHECKOUT`` for the ``pos listen`` child) alternately, each on a
   fresh copy of the same published store (SQLite: the directory; PostgreSQL: ``CREATE
   DATABASE ... TEMPLATE``), and the ratio is reported. ``--rounds`` repeats the rounds (the
   machine may be shared: alternate runs see the same load).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the payer simulator lives in tests/support

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import (  # noqa: E402
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from blt_status.central import CentralStore, publish_records  # noqa: E402
from blt_status.central.demodata import write_demo_world  # noqa: E402
from blt_status.central.plan import compute_aggregates, plan_publication  # noqa: E402
from blt_status.central.pos.bridge import published_roster  # noqa: E402
from blt_status.central.pos.mapping import reference_id, reference_key  # noqa: E402
from blt_status.central.pos.models import canonical_json  # noqa: E402
from blt_status.central.pos.signing import public_pem, sign, signing_key  # noqa: E402
from blt_status.crypto import TEST_INDEX_KDF  # noqa: E402

PAYER_ID = "KANTORPOS-BENCH"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_payer(central_pem: str, key_pem: bytes, queue: Any) -> None:
    from support.pos_payer import PosPayer

    key = load_pem_private_key(key_pem, None)
    assert isinstance(key, Ed25519PrivateKey)
    payer = PosPayer(central_pem, payer_id=PAYER_ID, key=key).start()
    queue.put(payer.url)
    while True:
        time.sleep(3600)


_LAUNCH = (
    "import sys\n"
    "from blt_status.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')]\n"
    "print('PEAK ' + hwm[0].split()[1], file=sys.stderr)\n"
    "sys.exit(code)\n")


def _cli_rss(*args: object, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``blt-status``; return (seconds, peak RSS in MiB, stdout).

    The peak is the child's own ``VmHWM`` (per address space, reset at exec), not
    ``ru_maxrss``, which Linux carries over from the forking parent.
    """
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _LAUNCH, *map(str, args)],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"blt-status {args[:3]} failed: {result.stderr[-800:]}")
    peak = [line for line in result.stderr.splitlines() if line.startswith("PEAK ")]
    return seconds, int(peak[-1].split()[1]) / 1024, result.stdout


def _publish(directory: Path, inputs: Path, records: int, env_db: str | None) -> CentralStore:
    if env_db:
        os.environ["BLT_CENTRAL_DB"] = env_db
    else:
        os.environ.pop("BLT_CENTRAL_DB", None)
    # The demo world rejects about a third of its rows (ineligible, inactive...): write more
    # rows and publish exactly ``records`` eligible recipients.
    files = write_demo_world(inputs, recipients=records * 3 // 2 + 100, seed=11)
    plan = plan_publication(files.recipients_csv, files.payout_points_csv, files.program_toml)
    program = plan.program.program
    store = CentralStore.init(directory, kdf=TEST_INDEX_KDF)
    chosen = plan.recipients[:records]
    assert len(chosen) == records, f"only {len(chosen)} eligible recipients"
    publish_records(store, {r.nik_digits: (r.shard, r.payload) for r in chosen},
                    program=program, aggregate=lambda items: compute_aggregates(items, program),
                    inputs={"program": store.save_input(files.program_toml, ".toml"),
                            "payout_points": store.save_input(files.payout_points_csv, ".csv")})
    return store


def _configure(base: Path, store: CentralStore, payer_key: Ed25519PrivateKey) -> None:
    (base / "payer.pem").write_text(public_pem(payer_key))
    (base / "token").write_text("payer-token-123\n")
    (base / "cbtoken").write_text("callback-token-456\n")
    _cli_rss("central", "pos", "configure", store.directory, "--payer-id", PAYER_ID,
             "--payer-key", base / "payer.pem", "--token-file", base / "token",
             "--callback-token-file", base / "cbtoken")


def _callbacks(store: CentralStore, payer_key: Ed25519PrivateKey, events: int
               ) -> list[bytes]:
    info, items = published_roster(store)
    key = reference_key(store.master_pepper)
    responses: list[dict[str, Any]] = []
    for item in items:
        if len(responses) >= events:
            break
        point = item.payload.payout_point
        if point is None or item.payload.schedule.start is None:
            continue
        moment = dt.datetime.combine(item.payload.schedule.date, item.payload.schedule.start,
                                     tzinfo=dt.timezone(dt.timedelta(hours=7)))
        responses.append({
            "reference_id": reference_id(key, info.epoch_id, item.nik_digits),
            "timestamp": (moment + dt.timedelta(minutes=10)).isoformat(), "status": "SUCC",
            "instruction": json.dumps({"id_titik": point.id}, separators=(",", ":")),
            "amount": f"{item.payload.amount}.00"})
    bodies = []
    for start in range(0, len(responses), 1000):
        chunk = responses[start:start + 1000]
        header = {"version": "1.0.0", "message_id": f"bench-{start:08d}",
                  "message_ts": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                  "action": "on-disburse", "status": "SUCC", "sender_id": PAYER_ID,
                  "receiver_id": "blt-status-central", "total_count": len(chunk)}
        message = {"transaction_id": "bench", "disburse_response": chunk}
        body = {"signature": sign(header, message, payer_key, sender_id=PAYER_ID, ttl=3600),
                "header": header, "message": message}
        bodies.append(canonical_json(body))
    return bodies


def _ingest_rate(directory: Path, bodies: list[bytes], env: dict[str, str],
                 code: Path = ROOT) -> tuple[int, float]:
    """events/s through a ``pos listen`` child running the ``blt_status`` of ``code``."""
    port = _free_port()
    listener = subprocess.Popen(
        [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen",
         str(directory), "--port", str(port), "--rate", "1000"],
        env={**env, "PYTHONPATH": str(code)}, cwd=code, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or listener.poll() is not None:
                    raise SystemExit("pos listen did not start") from None
                time.sleep(0.05)
        headers = {"Authorization": "Bearer callback-token-456",
                   "Content-Type": "application/json"}
        sent = sum(len(json.loads(body)["message"]["disburse_response"]) for body in bodies)
        with httpx.Client(timeout=600) as client:
            started = time.perf_counter()
            for body in bodies:
                answer = client.post(f"http://127.0.0.1:{port}/on-disburse", content=body,
                                     headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"callback refused: {answer.status_code} {answer.text}")
            seconds = time.perf_counter() - started
    finally:
        listener.terminate()
        listener.wait(timeout=60)
    return sent, sent / seconds


def _pg_database(url: str, suffix: str = "", template: str | None = None) -> str:
    """A fresh database on the server of ``url`` (a copy of ``template`` if given)."""
    import psycopg

    name = f"blt_bench_pos_{os.getpid()}{suffix}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}"
                           + (f" TEMPLATE {template.rsplit('/', 1)[1]}" if template else ""))
    server = url.split("://", 1)[1].split("/", 1)[0]
    return f"postgresql+psycopg://{server}/{name}"


def _drop_databases(url: str) -> None:
    import psycopg

    prefix = f"blt_bench_pos_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]
        for name in names:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _to_schema_of(code: Path, directory: Path, env: dict[str, str]) -> None:
    """Downgrade a copied store to the schema revision the checkout ``code`` expects (a
    baseline from before a revision refuses a store at a later one: ``db_schema``)."""
    from alembic import command

    from blt_status.central import db

    found = re.search(r'^SCHEMA_HEAD = "(\w+)"', (code / "blt_status/central/db.py").read_text(),
                      re.MULTILINE)
    if found is None or found.group(1) == db.SCHEMA_HEAD:
        return
    saved = os.environ.pop("BLT_CENTRAL_DB", None)
    if "BLT_CENTRAL_DB" in env:
        os.environ["BLT_CENTRAL_DB"] = env["BLT_CENTRAL_DB"]
    try:
        store = CentralStore.open(directory, migrate=False)
        engine = db._create_engine(db.database_url(store))
        config = db._alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            config.attributes["store"] = store
            command.downgrade(config, found.group(1))
        engine.dispose()
    finally:
        os.environ.pop("BLT_CENTRAL_DB", None)
        if saved is not None:
            os.environ["BLT_CENTRAL_DB"] = saved


def _ingest_rounds(args: argparse.Namespace, base: Path, payer_key: Ed25519PrivateKey,
                   label: str, db_url: str | None) -> dict[str, list[float]]:
    """Publish once, then each round ingests into a fresh copy of that store."""
    from blt_status.central.db import dispose_engines

    original = base / f"ingest-{label}"
    store = _publish(original, base / f"inputs-{label}", args.ingest_records, db_url)
    _configure(base, store, payer_key)
    bodies = _callbacks(store, payer_key, args.events)
    dispose_engines()
    codes: list[tuple[str, Path]] = [("this", ROOT)]
    if args.baseline is not None:
        codes.append(("baseline", args.baseline.resolve()))
    rates: dict[str, list[float]] = {name: [] for name, _ in codes}
    for round_number in range(args.rounds):
        for name, path in codes:
            copy = base / f"run-{label}-{name}-{round_number}"
            shutil.copytree(original, copy)
            env = dict(os.environ)
            env.pop("BLT_CENTRAL_DB", None)
            if db_url:
                env["BLT_CENTRAL_DB"] = _pg_database(args.pg_url, f"_{name}_{round_number}",
                                                     template=db_url)
            if path != ROOT:
                _to_schema_of(path, copy, env)
            count, rate = _ingest_rate(copy, bodies, env, path)
            rates[name].append(rate)
            print(f"callback ingest ({label}, {name}, round {round_number + 1}): {count} "
                  f"events, {rate:,.0f} events/s (target >= 2,000)", flush=True)
            shutil.rmtree(copy, ignore_errors=True)
    return rates


def _summary(label: str, rates: dict[str, list[float]]) -> None:
    this = rates["this"]
    line = f"callback ingest ({label}): {min(this):,.0f}-{max(this):,.0f} events/s"
    if "baseline" in rates:
        base = rates["baseline"]
        ratios = [mine / theirs for mine, theirs in zip(this, base, strict=True)]
        line += (f"; baseline {min(base):,.0f}-{max(base):,.0f} events/s; "
                 f"ratio {min(ratios):.2f}-{max(ratios):.2f}x (same rounds)")
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000,
                        help="recipients published, one instruction each")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--ingest-records", type=int, default=25_000,
                        help="size of the stores used for the ingest runs")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=1, help="ingest rounds per backend")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of another revision to compare ingest with")
    parser.add_argument("--no-push", action="store_true", help="measure ingest only")
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / "blt_status").is_dir():
        parser.error(f"--baseline {args.baseline}: no blt_status/ there")
    print(f"cores: {os.cpu_count()}")
    payer_key = Ed25519PrivateKey.generate()
    payer_pem = payer_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with tempfile.TemporaryDirectory(prefix="bench-pos-") as tmp:
        base = Path(tmp)
        if not args.no_push:
            _bench_push(args, base, payer_key, payer_pem)
        try:
            summaries = [("sqlite", _ingest_rounds(args, base, payer_key, "sqlite", None)),
                         ("postgresql", _ingest_rounds(args, base, payer_key, "postgresql",
                                                       _pg_database(args.pg_url)))]
        finally:
            from blt_status.central.db import dispose_engines

            dispose_engines()
            _drop_databases(args.pg_url)
        for label, rates in summaries:
            _summary(label, rates)
    return 0


def _bench_push(args: argparse.Namespace, base: Path, payer_key: Ed25519PrivateKey,
                payer_pem: bytes) -> None:
    started = time.perf_counter()
    store = _publish(base / "central", base / "inputs", args.records, None)
    print(f"setup: published {args.records} recipients in "
          f"{time.perf_counter() - started:.1f} s (not measured)")
    _configure(base, store, payer_key)
    queue: Any = multiprocessing.get_context("fork").Queue()
    payer = multiprocessing.get_context("fork").Process(
        target=_run_payer, args=(public_pem(signing_key(store)), payer_pem, queue),
        daemon=True)
    payer.start()
    url = queue.get(timeout=60)
    try:
        seconds, rss, out = _cli_rss("central", "pos", "push", store.directory,
                                     "--endpoint", url, "--json")
        report = json.loads(out)
        print(f"push: {report['sent']} instructions in {report['messages_sent']} messages "
              f"({report['transactions']} transactions): {seconds:.1f} s, "
              f"{report['sent'] / seconds:,.0f} instructions/s, peak RSS {rss:.0f} MiB")
        seconds2, rss2, out = _cli_rss("central", "pos", "push", store.directory,
                                       "--endpoint", url, "--json")
        print(f"re-push (no-op, sent {json.loads(out)['sent']}): {seconds2:.1f} s, "
              f"peak RSS {rss2:.0f} MiB")
    finally:
        payer.terminate()


if __name__ == "__main__":
    raise SystemExit(main())
