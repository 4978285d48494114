"""``blt-status central pos ...``: the Kantor Pos exchange over G2P Connect Disburse (issue 9)."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blt_status.commands._common import add_json, int_range, port_number, print_error, print_json
from blt_status.commands.central import (
    OneLineErrorParser,
    TerminalProgress,
    _os_errors_as_one_line,
)
from blt_status.errors import CentralError, os_reason
from blt_status.i18n import _, format_number

__all__ = ["register_central"]


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            _("{url} must start with http:// or https://").format(url=text))
    return text


def _seconds(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type``: a number of seconds (or a rate) above ``low``, up to ``high``.

    ``--timeout -1`` or ``--publish-every 0`` is a usage error, not a crash once running.
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low < value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(
                _("{value} is not a number above {low} and at most {high}").format(
                    value=text, low=format_number(low), high=format_number(high)))
        return value

    parse.__name__ = "float"
    return parse


def _add_retry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--attempts", type=int_range(1, 100), default=6, metavar="N",
                        help="attempts per message before giving up (default 6)")
    parser.add_argument("--max-wait", type=_seconds(0, 3600), default=30.0, metavar="S",
                        help="longest wait between attempts, also caps Retry-After (default 30)")
    parser.add_argument("--timeout", type=_seconds(0, 3600), default=30.0, metavar="S",
                        help="seconds to wait for one answer (default 30)")


def _policy(args: argparse.Namespace) -> Any:
    from blt_status.central.pos.http import RetryPolicy

    return RetryPolicy(attempts=max(1, args.attempts), initial_wait=min(0.5, args.max_wait),
                       max_wait=args.max_wait, timeout=args.timeout)


def register_central(commands: argparse._SubParsersAction[Any]) -> None:
    pos = commands.add_parser(
        "pos", help="exchange with Kantor Pos over the G2P Connect Disburse API",
        description="Push payout instructions to the payer (Kantor Pos) and take its signed "
        "payout feedback, by callback (listen) or polling (pull). See docs/pos.md.")
    sub = pos.add_subparsers(dest="pos_command", metavar="SUBCOMMAND", required=True,
                             parser_class=OneLineErrorParser)

    configure = sub.add_parser(
        "configure", help="name the payer: id, public key, bearer token files",
        description="Store the payer's id and Ed25519 public key (verifies its callbacks) and "
        "the paths of two token files: F, the bearer token sent to the payer, and F2, the "
        "token the payer must present to `pos listen`. Tokens are read when used, never "
        "copied or printed. Instead of F, the token can come from the payer's OAuth2 token "
        "endpoint (--token-url, --client-id, --client-secret-file).")
    configure.add_argument("directory", type=Path, metavar="DIR")
    configure.add_argument("--payer-id", required=True, metavar="ID",
                           help="the payer's id (the sender_id of its callbacks)")
    configure.add_argument("--payer-key", required=True, type=Path, metavar="PEM",
                           help="the payer's Ed25519 public key (PEM): verifies its callbacks "
                           "and polling answers")
    source = configure.add_mutually_exclusive_group(required=True)
    source.add_argument("--token-file", type=Path, metavar="F",
                        help="the bearer token we present to the payer, in a file")
    source.add_argument("--token-url", type=_url, metavar="URL",
                        help="or fetch it: the payer's OAuth2 token endpoint (G2P Connect "
                        "AUTHZ-TOKN, client credentials)")
    configure.add_argument("--client-id", default=None, metavar="ID",
                           help="our OAuth2 client id at the payer (with --token-url)")
    configure.add_argument("--client-secret-file", type=Path, default=None, metavar="F",
                           help="file holding our OAuth2 client secret (with --token-url)")
    configure.add_argument("--client-auth", choices=("basic", "post"), default="basic",
                           help="how the client authenticates at the token endpoint: HTTP "
                           "Basic (default) or in the form body")
    configure.add_argument("--scope", default=None, metavar="SCOPE",
                           help="OAuth2 scope to ask for (optional)")
    configure.add_argument("--callback-token-file", required=True, type=Path, metavar="F2",
                           help="the bearer token the payer must present to `pos listen`, in "
                           "a file")
    configure.add_argument("--sender-id", default=None, metavar="ID",
                           help="our id at the payer (default blt-status-central)")
    configure.add_argument("--payer-fa", default=None, metavar="FA",
                           help="the programme's account, e.g. blt-pangan@kemensos")
    configure.add_argument("--payer-name", default="", metavar="NAME",
                           help="payer_name sent with each instruction (optional)")
    configure.add_argument("--callback-url", type=_url, default=None, metavar="URL",
                           help="full URL the payer POSTs on-disburse to (header.sender_uri)")
    configure.add_argument("--batch-size", type=int, default=None, metavar="N",
                           help="requests per message (default 1000)")
    add_json(configure)
    configure.set_defaults(handler=_os_errors_as_one_line(run_configure))

    public_key = sub.add_parser(
        "public-key", help="print the store's exchange public key (PEM) for the payer",
        description="Print the Ed25519 public key (PEM) that verifies our messages; the key "
        "pair is made on first use and kept in DIR/private/pos/ (0600).")
    public_key.add_argument("directory", type=Path, metavar="DIR")
    add_json(public_key)
    public_key.set_defaults(handler=_os_errors_as_one_line(run_public_key))

    push = sub.add_parser(
        "push", help="send a published version's payout instructions (POST /disburse)",
        description="Send the disbursement instructions of a published version: one "
        "transaction per payout point, batches of signed messages, retried with backoff. "
        "Pushing again sends nothing new; an interrupted push resumes.")
    push.add_argument("directory", type=Path, metavar="DIR")
    push.add_argument("--endpoint", type=_url, required=True, metavar="URL",
                      help="the payer's API base URL (POST URL/disburse)")
    push.add_argument("--callback-url", type=_url, default=None, metavar="URL",
                      help="full URL the payer POSTs on-disburse to (default: the configured "
                      "one)")
    push.add_argument("--version", type=int, default=None, metavar="V",
                      help="the published version to push (default: the newest)")
    push.add_argument("--batch-size", type=int, default=None, metavar="N",
                      help="requests per message (default: the configured size)")
    _add_retry(push)
    add_json(push)
    push.set_defaults(handler=_os_errors_as_one_line(run_push))

    listen = sub.add_parser(
        "listen", help="receive the payer's signed callbacks (on-disburse, on-status)",
        description="Serve POST /on-disburse and /disburse/txn/on-status: bearer token, "
        "signature and spec checks, then the payout facts go to the ledger. Binds to "
        "loopback unless --host says otherwise; TLS with --tls-cert/--tls-key or behind a "
        "reverse proxy.")
    listen.add_argument("directory", type=Path, metavar="DIR")
    listen.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    listen.add_argument("--port", type=port_number, default=8443, metavar="P",
                        help="TCP port (default 8443; 0: any free port)")
    listen.add_argument("--tls-cert", type=Path, default=None, metavar="PEM",
                        help="TLS certificate chain (PEM), with --tls-key")
    listen.add_argument("--tls-key", type=Path, default=None, metavar="PEM",
                        help="TLS private key (PEM), with --tls-cert")
    listen.add_argument("--max-body", type=int_range(1024, 1 << 30), default=8 * 1024 * 1024,
                        metavar="BYTES",
                        help="largest accepted body (default 8 MiB)")
    listen.add_argument("--rate", type=_seconds(0, 1_000_000), default=20.0, metavar="R",
                        help="requests per second allowed per client (default 20)")
    listen.add_argument("--publish-every", type=_seconds(0, 86_400 * 366), default=None,
                        metavar="S",
                        help="publish a new version every S seconds when facts arrived")
    listen.add_argument("--verbose", action="store_true", help="log every request")
    listen.set_defaults(handler=_os_errors_as_one_line(run_listen))

    pull = sub.add_parser(
        "pull", help="poll the payer (DSBT-005) for references without a final status",
        description="For every transaction with references still open, GET "
        "{endpoint}/disburse/search/{transaction_id}/false and record the answers like "
        "callbacks.")
    pull.add_argument("directory", type=Path, metavar="DIR")
    pull.add_argument("--endpoint", type=_url, required=True, metavar="URL",
                      help="the payer's API base URL (GET URL/disburse/search/...)")
    pull.add_argument("--publish", action="store_true",
                      help="publish the next version afterwards")
    _add_retry(pull)
    add_json(pull)
    pull.set_defaults(handler=_os_errors_as_one_line(run_pull))


def run_configure(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.pos.config import (
        DEFAULT_BATCH,
        DEFAULT_PAYER_FA,
        DEFAULT_SENDER,
        PosConfig,
        save_config,
    )
    from blt_status.central.pos.signing import signing_key

    store = CentralStore.open(args.directory)
    try:
        pem = args.payer_key.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise CentralError("pos_payer_key") from None
    config = PosConfig(
        payer_id=args.payer_id, payer_key_pem=pem,
        token_file=str(args.token_file.resolve()) if args.token_file else None,
        callback_token_file=str(args.callback_token_file.resolve()),
        sender_id=args.sender_id or DEFAULT_SENDER, payer_fa=args.payer_fa or DEFAULT_PAYER_FA,
        payer_name=args.payer_name, callback_url=args.callback_url,
        batch_size=args.batch_size or DEFAULT_BATCH, token_url=args.token_url,
        client_id=args.client_id,
        client_secret_file=(str(args.client_secret_file.resolve())
                            if args.client_secret_file else None),
        client_auth=args.client_auth, scope=args.scope)
    save_config(store, config)
    signing_key(store)
    if args.json:
        print_json(config.summary())
        return 0
    print(_("Kantor Pos exchange configured: payer {payer}, sender id {sender}.").format(
        payer=config.payer_id, sender=config.sender_id))
    print(_("Give the payer our public key: blt-status central pos public-key {directory}"
            ).format(directory=args.directory))
    return 0


def run_public_key(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.pos.signing import key_id, public_pem, signing_key

    store = CentralStore.open(args.directory)
    key = signing_key(store)
    if args.json:
        print_json({"key_id": key_id(key), "algorithm": "ed25519", "pem": public_pem(key)})
        return 0
    sys.stdout.write(public_pem(key))
    return 0


def _push_lines(report: dict[str, Any]) -> list[str]:
    lines = [_("Version {version}: {sent} instructions delivered in {messages} messages "
               "({transactions} transactions).").format(
                   version=report["version"], sent=format_number(report["sent"]),
                   messages=format_number(report["messages_sent"]),
                   transactions=format_number(report["transactions"])),
             _("  skipped: {unchanged} already delivered unchanged, {final} already collected "
               "or returned").format(unchanged=format_number(report["skipped_unchanged"]),
                                     final=format_number(report["skipped_final"]))]
    if report["skipped_newer"]:
        lines.append(_("  not sent: {count} already sent with a newer version (the payer keeps "
                       "the last instruction it got)").format(
                           count=format_number(report["skipped_newer"])))
    if report["messages_already_delivered"]:
        lines.append(_("  delivered by an earlier push: {messages} messages").format(
            messages=format_number(report["messages_already_delivered"])))
    if report["refused"]:
        codes = ", ".join(f"{code} {count}" for code, count
                          in sorted(report["refused_by_code"].items()))
        lines.append(_("  refused by the payer: {count} ({codes})").format(
            count=format_number(report["refused"]), codes=codes))
    if report["removed"]:
        lines.append(_("  no longer in the roster (sent earlier, no cancel in the spec): "
                       "{count}").format(count=format_number(report["removed"])))
    if report["not_delivered"]:
        lines.append(_("  NOT delivered yet: {count}").format(
            count=format_number(report["not_delivered"])))
    return lines


def run_push(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.pos.config import load_config
    from blt_status.central.pos.push import push

    store = CentralStore.open(args.directory)
    config = load_config(store)
    if args.batch_size is not None and args.batch_size < 1:
        raise CentralError("pos_batch_size")
    progress = TerminalProgress.for_args(args)
    try:
        report = push(store, config, endpoint=args.endpoint, callback_url=args.callback_url,
                      version=args.version, batch_size=args.batch_size, policy=_policy(args),
                      progress=progress)
    finally:
        progress.close()
    data = report.to_dict()
    error = None
    if not report.complete:
        error = CentralError("pos_unreachable", endpoint=args.endpoint,
                             reason=report.unreachable_reason or "?",
                             delivered=report.messages_sent + report.messages_already_delivered,
                             pending=report.not_delivered)
    elif report.refused:  # reached, but nothing of those went: a cron job must see it fail
        error = CentralError("pos_refused", endpoint=args.endpoint,
                             refused=format_number(report.refused),
                             codes=", ".join(sorted(report.refused_by_code)))
    if args.json:
        print_json({**data, **({"error": error.to_dict()} if error else {})})
    else:
        for line in _push_lines(data):
            print(line)
    if error is not None:
        print_error(error)
        return 1
    return 0


def run_listen(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.pos.config import load_config
    from blt_status.central.pos.receiver import ListenSettings, serve

    store = CentralStore.open(args.directory)
    config = load_config(store)
    # Our receiver's lines (INFO, or every request with --verbose); other libraries' only from
    # WARNING up (the schema migration's INFO lines are no operator's business).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("blt_status").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CentralError("pos_tls", reason=_("give both --tls-cert and --tls-key"))
    settings = ListenSettings(host=args.host, port=args.port, max_body=args.max_body,
                              rate=args.rate, burst=max(1, int(args.rate * 2)),
                              tls_cert=args.tls_cert, tls_key=args.tls_key,
                              publish_every=args.publish_every)

    def publish() -> int:
        from blt_status.central.publish import refresh

        return refresh(store).version

    def ready(url: str) -> None:
        print(_("Listening on {url} (Ctrl-C to stop)").format(url=url), flush=True)

    try:
        totals = serve(store, config, settings, publish=publish, ready=ready)
    except OSError as error:
        raise CentralError("pos_listen", host=args.host, port=args.port,
                           reason=os_reason(error)) from None
    print(_("Stopped: {recorded} payout facts recorded, {duplicates} duplicates.").format(
        recorded=format_number(totals.recorded), duplicates=format_number(totals.duplicates)))
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.pos.config import load_config
    from blt_status.central.pos.pull import pull

    store = CentralStore.open(args.directory)
    config = load_config(store)
    report = pull(store, config, endpoint=args.endpoint, policy=_policy(args))
    data = report.to_dict()
    if args.publish and report.feedback.recorded:
        from blt_status.central.publish import refresh

        data["version"] = refresh(store).version
    if args.json:
        print_json(data)
        return 0
    print(_("Asked about {asked} of {transactions} open transactions: {recorded} payout facts "
            "recorded, {duplicates} already known, {pending} still pending, {unknown} unknown "
            "references.").format(
                asked=format_number(data["asked"]),
                transactions=format_number(data["transactions"]),
                recorded=format_number(data["recorded"]),
                duplicates=format_number(data["duplicates"]),
                pending=format_number(data["pending"]),
                unknown=format_number(data["unknown_references"])))
    if data["rejected"]:
        # Facts the ledger's checks refused: their references stay open until the payer
        # corrects them, so say why they are not counted as recorded.
        codes = ", ".join(f"{code} {format_number(count)}"
                          for code, count in sorted(data["rejected_by_code"].items()))
        print(_("  rejected by the payout checks: {count} ({codes})").format(
            count=format_number(data["rejected"]), codes=codes))
    for transaction, code in sorted(report.refused.items()):
        print(_("  {transaction}: answer refused [{code}]").format(transaction=transaction,
                                                                   code=code))
    print(_("References still without a final status: {count}").format(
        count=format_number(data["open_after"])))
    return 0
