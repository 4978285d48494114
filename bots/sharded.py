"""``blt-bot --workers N``: one poller process and N PTB worker processes, one per core.

One Python process tops out near ~170 answered lookups/s (httpx costs ~1.7 ms of CPU per Bot
API call and every answer needs two calls), so on a machine with more cores the bot can be
sharded:

- the *poller* (the parent process) runs the ``getUpdates`` long-polling loop with PTB's
  ``Bot.get_updates`` (same token, ``base_url`` and retries as the single-process bot) and
  hands each update, as its JSON dict, to worker ``user_id % N`` (updates without a user go to
  worker 0) over an in-memory ``multiprocessing`` queue; offsets are acknowledged as Telegram
  requires (``offset = last update_id + 1`` on the next ``getUpdates``), exactly when PTB's own
  updater would: once the update has been handed to the application's queue;
- each *worker* runs the real PTB ``Application`` of :func:`bots.telegram_adapter.
  build_application` (same handlers, ``AIORateLimiter``, retries, error handler, NIK message
  deletion, reminder loop) without an updater, with its own :class:`~bots.engine.BotEngine`
  over the same (read-only) index and its own state file ``<state>.shard<i>-of<N>.json``.
  A user always lands on the same worker, so their language, rate limits and reminders stay
  in one place. The global lookup cap is divided by N (rounded up) per worker.

SIGINT/SIGTERM of the parent: stop polling, acknowledge what was handed over, let every worker
drain its queue and stop. A worker that dies is reported in one log line and the parent exits
non-zero. Nothing here logs update contents; the queues are pipes between our own processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import threading
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError

from bots.config import BotConfig
from bots.runtime import ALLOWED_UPDATES

__all__ = ["ShardedBot", "run_sharded", "shard_config", "shard_state_file"]

_LOG = logging.getLogger("bots.sharded")
START_TIMEOUT = 120.0  # seconds for every worker to open the index and report ready
STOP_TIMEOUT = 30.0  # seconds for a worker to drain and stop before it is terminated
FAILED_EXIT = 3  # a worker that could not start


def shard_state_file(state_file: Path, index: int, workers: int) -> Path:
    """``/var/lib/blt-bot/state.json`` -> ``/var/lib/blt-bot/state.shard0-of2.json``."""
    return state_file.with_name(f"{state_file.stem}.shard{index}-of{workers}.json")


def shard_config(config: BotConfig, index: int, workers: int) -> BotConfig:
    """One worker's config: its own state file, a 1/N share (rounded up) of the global cap."""
    state = config.resolved_state_file()
    limits = config.limits
    if limits.global_per_minute:
        limits = dataclasses.replace(
            limits, global_per_minute=math.ceil(limits.global_per_minute / workers))
    return config.with_changes(
        state_file=shard_state_file(state, index, workers) if state is not None else None,
        limits=limits, workers=1)


def _seed_shard_state(config: BotConfig, index: int, workers: int) -> None:
    """First start with N workers: this shard's users from the single-process state file
    (languages, reminders), so switching to ``--workers N`` keeps them."""
    single = config.resolved_state_file()
    shard = shard_config(config, index, workers).state_file
    if single is None or shard is None or shard.exists() or not single.exists():
        return
    from blt_status.store import atomic_write_bytes
    from bots.state import STATE_FORMAT

    try:
        data = json.loads(single.read_bytes())
        if data.get("format") != STATE_FORMAT:
            return
        data["languages"] = {k: v for k, v in data.get("languages", {}).items()
                             if int(k) % workers == index}
        data["subscriptions"] = [s for s in data.get("subscriptions", [])
                                 if int(s["chat"]) % workers == index]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        _LOG.warning("single-process state file unreadable; shard %d starts empty", index)
        return
    atomic_write_bytes(shard, json.dumps(data, indent=1).encode())


# -- a worker process --------------------------------------------------------------------------


def _worker_main(config: BotConfig, index: int, workers: int, updates: Queue,
                 events: Queue, passphrase: str | None, log_level: int) -> None:
    """Entry point of worker ``index`` (spawned): the PTB Application fed from ``updates``."""
    # the parent decides when to stop (it sends None); a Ctrl-C or a service manager's
    # SIGTERM to the whole group must not kill a worker in the middle of an answer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from bots.runtime import configure_logging, make_engine

    configure_logging(log_level)
    parent = os.getppid()
    try:
        _seed_shard_state(config, index, workers)
        mine = shard_config(config, index, workers)
        assert mine.data_dir is not None
        engine = make_engine(mine, mine.data_dir, passphrase=passphrase)
    except Exception as error:  # one line, never a traceback
        code = getattr(error, "code", None)
        _LOG.error("worker %d of %d could not start: %s%s", index, workers,
                   type(error).__name__, f" [{code}]" if code else "")
        events.put(("failed", index))
        raise SystemExit(FAILED_EXIT) from None
    try:
        asyncio.run(_worker_serve(mine, engine, index, updates, events, parent))
    except Exception as error:  # one line, never a traceback (it could hold message content)
        _LOG.error("worker %d of %d failed: %s", index, workers, type(error).__name__)
        raise SystemExit(1) from None


async def _worker_serve(config: BotConfig, engine: Any, index: int, updates: Queue,
                        events: Queue, parent: int) -> None:
    from bots.telegram_adapter import build_application

    application = build_application(config, engine, polling=False)
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()

    def feed(batch: list[dict[str, Any]]) -> None:
        for data in batch:
            try:
                update = Update.de_json(data, application.bot)
            except Exception as error:  # one line, never the update's content
                _LOG.error("worker %d: an update could not be read (%s)", index,
                           type(error).__name__)
                continue
            if update is not None:
                application.update_queue.put_nowait(update)

    def read() -> None:
        """Blocking reads from the parent's queue, handed to the event loop."""
        while True:
            try:
                batch = updates.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the poller is gone: no orphan worker
                    _LOG.error("worker %d: the poller process is gone; stopping", index)
                    break
                continue
            except (EOFError, OSError):
                break
            if batch is None:
                break
            loop.call_soon_threadsafe(feed, batch)
        loop.call_soon_threadsafe(finished.set)

    reader = threading.Thread(target=read, name=f"blt-shard{index}-reader", daemon=True)
    reader.start()
    events.put(("ready", index))
    await finished.wait()
    await application.stop()  # processes what is already in update_queue first
    if application.post_stop is not None:
        await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)  # closes the engine


# -- the poller (parent) -----------------------------------------------------------------------


class ShardedBot:
    """The parent: starts the workers, polls, routes, and stops everything cleanly."""

    def __init__(self, config: BotConfig, *, passphrase: str | None = None,
                 poll_timeout: float = 10.0) -> None:
        self.config = config
        self.workers = config.workers
        self.passphrase = passphrase
        self.poll_timeout = poll_timeout
        self._context = multiprocessing.get_context("spawn")
        self._queues: list[Queue] = []
        self._processes: list[BaseProcess] = []
        self._events: Queue = self._context.Queue()
        self._stop = asyncio.Event()
        self._failed = False
        self._offset: int | None = None  # the next getUpdates offset (last update_id + 1)
        self.routed = [0] * self.workers

    # -- processes ----------------------------------------------------------------------------

    def start_workers(self) -> None:
        level = logging.getLogger().getEffectiveLevel()
        for index in range(self.workers):
            updates: Queue = self._context.Queue()
            process = self._context.Process(
                target=_worker_main, name=f"blt-bot-shard{index}",
                args=(self.config, index, self.workers, updates, self._events, self.passphrase,
                      level))
            process.start()
            _LOG.info("worker %d of %d started (pid %d)", index, self.workers, process.pid)
            self._queues.append(updates)
            self._processes.append(process)

    async def wait_ready(self) -> bool:
        """True once every worker has its Application running; False if one failed."""
        ready: set[int] = set()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while len(ready) < self.workers:
            try:
                kind, index = await asyncio.to_thread(self._events.get, True, 0.5)
            except queue.Empty:
                if self._dead_worker() is not None or self._stop.is_set():
                    return False
                if asyncio.get_running_loop().time() > deadline:
                    _LOG.error("bot workers not ready in time (%d of %d)", len(ready),
                               self.workers)
                    return False
                continue
            if kind != "ready":
                self._processes[index].join(10)  # it has logged why; now it exits
                return False
            ready.add(index)
        return True

    def _dead_worker(self) -> BaseProcess | None:
        for process in self._processes:
            if not process.is_alive():
                return process
        return None

    async def _watch_workers(self) -> None:
        while not self._stop.is_set():
            dead = self._dead_worker()
            if dead is not None:
                _LOG.error("bot worker %s (pid %s) exited with code %s; stopping the bot",
                           dead.name, dead.pid, dead.exitcode)
                self._failed = True
                self._stop.set()
                return
            await asyncio.sleep(0.5)

    def stop_workers(self) -> None:
        """Sentinel to every queue; wait for the drain; terminate what does not stop."""
        for updates in self._queues:
            with contextlib.suppress(OSError, ValueError):
                updates.put(None)
        for process in self._processes:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                _LOG.error("bot worker %s did not stop in time; terminating it", process.name)
                process.kill()
                process.join(5)
                self._failed = True
            elif process.exitcode not in (0, None) and not self._failed:
                _LOG.error("bot worker %s exited with code %s", process.name, process.exitcode)
                self._failed = True
        for updates in [*self._queues, self._events]:
            updates.cancel_join_thread()  # the workers are gone: nothing left to deliver
            updates.close()

    # -- polling ------------------------------------------------------------------------------

    def route(self, updates: list[Update]) -> int | None:
        """Hand a getUpdates batch to the workers; the next offset to acknowledge."""
        batches: list[list[dict[str, Any]]] = [[] for _ in range(self.workers)]
        offset = None
        for update in updates:
            data = update.to_dict()
            user = update.effective_user
            shard = user.id % self.workers if user is not None else 0
            batches[shard].append(data)
            offset = update.update_id + 1
        for shard, batch in enumerate(batches):
            if batch:
                self._queues[shard].put(batch)
                self.routed[shard] += len(batch)
        return offset

    async def _poll(self, bot: Bot) -> None:
        from bots.telegram_adapter import send_with_retries

        config = self.config
        failures = 0
        while not self._stop.is_set():
            try:
                updates = await send_with_retries(
                    lambda: bot.get_updates(offset=self._offset,
                                            timeout=math.ceil(self.poll_timeout),
                                            allowed_updates=ALLOWED_UPDATES),
                    retries=config.send_retries, backoff=config.retry_backoff)
            except InvalidToken:
                _LOG.error("the Bot API refused the token; stopping")
                self._failed = True
                self._stop.set()
                return
            except TelegramError as error:
                failures += 1
                wait = min(30.0, config.retry_backoff * (2 ** min(failures, 5)))
                _LOG.warning("getUpdates failed (%s); polling again in %.1fs",
                             type(error).__name__, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                continue
            failures = 0
            if updates:
                self._offset = self.route(list(updates)) or self._offset

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._request_stop, signum)
        self.start_workers()
        try:
            if not await self.wait_ready():
                dead = self._dead_worker()
                if dead is None and self._stop.is_set():
                    return 0  # asked to stop while starting: nothing was polled yet
                self._failed = True
                if dead is not None:
                    _LOG.error("bot worker %s (pid %s) exited with code %s before it was "
                               "ready; stopping the bot", dead.name, dead.pid, dead.exitcode)
                return 1
            _LOG.info("starting (long polling, %d workers)", self.workers)
            kwargs: dict[str, Any] = {}
            if self.config.api_url:
                kwargs["base_url"] = self.config.api_url
            assert self.config.token
            watcher = asyncio.create_task(self._watch_workers())
            try:
                async with Bot(self.config.token, **kwargs) as bot:
                    with contextlib.suppress(TelegramError):
                        await bot.delete_webhook(drop_pending_updates=False)
                    poller = asyncio.create_task(self._poll(bot))
                    stopper = asyncio.create_task(self._stop.wait())
                    await asyncio.wait({poller, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    if not poller.done():  # a long poll in flight: its updates come again
                        poller.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await poller
                    else:
                        poller.result()
                    stopper.cancel()
                    if not self._failed:  # a dead worker's batch comes again on restart
                        await self._acknowledge(bot)
            finally:
                self._stop.set()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        finally:
            await asyncio.to_thread(self.stop_workers)
            _LOG.info("stopped (%s)", ", ".join(f"worker {i}: {n} updates"
                                               for i, n in enumerate(self.routed)))
        return 1 if self._failed else 0

    async def _acknowledge(self, bot: Bot) -> None:
        """Confirm the updates already handed over (``offset`` = last update_id + 1), as PTB's
        updater does when it stops; the one update this may return is not confirmed."""
        if self._offset is not None:
            with contextlib.suppress(TelegramError):
                await bot.get_updates(offset=self._offset, timeout=0, limit=1)

    def _request_stop(self, signum: int) -> None:
        _LOG.info("signal %s: stopping (polling off, draining the workers)",
                  signal.Signals(signum).name)
        self._stop.set()


def run_sharded(config: BotConfig, *, passphrase: str | None = None,
                poll_timeout: float = 10.0) -> int:
    """Run the sharded bot until SIGINT/SIGTERM; 0 after a clean stop, 1 if a worker died."""
    if config.workers < 2:
        raise ValueError("run_sharded needs workers >= 2")
    return asyncio.run(ShardedBot(config, passphrase=passphrase,
                                  poll_timeout=poll_timeout).run())

