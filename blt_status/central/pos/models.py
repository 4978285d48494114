"""The G2P Connect Disburse messages we send and accept: typed models, canonical JSON, schemas.

Our side of the Kantor Pos exchange speaks the G2P Connect *Disburse* API (DSBT-001 ``/disburse``,
DSBT-002 ``/on-disburse``, DSBT-004 ``/disburse/txn/on-status``, DSBT-005 polling). Every body is
the spec's envelope ``{"signature": MsgSignature, "header": ..., "message": ...}``.

Incoming bodies are checked against :data:`CALLBACK_SCHEMA` (JSON Schema, checked by the
``jsonschema-rs`` library) before anything else reads them, then turned into the frozen dataclasses
below. ``payee_fa`` / ``payee_name`` carry personal data: they are excluded from ``repr``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import jsonschema_rs

__all__ = [
    "CALLBACK_ACTIONS",
    "CALLBACK_SCHEMA",
    "ERROR_CODES",
    "SPEC_VERSION",
    "STATUSES",
    "DisburseRequest",
    "DisburseResponse",
    "SpecError",
    "ack_body",
    "canonical_json",
    "error_body",
    "format_amount",
    "parse_callback",
    "parse_timestamp",
]

SPEC_VERSION: Final = "1.0.0"
STATUSES: Final = ("RCVD", "PDNG", "SUCC", "RJCT")
CALLBACK_ACTIONS: Final = {"/on-disburse": ("on-disburse", "disburse_response"),
                           "/disburse/txn/on-status": ("on-status", "txnstatus_response")}
ERROR_CODES: Final = (
    "ERR_ACCESS_DENIED", "ERR_INVALID_REQUEST", "ERR_INVALID_SENDER", "ERR_INVALID_SENDER_URI",
    "ERR_INVALID_RECEIVER", "ERR_INVALID_RECEIVER_URI", "ERR_MANDATORY_HEADER_MISSING",
    "ERR_INVALID_MESSAGE_ID", "ERR_INVALID_TIMESTAMP", "ERR_INVALID_ACTION",
    "ERR_INVALID_SIGNATURE", "ERR_INVALID_ENCRYPTION", "ERR_INVALID_MESSAGE",
    "ERR_SERVICE_UNAVAILABLE")
AMOUNT_PATTERN: Final = r"^\d{1,13}\.\d{1,2}$"
_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,99}$"

_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reference_id", "timestamp", "status"],
    "properties": {
        "reference_id": {"type": "string", "pattern": _ID_PATTERN},
        "timestamp": {"type": "string", "minLength": 10, "maxLength": 40},
        "status": {"enum": list(STATUSES)},
        "status_reason_code": {"type": "string", "maxLength": 99},
        "status_reason_message": {"type": "string", "maxLength": 999},
        "instruction": {"type": "string", "maxLength": 999},
        "amount": {"type": "string", "pattern": AMOUNT_PATTERN},
        "payer_fa": {"type": "string", "maxLength": 200},
        "payer_name": {"type": "string", "maxLength": 200},
        "payee_fa": {"type": "string", "maxLength": 200},
        "payee_name": {"type": "string", "maxLength": 200},
        "currency_code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "locale": {"type": "string", "pattern": "^[a-z]{3}$"},
    },
}

CALLBACK_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["signature", "header", "message"],
    "properties": {
        "signature": {"type": "string", "maxLength": 2000},
        "header": {
            "type": "object",
            "required": ["message_id", "message_ts", "action", "status", "sender_id"],
            "properties": {
                "version": {"type": "string", "maxLength": 20},
                "message_id": {"type": "string", "pattern": _ID_PATTERN},
                "message_ts": {"type": "string", "minLength": 10, "maxLength": 40},
                "action": {"type": "string", "maxLength": 40},
                "status": {"enum": ["RCVD", "PDNG", "SUCC", "RJCT", "REJECTED", "IN_PROGRESS",
                                    "COMPLETED"]},
                "status_reason_code": {"type": "string", "maxLength": 99},
                "status_reason_message": {"type": "string", "maxLength": 999},
                "total_count": {"type": "integer", "minimum": 0},
                "completed_count": {"type": "integer", "minimum": 0},
                "sender_id": {"type": "string", "maxLength": 99},
                "receiver_id": {"type": "string", "maxLength": 99},
            },
        },
        "message": {
            "type": "object",
            "required": ["transaction_id"],
            "properties": {
                "transaction_id": {"type": "string", "pattern": _ID_PATTERN},
                "disburse_response": {"type": "array", "items": _RESPONSE_SCHEMA,
                                      "maxItems": 10000},
                # TxnStatusResponse is itself an array of DisburseResponse in the spec: both a
                # flat list and a list of lists are accepted.
                "txnstatus_response": {"type": "array", "maxItems": 10000, "items": {
                    "oneOf": [_RESPONSE_SCHEMA,
                              {"type": "array", "items": _RESPONSE_SCHEMA, "maxItems": 10000}]}},
            },
        },
    },
}
"""What ``/on-disburse``, ``/disburse/txn/on-status`` and the DSBT-005 answer must look like."""

_CALLBACK_VALIDATOR = jsonschema_rs.Draft202012Validator(CALLBACK_SCHEMA)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, separators ``,`` and ``:``, UTF-8 without ASCII escaping."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def format_amount(rupiah: int) -> str:
    """``600000`` -> ``"600000.00"`` (the spec's Amount)."""
    return f"{int(rupiah)}.00"


def parse_amount(text: str | None) -> int | None:
    if text is None or not re.fullmatch(AMOUNT_PATTERN, text):
        return None
    whole, _, cents = text.partition(".")
    return int(whole) + (1 if int(cents or "0") >= 50 else 0)


def parse_timestamp(text: str) -> dt.datetime | None:
    """An RFC 3339 time with an offset, or None (a time without an offset is refused)."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class SpecError(Exception):
    """A body that breaks the spec: the HTTP status and the spec's ``Error.code``."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DisburseRequest:
    """One payout instruction (the spec's DisburseRequest)."""

    reference_id: str
    payer_fa: str
    payee_fa: str = field(repr=False)  # <NIK>@dukcapil: personal data
    amount: str
    scheduled_timestamp: str
    payee_name: str = field(repr=False)
    instruction: str
    payer_name: str = ""
    currency_code: str = "IDR"
    locale: str = "ind"

    def to_dict(self) -> dict[str, str]:
        data = {"reference_id": self.reference_id, "payer_fa": self.payer_fa,
                "payee_fa": self.payee_fa, "amount": self.amount,
                "scheduled_timestamp": self.scheduled_timestamp, "payee_name": self.payee_name,
                "instruction": self.instruction, "currency_code": self.currency_code,
                "locale": self.locale}
        if self.payer_name:
            data["payer_name"] = self.payer_name
        return data


@dataclass(frozen=True)
class DisburseResponse:
    """One payout outcome (the spec's DisburseResponse), as the payer reported it."""

    reference_id: str
    timestamp: dt.datetime
    status: str
    status_reason_code: str | None = None
    status_reason_message: str = field(default="", repr=False)  # payer's free text
    instruction: str = ""
    amount: int | None = None

    @property
    def point_id(self) -> str | None:
        """``id_titik`` from the feedback ``instruction`` (``{"id_titik": ...}``)."""
        try:
            data = json.loads(self.instruction) if self.instruction else None
        except ValueError:
            return None
        value = data.get("id_titik") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Callback:
    """A validated callback body (signature not yet checked)."""

    signature: str
    header: Mapping[str, Any]
    message: Mapping[str, Any]
    responses: Sequence[DisburseResponse]

    @property
    def message_id(self) -> str:
        return str(self.header["message_id"])

    @property
    def transaction_id(self) -> str:
        return str(self.message["transaction_id"])


def _first_error(body: Any) -> jsonschema_rs.ValidationError | None:
    """The shallowest schema violation (the one that says most about what is wrong)."""
    errors = list(_CALLBACK_VALIDATOR.iter_errors(body))
    return min(errors, key=lambda error: len(error.instance_path)) if errors else None


def _violation(error: jsonschema_rs.ValidationError) -> str:
    """What the schema asks for, in words taken from the schema only.

    The library's own message quotes the offending value, which may be a NIK or a name the
    payer put in the wrong field: it must not travel back in a response or reach a log.
    """
    keyword = str(error.schema_path[-1]) if error.schema_path else "schema"
    if keyword == "required":
        return error.message[:200]  # names the missing property (from the schema)
    rule: Any = CALLBACK_SCHEMA
    try:
        for part in error.schema_path:
            rule = rule[part]
    except (KeyError, IndexError, TypeError):
        rule = None
    if isinstance(rule, list) and all(isinstance(value, str) for value in rule):
        rule = ", ".join(rule)
    if isinstance(rule, (str, int)) and not isinstance(rule, bool):
        return f"breaks the schema's {keyword} {str(rule)[:120]}"
    return f"breaks the schema's {keyword}"


def parse_callback(body: Any, *, action: str, items_key: str) -> Callback:
    """Check a callback body against the spec; raise :class:`SpecError` (400) if it breaks it."""
    error = _first_error(body)
    if error is not None:
        where = list(error.instance_path)
        path = "/".join(str(part) for part in where) or "body"
        required = error.schema_path[-1:] == ["required"]
        if required and where in ([], ["header"]):
            code = "ERR_MANDATORY_HEADER_MISSING" if where == ["header"] else "ERR_INVALID_REQUEST"
        else:
            code = "ERR_INVALID_MESSAGE"
        raise SpecError(400, code, f"{path}: {_violation(error)}")
    header = body["header"]
    message = body["message"]
    if header["action"] != action:
        raise SpecError(400, "ERR_INVALID_ACTION", f"action must be {action}")
    if parse_timestamp(header["message_ts"]) is None:
        raise SpecError(400, "ERR_INVALID_TIMESTAMP", "header/message_ts is not RFC 3339")
    raw_items: list[Any] = []
    for item in message.get(items_key, []):
        raw_items.extend(item if isinstance(item, list) else [item])
    responses = []
    for index, item in enumerate(raw_items):
        moment = parse_timestamp(item["timestamp"])
        if moment is None:
            raise SpecError(400, "ERR_INVALID_TIMESTAMP",
                            f"message/{items_key}/{index}/timestamp is not RFC 3339 with offset")
        responses.append(DisburseResponse(
            reference_id=item["reference_id"], timestamp=moment, status=item["status"],
            status_reason_code=item.get("status_reason_code") or None,
            status_reason_message=item.get("status_reason_message", ""),
            instruction=item.get("instruction", ""), amount=parse_amount(item.get("amount"))))
    return Callback(body["signature"], header, message, responses)


def ack_body(correlation_id: str | None = None) -> dict[str, Any]:
    """The spec's Ack for an accepted message."""
    ack: dict[str, Any] = {"status": "ACK"}
    if correlation_id:
        ack["correlation_id"] = correlation_id
    return {"message": {"ack": ack}}


def error_body(code: str, message: str) -> dict[str, Any]:
    """A NACK with the spec's ``Error`` object."""
    return {"message": {"ack": {"status": "NACK"}}, "error": {"code": code,
                                                              "message": message[:999]}}
