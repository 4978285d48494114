"""The Telegram face of the bot: python-telegram-bot handlers that deliver the engine's outcomes.

Nothing here decides what to answer (that is ``bots.engine`` and ``bots.dialogue``); this module
maps updates to engine calls and outcomes to Bot API calls: replies with inline buttons, the
deletion of a message holding a NIK, callback answers, retries on flood control and network
errors, the reminder loop, and an error handler that logs without personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from blt_status.errors import BltError
from bots import statistics
from bots.config import BotConfig
from bots.dialogue import Reply, error_reply
from bots.engine import BotEngine, Outcome
from bots.statistics import AggregateSource

__all__ = ["build_application", "reply_markup", "run_reminders", "send_with_retries"]

_LOG = logging.getLogger("bots.telegram")

T = TypeVar("T")
ENGINE = "engine"
CONFIG = "config"
REMINDER_TASK = "reminder_task"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # the map link is text, never previewed

COMMANDS = [
    ("start", "Mulai / Start"),
    ("cek", "Cek NIK / Check a NIK"),
    ("ingatkan", "Pengingat / Reminders"),
    ("berhenti", "Matikan pengingat / Stop reminders"),
    ("statistik", "Statistik penyaluran / Payout statistics"),
    ("bahasa", "Bahasa / Language"),
    ("bantuan", "Bantuan / Help"),
]


def reply_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    rows = [[InlineKeyboardButton(button.label, url=button.url) if button.url else
             InlineKeyboardButton(button.label, callback_data=button.action)
             for button in row] for row in reply.buttons]
    return InlineKeyboardMarkup(rows)


def _retryable(error: BaseException) -> bool:
    """Timeouts, connection errors and 5xx answers. Not bad requests, not blocked chats, and
    not flood control (``RetryAfter``): the Application's ``AIORateLimiter`` already waits
    those out, and a second retry layer would multiply the waits."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


async def send_with_retries(call: Callable[[], Awaitable[T]], *, retries: int,
                            backoff: float) -> T:
    """Run a Bot API call, retrying network failures with exponential backoff (tenacity)."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable), stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=backoff, max=60), reraise=True,
        before_sleep=lambda state: _LOG.info(
            "Bot API call failed (%s); retry %d", type(state.outcome.exception()).__name__
            if state.outcome else "?", state.attempt_number))
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # reraise=True: the last failure is raised above


def _engine(context: ContextTypes.DEFAULT_TYPE) -> BotEngine:
    return context.application.bot_data[ENGINE]


def _config(context: ContextTypes.DEFAULT_TYPE) -> BotConfig:
    return context.application.bot_data[CONFIG]


async def _send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> Message:
    config = _config(context)
    return await send_with_retries(
        lambda: context.bot.send_message(chat_id, reply.text, reply_markup=reply_markup(reply),
                                         link_preview_options=NO_PREVIEW),
        retries=config.send_retries, backoff=config.retry_backoff)


async def _deliver(update: Update, context: ContextTypes.DEFAULT_TYPE, outcome: Outcome) -> None:
    """Send the replies, then delete the user's message if it held a NIK (private chats)."""
    chat = update.effective_chat
    if chat is None:
        return
    for reply in outcome.replies:
        await _send(context, chat.id, reply)
    message = update.effective_message
    if outcome.delete_message and message is not None and chat.type == ChatType.PRIVATE:
        try:
            await send_with_retries(lambda: message.delete(), retries=1,
                                    backoff=_config(context).retry_backoff)
        except TelegramError as error:  # too old, no rights...: answering matters more
            _LOG.info("could not delete a message holding a NIK (%s)", type(error).__name__)


def _ids(update: Update) -> tuple[int, int]:
    user = update.effective_user
    chat = update.effective_chat
    chat_id = chat.id if chat else 0
    return (user.id if user else chat_id), chat_id


def _argument(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or [])


# -- handlers ----------------------------------------------------------------------------------


async def _on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start [payload]: what the bot does, and the anti-scam line (a NIK payload: deleted)."""
    user_id, _ = _ids(update)
    await _deliver(update, context, _engine(context).on_start(user_id, _argument(context)))


async def _on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/bantuan: commands and official channels."""
    user_id, _ = _ids(update)
    await _deliver(update, context, _engine(context).on_help(user_id))


async def _on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/bahasa [id|en]."""
    user_id, _ = _ids(update)
    await _deliver(update, context, _engine(context).on_language(user_id, _argument(context)))


async def _on_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cek NIK."""
    user_id, chat_id = _ids(update)
    outcome = await _engine(context).on_lookup(user_id, chat_id, _argument(context))
    await _deliver(update, context, outcome)


async def _on_remind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ingatkan [NIK]."""
    user_id, chat_id = _ids(update)
    outcome = await _engine(context).on_remind(user_id, chat_id, _argument(context))
    await _deliver(update, context, outcome)


async def _on_stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/berhenti: reminders off, their data deleted."""
    user_id, chat_id = _ids(update)
    await _deliver(update, context, _engine(context).on_stop(user_id, chat_id))


async def _on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A plain private message: usually a NIK."""
    user_id, chat_id = _ids(update)
    message = update.effective_message
    text = message.text if message and message.text else ""
    link = bool(message and message.parse_entities([MessageEntity.URL,
                                                    MessageEntity.TEXT_LINK]))
    await _deliver(update, context,
                   await _engine(context).on_text(user_id, chat_id, text, link=link))


async def _on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other /command."""
    user_id, _ = _ids(update)
    message = update.effective_message
    text = message.text if message and message.text else ""
    await _deliver(update, context, _engine(context).on_unknown_command(user_id, text))


async def _on_sensitive_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos and files may show a KTP/KK: deleted, with a warning."""
    user_id, _ = _ids(update)
    await _deliver(update, context, _engine(context).on_media(user_id, sensitive=True))


async def _on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, voice notes, locations...: text only, please."""
    user_id, _ = _ids(update)
    await _deliver(update, context, _engine(context).on_media(user_id, sensitive=False))


async def _on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Edited messages are not looked up (send a new one)."""
    user_id, _ = _ids(update)
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    await _deliver(update, context, _engine(context).on_edited(user_id, text))


async def _on_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Groups and channels: no lookups; point to the private chat."""
    _, chat_id = _ids(update)
    message = update.effective_message
    text = (message.text or "") if message else ""
    outcome = _engine(context).on_group_message(
        chat_id, text, is_command=text.startswith("/"), bot_username=context.bot.username or "")
    await _deliver(update, context, outcome)


async def _on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Inline buttons under an answer, and the language choice."""
    query = update.callback_query
    if query is None:
        return
    user_id, chat_id = _ids(update)
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        await query.answer()
        return
    outcome = await _engine(context).on_callback(user_id, chat_id, query.data or "")
    config = _config(context)
    await send_with_retries(lambda: query.answer(outcome.toast or None),
                            retries=config.send_retries, backoff=config.retry_backoff)
    if outcome.edit is not None and query.message is not None:
        edit = outcome.edit
        await send_with_retries(
            lambda: query.edit_message_text(edit.text, reply_markup=reply_markup(edit)),
            retries=config.send_retries, backoff=config.retry_backoff)
    for reply in outcome.replies:
        await _send(context, chat_id, reply)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the kind of failure (never message content) and answer the user kindly."""
    error = context.error
    code = f" [{error.code}]" if isinstance(error, BltError) else ""
    update_id = update.update_id if isinstance(update, Update) else None
    _LOG.error("handling update %s failed: %s%s", update_id, type(error).__name__, code)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE:
        return
    user_id, chat_id = _ids(update)
    reply = error_reply(_engine(context).language(user_id))
    with contextlib.suppress(TelegramError):
        await context.bot.send_message(chat_id, reply.text)


# -- /statistik ----------------------------------------------------------------------------------


STATISTICS_SOURCE = "statistics_source"  # bot_data: an AggregateSource (tests name their own)


def _statistics_source(context: ContextTypes.DEFAULT_TYPE) -> AggregateSource | None:
    data = context.application.bot_data
    if data.get(STATISTICS_SOURCE) is None:
        data[STATISTICS_SOURCE] = statistics.source_for(_engine(context))
    source = data[STATISTICS_SOURCE]
    return source if isinstance(source, AggregateSource) else None


async def _answer_statistics(context: ContextTypes.DEFAULT_TYPE, user_id: int, chat_id: int,
                             code: str | None) -> None:
    lang = _engine(context).language(user_id)
    await _send(context, chat_id, await statistics.answer(_statistics_source(context), lang, code))


async def _on_statistics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/statistik: the kecamatan this chat just looked up, else a kabupaten button list."""
    user_id, chat_id = _ids(update)
    if update.effective_chat is not None and update.effective_user is not None:
        await _answer_statistics(context, user_id, chat_id,
                                 _engine(context).recent_kecamatan(chat_id))
    raise ApplicationHandlerStop


async def _on_statistics_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A kabupaten button under /statistik: its figures."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None or update.effective_user is None:
        raise ApplicationHandlerStop
    await query.answer()
    code = (query.data or "").removeprefix(statistics.ACTION_STATISTICS)
    if chat.type == ChatType.PRIVATE and len(code) == 5:
        user_id, chat_id = _ids(update)
        await _answer_statistics(context, user_id, chat_id, code)
    raise ApplicationHandlerStop


# -- reminders ---------------------------------------------------------------------------------


async def run_reminders(application: Application, now: dt.datetime | None = None) -> int:
    """One reminder pass: pick up a new index, send status changes and day-before reminders."""
    engine: BotEngine = application.bot_data[ENGINE]
    config: BotConfig = application.bot_data[CONFIG]
    sent = 0
    for chat_id, reply in engine.tick(now):
        try:
            await send_with_retries(
                functools.partial(application.bot.send_message, chat_id, reply.text,
                                  reply_markup=reply_markup(reply),
                                  link_preview_options=NO_PREVIEW),
                retries=config.send_retries, backoff=config.retry_backoff)
            sent += 1
        except Forbidden:  # the user blocked the bot: forget their reminders
            engine.state.unsubscribe_chat(chat_id)
        except TelegramError as error:
            _LOG.warning("reminder not delivered: %s", type(error).__name__)
    return sent


async def _reminder_loop(application: Application) -> None:
    config: BotConfig = application.bot_data[CONFIG]
    while True:
        try:
            await run_reminders(application)
        except Exception as error:  # the loop must survive anything
            _LOG.error("reminder pass failed: %s", type(error).__name__)
        await asyncio.sleep(config.reminder_interval)


async def _post_init(application: Application) -> None:
    with contextlib.suppress(TelegramError):
        await application.bot.set_my_commands([BotCommand(name, text)
                                               for name, text in COMMANDS])
    if application.bot_data.get("run_reminder_loop", True):
        application.bot_data[REMINDER_TASK] = asyncio.create_task(_reminder_loop(application))


async def _post_stop(application: Application) -> None:
    task = application.bot_data.pop(REMINDER_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _post_shutdown(application: Application) -> None:
    await _post_stop(application)
    application.bot_data[ENGINE].close()


# -- assembly ----------------------------------------------------------------------------------


def build_application(config: BotConfig, engine: BotEngine, *,
                      request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None,
                      reminder_loop: bool = True, polling: bool = True) -> Application:
    """The PTB Application: handlers, rate limiter, retries, error handler, reminder loop.

    ``polling=False``: no updater (``bots.sharded`` feeds the update queue itself)."""
    if not config.token:
        raise ValueError("a token is needed")
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder().token(config.token)
        .rate_limiter(AIORateLimiter(overall_max_rate=config.outgoing_per_second,
                                     group_max_rate=config.outgoing_per_chat_per_minute,
                                     max_retries=config.send_retries))
        .concurrent_updates(max(1, config.concurrent_updates))
        .post_init(_post_init).post_stop(_post_stop).post_shutdown(_post_shutdown)
    )
    if config.api_url:
        builder = builder.base_url(config.api_url)
    if request is not None:
        builder = builder.request(request)
    else:
        # httpcore scans every pooled connection (with syscalls) on each request: a pool
        # sized to the update concurrency is much cheaper than PTB's default of 256
        builder = builder.connection_pool_size(max(4, config.concurrent_updates + 4))
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data[ENGINE] = engine
    application.bot_data[CONFIG] = config
    application.bot_data["run_reminder_loop"] = reminder_loop

    private = filters.ChatType.PRIVATE
    new = filters.UpdateType.MESSAGE
    commands: list[tuple[list[str], Callable[..., Coroutine[Any, Any, None]]]] = [
        (["start", "mulai"], _on_start),
        (["bantuan", "help"], _on_help),
        (["bahasa", "language"], _on_language),
        (["cek", "check"], _on_check),
        (["ingatkan", "remind"], _on_remind),
        (["berhenti", "stop"], _on_stop),
    ]
    application.add_handler(MessageHandler(filters.ChatType.GROUPS & new, _on_group))
    for names, callback in commands:
        application.add_handler(CommandHandler(names, callback, filters=private & new))
    application.add_handler(MessageHandler(private & new & filters.COMMAND, _on_unknown_command))
    application.add_handler(MessageHandler(private & new & filters.TEXT, _on_text))
    sensitive = filters.PHOTO | filters.Document.ALL | filters.VIDEO
    application.add_handler(MessageHandler(private & new & sensitive, _on_sensitive_media))
    application.add_handler(MessageHandler(private & new, _on_media))
    application.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, _on_edited))
    application.add_handler(CallbackQueryHandler(_on_callback))
    # /statistik ahead of the other handlers (group -1), so it is not an unknown command
    application.add_handler(CommandHandler(["statistik", "statistics"], _on_statistics,
                                           filters=private & new), group=-1)
    application.add_handler(CallbackQueryHandler(_on_statistics_choice, pattern=r"^stat:"),
                            group=-1)
    application.add_error_handler(_on_error)
    return application
