"""The bot's behaviour without Telegram: who may look up what, when, and which reply follows.

:class:`BotEngine` owns the lookup service (picking up new index versions from ``blt-status
sync`` without a restart), the rate limits, the per-user language and the reminder
subscriptions. Each ``on_*`` method returns an :class:`Outcome` built from ``bots.dialogue``;
the Telegram adapter and the console only deliver it. Key derivation runs in a worker thread
so the event loop keeps serving other chats.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from blt_status.crypto import IndexKey
from blt_status.device import ALL_REGIONS, Device, Keyring
from blt_status.errors import BltError, IndexKeyMismatch, IndexStoreError, NikError
from blt_status.lookup import LookupResult, LookupService
from blt_status.nik import parse_nik
from blt_status.present import schedule_timing
from blt_status.records import RecordPayload, open_payload
from bots import dialogue
from bots.dialogue import Reply
from bots.limits import LimitSettings, LookupLimiter
from bots.nik_text import find_nik, fold_digits
from bots.state import BotState, SubscriptionSecret, state_key_from_pepper

__all__ = ["BotEngine", "EngineSettings", "Outcome"]

_LOG = logging.getLogger("bots.engine")
MAX_TEXT = 200  # longer messages are not parsed at all
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]{2}")  # two letters in a row: words around the number
# A link as people paste one: a scheme, www., t.me/, or a host under a top-level domain that
# scam links use (shorteners: bit.ly, s.id), not the domain of an e-mail address. Telegram's
# own link entities are used as well.
_LINK = re.compile(r"(?i)(?:\bhttps?://|\bwww\.|\bt\.me/)\S"
                   r"|(?<!@)\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*"
                   r"\.(?:id|com|net|org|info|biz|xyz|site|online|top|ly|me|co|link|click|app"
                   r"|io|cc|vip|shop|live|tk)(?:/|\b(?!\.\w)|$)")
RECENT_TTL = 10 * 60.0  # seconds a found lookup can still be subscribed to with /ingatkan
RECENT_MAX = 10_000  # > the default global cap (600/min) x RECENT_TTL: bounded memory


@dataclass(frozen=True)
class Outcome:
    """What to do about one incoming message: replies, delete it, or edit the bot's message."""

    replies: tuple[Reply, ...] = ()
    delete_message: bool = False
    edit: Reply | None = None
    toast: str = ""  # short text for a callback answer


@dataclass(frozen=True)
class EngineSettings:
    language: str = "id"
    timezone: dt.tzinfo = dt.UTC
    limits: LimitSettings = field(default_factory=LimitSettings)
    chatter: LimitSettings = field(
        default_factory=lambda: LimitSettings(user_lookups=20, user_window=60.0, user_daily=0,
                                              global_per_minute=0))
    refresh_interval: float = 5.0  # seconds between checks for a new index version
    reminder_hour: int = 7  # local hour from which day-before reminders go out
    lookup_workers: int = 2


@dataclass(slots=True)
class _Recent:
    expires: float
    tag_hex: str
    key: IndexKey = field(repr=False)
    status: str
    last4: str = field(repr=False)
    masked_name: str = field(repr=False)
    slot_end: float | None = None  # epoch seconds; set for a scheduled record


class BotEngine:
    """Everything the bot decides. ``clock`` gives epoch seconds (tests move it)."""

    def __init__(self, device: Device, keyring: Keyring, state: BotState,
                 settings: EngineSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.device = device
        self.keyring = keyring
        self.state = state
        self.settings = settings
        self.clock = clock
        self.limiter = LookupLimiter(settings.limits, settings.timezone)
        self.chatter = LookupLimiter(settings.chatter, settings.timezone)
        self._told_limited: dict[int, float] = {}
        self._recent: OrderedDict[int, _Recent] = OrderedDict()
        self._service: LookupService | None = None
        self._next_refresh = 0.0
        self._last_scan: tuple[int, dt.date, bool] | None = None
        self._executor = ThreadPoolExecutor(max_workers=max(1, settings.lookup_workers),
                                            thread_name_prefix="blt-lookup")
        try:
            self._open_service(at_start=True)
        except BltError:
            self._executor.shutdown(wait=False)
            raise

    @classmethod
    def from_device(cls, device: Device, state_path: object, settings: EngineSettings, *,
                    passphrase: str | None = None, clock: Callable[[], float] = time.time,
                    ) -> BotEngine:
        """Unlock the device (pepper file or passphrase) and load the bot's state."""
        from pathlib import Path

        keyring = device.unlock(passphrase)
        pepper = keyring.peppers.get(ALL_REGIONS) or next(iter(keyring.peppers.values()))
        path = Path(str(state_path)) if state_path is not None else None
        state = BotState(path, state_key_from_pepper(pepper))
        return cls(device, keyring, state, settings, clock=clock)

    # -- the index --------------------------------------------------------------------------

    def _open_service(self, *, at_start: bool = False) -> None:
        """Open the live index; none or a damaged one: answer "being updated" until a sync.

        At start, an index this device's pepper does not open (``index_key_mismatch``: a wrong
        pepper file) stops the bot: no sync mends it, and every recipient would be told that
        the data is being updated for ever."""
        try:
            self._service = LookupService.open(self.device, self.keyring)
        except IndexStoreError as error:
            if at_start and isinstance(error, IndexKeyMismatch):
                raise
            _LOG.warning("index not usable [%s]; answering 'data is being updated'", error.code)
            self._service = None
            return
        as_of = self._service.meta.data_as_of
        if self.state.last_valid != as_of:
            self.state.last_valid = as_of
            self.state.save()

    def refresh(self, *, force: bool = False) -> bool:
        """Pick up a new index version (at most every ``refresh_interval`` unless forced)."""
        now = self.clock()
        if not force and now < self._next_refresh:
            return False
        self._next_refresh = now + self.settings.refresh_interval
        if self._service is None:
            self._open_service()
            return self._service is not None
        try:
            switched = self._service.refresh()
        except BltError as error:
            _LOG.warning("new index version refused [%s]; keeping the current one", error.code)
            return False
        if switched:
            _LOG.info("switched to index version %d", self._service.meta.version)
            self._open_service_meta()
        return switched

    def _open_service_meta(self) -> None:
        if self._service is not None and self.state.last_valid != self._service.meta.data_as_of:
            self.state.last_valid = self._service.meta.data_as_of
            self.state.save()

    @property
    def index_version(self) -> int | None:
        return self._service.meta.version if self._service else None

    # -- helpers ----------------------------------------------------------------------------

    def language(self, user_id: int) -> str:
        return self.state.language(user_id, self.settings.language)

    def _chatter_ok(self, user_id: int) -> bool:
        return self.chatter.check(user_id, self.clock()).allowed

    @staticmethod
    def has_digits(text: str) -> bool:
        return _DIGIT.search(text) is not None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._service is not None:
            self._service.close()

    # -- commands ---------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def on_start(self, user_id: int, argument: str = "") -> Outcome:
        """/start (a deep link's payload may hold a NIK: the message is deleted then)."""
        return Outcome((dialogue.start_reply(self.language(user_id)),),
                       delete_message=self.has_digits(argument))

    def on_help(self, user_id: int) -> Outcome:
        return Outcome((dialogue.help_reply(self.language(user_id)),))

    def on_language(self, user_id: int, argument: str = "") -> Outcome:
        choice = argument.strip().lower()[:2]
        if choice in dialogue.LANGUAGES:
            self.state.set_language(user_id, choice)
            return Outcome((dialogue.language_set_reply(choice),))
        return Outcome((dialogue.language_prompt_reply(self.language(user_id)),))

    def on_unknown_command(self, user_id: int, text: str = "") -> Outcome:
        delete = self.has_digits(text)
        if not self._chatter_ok(user_id):
            return Outcome(delete_message=delete)
        return Outcome((dialogue.unknown_command_reply(self.language(user_id)),),
                       delete_message=delete)

    def on_media(self, user_id: int, *, sensitive: bool) -> Outcome:
        """Stickers, voice, photos...: photos/files may show a KTP, so they are deleted."""
        lang = self.language(user_id)
        if not self._chatter_ok(user_id):
            return Outcome(delete_message=sensitive)
        reply = dialogue.photo_reply(lang) if sensitive else dialogue.media_reply(lang)
        return Outcome((reply,), delete_message=sensitive)

    def on_edited(self, user_id: int, text: str) -> Outcome:
        lang = self.language(user_id)
        delete = self.has_digits(text)
        if not self._chatter_ok(user_id):
            return Outcome(delete_message=delete)
        return Outcome((dialogue.edited_reply(lang),), delete_message=delete)

    def on_group_message(self, chat_id: int, text: str, *, is_command: bool,
                         bot_username: str = "") -> Outcome:
        """Groups: never a lookup; point commands and NIK-like text to the private chat."""
        if not (is_command or len(_DIGIT.findall(text)) >= 6):
            return Outcome()
        if not self._chatter_ok(chat_id):
            return Outcome()
        return Outcome((dialogue.group_reply(self.settings.language, bot_username),))

    # -- lookups ----------------------------------------------------------------------------

    async def on_text(self, user_id: int, chat_id: int, text: str, *,
                      link: bool = False) -> Outcome:
        """A plain private message: a NIK (probably), or something else. ``link``: the
        transport marked a link in it (Telegram's url and text_link entities)."""
        lang = self.language(user_id)
        stripped = text.strip()
        if len(stripped) > MAX_TEXT:
            delete = self.has_digits(stripped)
            if not self._chatter_ok(user_id):
                return Outcome(delete_message=delete)
            return Outcome((dialogue.too_long_reply(lang),), delete_message=delete)
        if (link or _LINK.search(stripped)) and find_nik(fold_digits(stripped)).count == 0:
            delete = self.has_digits(stripped)
            if not self._chatter_ok(user_id):
                return Outcome(delete_message=delete)
            return Outcome((dialogue.link_reply(lang),), delete_message=delete)
        if not self.has_digits(stripped):
            if not self._chatter_ok(user_id):
                return Outcome()
            return Outcome((dialogue.no_nik_reply(lang),))
        return await self.on_lookup(user_id, chat_id, stripped)

    async def on_lookup(self, user_id: int, chat_id: int, raw: str) -> Outcome:
        """``/cek NIK`` or a NIK message: find the NIK, validate, rate-limit, derive, answer."""
        lang = self.language(user_id)
        if not raw.strip():
            return Outcome((dialogue.no_nik_reply(lang),))
        outcome = await self._lookup(user_id, chat_id, raw, lang)
        if isinstance(outcome, Outcome):
            return outcome
        return Outcome((dialogue.answer_reply(outcome, self.settings.timezone, lang,
                                              self.now()),),
                       delete_message=True)

    async def _lookup(self, user_id: int, chat_id: int, raw: str,
                      lang: str) -> Outcome | LookupResult:
        """A LookupResult, or the Outcome that replaces it (invalid, limited, no data).

        The NIK is read out of whatever was written (``NIK saya 3201 0102 ...``); a message
        with several NIKs is answered with a request for one at a time, and none is looked up.
        Whatever comes of it, this is now the chat's latest lookup: the record an earlier one
        found is forgotten, so a later ``/ingatkan`` never subscribes to it silently.
        """
        self._recent.pop(chat_id, None)
        raw = fold_digits(raw.strip())
        if len(raw) > MAX_TEXT:  # /cek or /ingatkan with a whole page after it
            if not self._chatter_ok(user_id):
                return Outcome(delete_message=self.has_digits(raw))
            return Outcome((dialogue.too_long_reply(lang),), delete_message=self.has_digits(raw))
        found = find_nik(raw)
        if found.count > 1:
            if not self._chatter_ok(user_id):
                return Outcome(delete_message=True)
            return Outcome((dialogue.several_niks_reply(lang),), delete_message=True)
        if found.count == 1:
            raw = found.groups[0]
        elif found.near_miss and _WORD.search(raw):
            raw = found.near_miss  # a sentence: explain the long number in it
        try:
            parse_nik(raw)  # cheap: no key derivation for input that is not a NIK
        except NikError as error:
            if not self._chatter_ok(user_id):
                return Outcome(delete_message=True)
            digits = len(_DIGIT.findall(raw))
            return Outcome((dialogue.invalid_nik_reply(error, lang, digits),),
                           delete_message=True)
        now = self.clock()
        decision = self.limiter.check(user_id, now)
        if not decision.allowed:
            return self._limited(user_id, decision.retry_at, decision.global_cap, lang, now)
        self._told_limited.pop(user_id, None)
        self.refresh()
        service = self._service
        if service is None:
            return Outcome((dialogue.data_updating_reply(self.state.last_valid,
                                                         self.settings.timezone, lang),),
                           delete_message=True)
        loop = asyncio.get_running_loop()
        try:
            try:
                result = await loop.run_in_executor(self._executor, service.lookup, raw)
            except IndexStoreError:
                # a sync may have switched (and closed) the version under this lookup: once more
                result = await loop.run_in_executor(self._executor, service.lookup, raw)
        except IndexStoreError as error:
            _LOG.warning("lookup failed on the index [%s]", error.code)
            return Outcome((dialogue.data_updating_reply(self.state.last_valid,
                                                         self.settings.timezone, lang),),
                           delete_message=True)
        if result.record is not None and result.record_key is not None:
            self._remember(chat_id, result)
        return result

    def _limited(self, user_id: int, retry_at: float, global_cap: bool, lang: str,
                 now: float) -> Outcome:
        """Say 'try again at HH:MM' once per limited spell; stay silent for the rest."""
        told = self._told_limited.get(user_id)
        if told is not None and told > now:
            return Outcome(delete_message=True)
        if len(self._told_limited) > 50_000:
            self._told_limited = {u: t for u, t in self._told_limited.items() if t > now}
        self._told_limited[user_id] = retry_at
        moment = dt.datetime.fromtimestamp(retry_at + 59, dt.UTC).replace(second=0,
                                                                            microsecond=0)
        reply = (dialogue.busy_reply if global_cap else dialogue.rate_limited_reply)(
            moment, self.settings.timezone, lang, dt.datetime.fromtimestamp(now, dt.UTC))
        return Outcome((reply,), delete_message=True)

    def _remember(self, chat_id: int, result: LookupResult) -> None:
        record = result.record
        assert record is not None and result.record_key is not None
        slot_end = schedule_timing(record, self.now()).end.timestamp() \
            if record.status == "scheduled" else None
        self._recent[chat_id] = _Recent(self.clock() + RECENT_TTL, result.tag_hex,
                                        result.record_key, record.status, result.nik.last4,
                                        record.name, slot_end)
        self._recent.move_to_end(chat_id)
        while len(self._recent) > RECENT_MAX:
            self._recent.popitem(last=False)

    # -- reminders --------------------------------------------------------------------------

    async def on_remind(self, user_id: int, chat_id: int, argument: str = "") -> Outcome:
        """``/ingatkan`` (after a lookup) or ``/ingatkan NIK``: subscribe this chat."""
        lang = self.language(user_id)
        if argument.strip():
            outcome = await self._lookup(user_id, chat_id, argument, lang)
            if isinstance(outcome, Outcome):
                return outcome
            if outcome.record is None:
                return Outcome((dialogue.remind_not_found_reply(lang),), delete_message=True)
        recent = self._live_recent(chat_id)
        if recent is None:
            return Outcome((dialogue.remind_needs_lookup_reply(lang),),
                           delete_message=bool(argument.strip()))
        if recent.status in dialogue.FINAL_STATUSES:
            return Outcome((dialogue.remind_final_reply(recent.status, lang),),
                           delete_message=bool(argument.strip()))
        if recent.slot_end is not None and recent.slot_end <= self.clock():
            return Outcome((dialogue.remind_past_reply(lang),),
                           delete_message=bool(argument.strip()))
        secret = SubscriptionSecret(recent.key.enc_key, recent.status, recent.last4)
        self.state.subscribe(chat_id, recent.tag_hex, secret)
        return Outcome((dialogue.reminders_on_reply(recent.masked_name, recent.last4, lang),),
                       delete_message=bool(argument.strip()))

    def on_stop(self, user_id: int, chat_id: int) -> Outcome:
        self._recent.pop(chat_id, None)
        removed = self.state.unsubscribe_chat(chat_id)
        return Outcome((dialogue.reminders_off_reply(removed, self.language(user_id)),))

    async def on_callback(self, user_id: int, chat_id: int, action: str) -> Outcome:
        lang = self.language(user_id)
        if action == dialogue.ACTION_REMIND:
            outcome = await self.on_remind(user_id, chat_id)
            return Outcome(outcome.replies, toast="🔔")
        if action == dialogue.ACTION_HELP:
            return self.on_help(user_id)
        if action == dialogue.ACTION_AGAIN:
            return Outcome((dialogue.no_nik_reply(lang),))
        if action.startswith(dialogue.ACTION_LANGUAGE):
            choice = action.removeprefix(dialogue.ACTION_LANGUAGE)
            if choice in dialogue.LANGUAGES:
                self.state.set_language(user_id, choice)
                return Outcome(edit=dialogue.language_set_reply(choice))
        return Outcome()

    def _live_recent(self, chat_id: int) -> _Recent | None:
        """This chat's last lookup, unless it has expired."""
        recent = self._recent.get(chat_id)
        return None if recent is None or recent.expires < self.clock() else recent

    def recent_kecamatan(self, chat_id: int) -> str | None:
        """The kecamatan code of the record this chat looked up, while it is still remembered.

        Only the region of the record, never the record: ``/statistik`` answers for it.
        """
        recent = self._live_recent(chat_id)
        if recent is None:
            return None
        record = self._reopen(recent.tag_hex, recent.key.enc_key)
        return ".".join(record.kode_wilayah.split(".")[:3]) if record is not None else None

    def _reopen(self, tag_hex: str, record_key: bytes) -> RecordPayload | None:
        """The current record of a subscription, or None if it is no longer in the index."""
        service = self._service
        if service is None:
            return None
        tag = bytes.fromhex(tag_hex)
        sealed = service.index.get(tag)
        if sealed is None:
            return None
        try:
            return open_payload(sealed, key=IndexKey(tag, record_key), view=service.meta.view)
        except BltError:
            return None

    def tick(self, now: dt.datetime | None = None) -> list[tuple[int, Reply]]:
        """Pick up a new index; status-change messages and day-before reminders to send."""
        now = now or dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        self.refresh(force=True)
        if self._service is None:
            return []
        tz = self.settings.timezone
        version = self._service.meta.version
        local = now.astimezone(tz)
        scan_key = (version, local.date(), local.hour >= self.settings.reminder_hour)
        if scan_key == self._last_scan:
            return []
        self._last_scan = scan_key
        version_changed = self.state.checked_version not in (None, version)
        messages: list[tuple[int, Reply]] = []
        changed = self.state.checked_version != version
        for subscription in list(self.state.subscriptions):
            secret = self.state.open(subscription)
            if secret is None:
                self.state.update(subscription, None)
                changed = True
                continue
            lang = self.language(subscription.chat_id)
            record = self._reopen(subscription.tag_hex, secret.record_key)
            if record is None:
                if version_changed:
                    messages.append((subscription.chat_id,
                                     dialogue.subscription_gone_reply(secret.last4, lang)))
                    self.state.update(subscription, None)
                    changed = True
                continue
            dirty = False
            if record.status != secret.status:
                messages.append((subscription.chat_id, dialogue.status_change_reply(
                    record, secret.status, secret.last4, tz, lang, now)))
                secret.status = record.status
                dirty = True
            payout_day = record.schedule.date
            if (record.status == "scheduled" and scan_key[2]
                    and payout_day - local.date() == dt.timedelta(days=1)
                    and secret.reminded_for != payout_day.isoformat()):
                messages.append((subscription.chat_id,
                                 dialogue.reminder_reply(record, secret.last4, tz, lang, now)))
                secret.reminded_for = payout_day.isoformat()
                dirty = True
            if dirty:
                self.state.update(subscription, secret)
                changed = True
        self.state.checked_version = version
        if changed:
            self.state.save()
        return messages
