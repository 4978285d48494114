"""Benchmark of the Telegram bot end to end: lookups answered per second through PTB.

    python bench/bench_bot.py [--updates 10000] [--recipients 2000] [--prod-lookups 40]
                              [--workers N] [--lookup-threads T]

The bot runs the real python-telegram-bot Application with long polling against the fake Bot
API (``tests/support/fake_bot_api.py``) served from a separate process on 127.0.0.1, so
the bot and the fake
Telegram do not share one interpreter. Each update is a NIK message from its own user (half
found, half not found); each answer is a sendMessage plus a deleteMessage. The TEST KDF profile
and lifted rate limits measure our own overhead (target: >= 200 lookups/s on 2 cores, i.e.
Telegram's ~30 messages/s is always the bottleneck). Memory (RSS) is read after a warm-up and
after each batch: it should stay flat. Then the PRODUCTION KDF profile: lookups per second on
one core (direct calls) and end to end through PTB with the configured worker threads.

Side by side in the same run, against the same fake API process and counted the same way
(answered = deleteMessage calls): the single-process bot and the sharded mode of
``blt-bot --workers N`` (``bots.sharded``: one poller process, N PTB worker processes; N
defaults to the CPU count), with the ratio and the RSS of every process.
Synthetic data only; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fake Bot API lives in tests/support

from support.fake_bot_api import message_update  # noqa: E402

from blt_status.crypto import PRODUCTION_INDEX_KDF, TEST_INDEX_KDF, KdfProfile, b64e  # noqa: E402
from blt_status.device import Device, DeviceConfig  # noqa: E402
from blt_status.indexer import (  # noqa: E402
    IndexEntry,
    IndexParams,
    device_keyring,
    make_meta,
    seal_entries,
)
from blt_status.lookup import LookupService  # noqa: E402
from blt_status.nik import parse_nik  # noqa: E402
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule  # noqa: E402
from bots.app import make_engine  # noqa: E402
from bots.config import BotConfig  # noqa: E402
from bots.limits import LimitSettings  # noqa: E402
from bots.telegram_adapter import build_application  # noqa: E402

PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")
POINT = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12, Cibinong",
                    "kantor_pos")
TOKEN = "123456:BENCH-not-a-real-token"
_NEXT_UPDATE_ID = 1  # update ids keep growing across bot runs, as Telegram's do


def synthetic_niks(count: int, serial_base: int) -> list[str]:
    """Valid synthetic NIKs issued in Cibinong (32.01.01)."""
    niks = []
    i = 0
    while len(niks) < count:
        day, month, year = 1 + i % 28, 1 + (i // 28) % 12, 50 + (i // 336) % 40
        serial = serial_base + i // 13440 + 1
        nik = f"320101{day:02d}{month:02d}{year:02d}{serial:04d}"
        parse_nik(nik)
        niks.append(nik)
        i += 1
    return niks


def build_device(root: Path, niks: list[str], kdf: KdfProfile) -> tuple[Device, Path]:
    params = IndexParams(epoch_salt=os.urandom(16), kdf=kdf, master_pepper=os.urandom(32))
    config = DeviceConfig("recipient", (), "bench", backend="sqlite")
    device = Device.create(root / "device", config, None, None)
    entries = [IndexEntry(nik, "32.01.01", RecordPayload(
        view="officer", status="scheduled", amount=600_000, program=PROGRAM,
        schedule=Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
        payout_point=POINT, name="Penerima Sintetis", kode_wilayah="32.01.01.1001"))
        for nik in niks]
    meta = make_meta(view="recipient", version=1, program=PROGRAM, params=params,
                     shards=["32.01.01"], data_as_of=dt.datetime.now(dt.UTC))
    device.write_index(meta, seal_entries(entries, view="recipient", params=params))
    pepper = root / "pepper"
    pepper.write_text(b64e(device_keyring(params, "recipient", ()).peppers["*"]))
    return device, pepper


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class FakeApiProcess:
    """``python -m support.fake_bot_api`` in its own process; control over HTTP."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "support.fake_bot_api"],
                                        cwd=ROOT / "tests",
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        self.control = self.base_url.removesuffix("/bot") + "/control/"

    def push(self, updates: list[dict]) -> None:
        for start in range(0, len(updates), 2000):
            body = json.dumps(updates[start:start + 2000]).encode()
            urllib.request.urlopen(urllib.request.Request(self.control + "push", data=body),
                                   timeout=30).read()

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(self.control + "counts", timeout=30) as response:
            return json.loads(response.read())["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


Sample = tuple[float, float]  # (RSS MiB, CPU seconds so far) of the bot's process(es)
Batch = tuple[int, float, float, float]  # (updates, seconds, RSS MiB after, CPU s)


def drive_batches(api: FakeApiProcess, nik_pool: list[str], batches: list[int],
                  probe: Callable[[], Sample]) -> list[Batch]:
    """Push each batch of NIK messages (one user each) and wait until every one is answered
    (its deleteMessage seen by the fake API); per batch: (updates, seconds, RSS, CPU s)."""
    global _NEXT_UPDATE_ID
    update_id = _NEXT_UPDATE_ID
    results = []
    for size in batches:
        updates = []
        for _ in range(size):
            nik = nik_pool[update_id % len(nik_pool)]
            updates.append(message_update(update_id, 10_000_000 + update_id, nik))
            update_id += 1
        target = api.counts().get("deleteMessage", 0) + size
        _, cpu_started = probe()
        started = time.perf_counter()
        api.push(updates)
        done, last_change, last_done = 0, time.perf_counter(), -1
        while done < target:
            time.sleep(0.1)
            done = api.counts().get("deleteMessage", 0)
            if done != last_done:
                last_done, last_change = done, time.perf_counter()
            elif time.perf_counter() - last_change > 15:
                raise RuntimeError(f"stalled: {target - done} of {size} updates unanswered")
        elapsed = time.perf_counter() - started
        _NEXT_UPDATE_ID = update_id
        rss, cpu = probe()
        results.append((size, elapsed, rss, cpu - cpu_started))
    return results


async def run_batches(device: Device, pepper: Path, state: Path, api: FakeApiProcess,
                      nik_pool: list[str], batches: list[int], workers: int,
                      ) -> list[tuple[int, float, float, float]]:
    """Poll ``sum(batches)`` updates; per batch: (updates, seconds, RSS MiB after, CPU s)."""
    config = BotConfig(token=TOKEN, api_url=api.base_url, data_dir=device.data_dir,
                       state_file=state, pepper_file=str(pepper), limits=LimitSettings.lifted(),
                       outgoing_per_second=0, outgoing_per_chat_per_minute=0,
                       lookup_workers=workers)
    engine = make_engine(config, device.data_dir)
    app = build_application(config, engine, reminder_loop=False)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        return await asyncio.to_thread(drive_batches, api, nik_pool, batches,
                                       lambda: (rss_mib(), time.process_time()))
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        engine.close()


def _proc_stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the poller and its worker processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = _proc_stat(int(entry.name))[0]
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def run_sharded_batches(device: Device, pepper: Path, state: Path, api: FakeApiProcess,
                        nik_pool: list[str], batches: list[int], workers: int, threads: int,
                        ) -> tuple[list[Batch], list[float]]:
    """The same batches through ``bots.sharded`` (poller + ``workers`` PTB processes), started
    and stopped (SIGTERM) as ``blt-bot --workers N`` is; also each process's final RSS."""
    import multiprocessing

    from bots.sharded import run_sharded

    config = BotConfig(token=TOKEN, api_url=api.base_url, data_dir=device.data_dir,
                       state_file=state, pepper_file=str(pepper), limits=LimitSettings.lifted(),
                       outgoing_per_second=0, outgoing_per_chat_per_minute=0,
                       lookup_workers=threads, workers=workers)
    before = api.counts().get("setMyCommands", 0)
    poller = multiprocessing.get_context("spawn").Process(
        target=run_sharded, args=(config,), kwargs={"poll_timeout": 1.0}, name="bench-poller")
    poller.start()
    assert poller.pid is not None
    try:
        deadline = time.monotonic() + 120
        while api.counts().get("setMyCommands", 0) < before + workers:  # every worker is up
            if time.monotonic() > deadline or not poller.is_alive():
                raise RuntimeError("the sharded bot did not start")
            time.sleep(0.1)

        def probe() -> Sample:
            rss = cpu = 0.0
            for pid in process_tree(poller.pid):  # type: ignore[arg-type]
                try:
                    cpu += _proc_stat(pid)[1]
                    rss += _rss_of(pid)
                except OSError:
                    continue
            return rss, cpu

        results = drive_batches(api, nik_pool, batches, probe)
        per_process = [_rss_of(pid) for pid in process_tree(poller.pid)]
    finally:
        poller.terminate()  # SIGTERM: stop polling, drain, stop the workers
        poller.join(60)
    if poller.exitcode != 0:
        raise RuntimeError(f"the sharded bot exited with code {poller.exitcode}")
    return results, per_process


async def bare_ptb_call_cpu_ms(api: FakeApiProcess, calls: int = 500) -> float:
    """CPU per bare ``Bot.send_message`` (PTB + httpx) against the same fake API: the floor
    under every answer, which needs two Bot API calls (sendMessage, deleteMessage)."""
    from telegram import Bot

    async with Bot(TOKEN, base_url=api.base_url) as bot:
        await bot.send_message(1, "warm-up")
        started = time.process_time()
        for _ in range(calls):
            await bot.send_message(1, "x" * 900)
        return (time.process_time() - started) / calls * 1000


def direct_lookups_per_second(device: Device, pepper: Path, niks: list[str]) -> float:
    config = BotConfig(pepper_file=str(pepper))
    import dataclasses

    device = Device(device.data_dir, dataclasses.replace(device.config,
                                                         pepper_file=config.pepper_file))
    service = LookupService.open(device, device.unlock())
    started = time.perf_counter()
    for nik in niks:
        service.lookup(nik)
    elapsed = time.perf_counter() - started
    service.close()
    return len(niks) / elapsed


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=2_000)
    parser.add_argument("--prod-lookups", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="bot processes of the sharded run measured next to the single "
                        "process (default: the CPU count; 1: the single process only)")
    parser.add_argument("--lookup-threads", type=int, default=os.cpu_count() or 2,
                        help="key-derivation worker threads per bot process")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-bot-") as temp:
        root = Path(temp)
        listed = synthetic_niks(args.recipients, 0)
        unlisted = synthetic_niks(args.recipients, 5000)
        pool = [nik for pair in zip(listed, unlisted, strict=True) for nik in pair]
        device, pepper = build_device(root / "test", listed, TEST_INDEX_KDF)
        api = FakeApiProcess()
        try:
            warm = asyncio.run(run_batches(device, pepper, root / "state.json", api, pool,
                                           [200], args.lookup_threads))
            rss_start = warm[0][2]
            per_batch = max(1, args.updates // 4)
            batches = asyncio.run(run_batches(device, pepper, root / "state.json", api, pool,
                                              [per_batch] * 4, args.lookup_threads))
            total = sum(batch[0] for batch in batches)
            seconds = sum(batch[1] for batch in batches)
            cpu = sum(batch[3] for batch in batches)
            rows.append(("TEST KDF, end to end via PTB polling (lookups answered/s)",
                         f"{total / seconds:,.0f}/s over {total:,} updates"))
            rows.append(("  bot process CPU per answered lookup (all threads)",
                         f"{cpu / total * 1000:.2f} ms -> {total / cpu:,.0f}/s per busy core"))
            floor = asyncio.run(bare_ptb_call_cpu_ms(api))
            rows.append(("  of which: bare PTB Bot.send_message, CPU per call (x2 per answer)",
                         f"{floor:.2f} ms (same fake API, same run)"))
            for index, (size, elapsed, rss, _) in enumerate(batches, 1):
                rows.append((f"  batch {index}: {size:,} updates", f"{size / elapsed:,.0f}/s, "
                             f"RSS {rss:,.1f} MiB"))
            rows.append(("RSS after warm-up -> after all updates",
                         f"{rss_start:,.1f} -> {batches[-1][2]:,.1f} MiB "
                         f"(batch 1 -> 4: {batches[-1][2] - batches[0][2]:+.1f} MiB)"))
            if args.workers > 1:
                single_rate = total / seconds
                sharded_warm, _ = run_sharded_batches(
                    device, pepper, root / "sharded-state.json", api, pool, [200],
                    args.workers, args.lookup_threads)
                sharded, rss_each = run_sharded_batches(
                    device, pepper, root / "sharded-state.json", api, pool, [per_batch] * 4,
                    args.workers, args.lookup_threads)
                s_total = sum(batch[0] for batch in sharded)
                s_seconds = sum(batch[1] for batch in sharded)
                s_cpu = sum(batch[3] for batch in sharded)
                rows.append((f"TEST KDF, end to end, sharded: --workers {args.workers} "
                             "(lookups answered/s)",
                             f"{s_total / s_seconds:,.0f}/s over {s_total:,} updates"))
                rows.append((f"  ratio --workers {args.workers} / single process (same run)",
                             f"{s_total / s_seconds / single_rate:.2f}x"))
                rows.append(("  CPU per answered lookup (poller + workers, all threads)",
                             f"{s_cpu / s_total * 1000:.2f} ms"))
                for index, (size, elapsed, rss, _) in enumerate(sharded, 1):
                    rows.append((f"  batch {index}: {size:,} updates",
                                 f"{size / elapsed:,.0f}/s, RSS of all processes {rss:,.1f} MiB"))
                rows.append(("  RSS per process after all updates (poller, workers)",
                             ", ".join(f"{rss:,.1f}" for rss in rss_each) + " MiB"))
                del sharded_warm
            rows.append(("TEST KDF, direct LookupService.lookup on 1 core",
                         f"{direct_lookups_per_second(device, pepper, pool[:2000]):,.0f}/s"))

            prod_niks = synthetic_niks(20, 0)
            prod_device, prod_pepper = build_device(root / "prod", prod_niks,
                                                    PRODUCTION_INDEX_KDF)
            probe = (prod_niks + synthetic_niks(20, 5000))[:args.prod_lookups]
            rows.append((f"PRODUCTION KDF ({PRODUCTION_INDEX_KDF.label}), direct, 1 core",
                         f"{direct_lookups_per_second(prod_device, prod_pepper, probe):,.1f}/s"))
            prod = asyncio.run(run_batches(prod_device, prod_pepper, root / "state2.json", api,
                                           probe, [args.prod_lookups],
                                           args.lookup_threads))
            size, elapsed = prod[0][0], prod[0][1]
            rows.append((f"PRODUCTION KDF, end to end via PTB, {args.lookup_threads} worker "
                         "threads",
                         f"{size / elapsed:,.1f}/s"))
        finally:
            api.close()

    width = max(len(label) for label, _ in rows)
    print(f"blt-bot benchmark — {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    print("-" * (width + 40))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
