"""``central publish --scheduler ADDRESS``: derive keys and seal on an existing Dask cluster.

Adds the option to the ``publish`` subcommand (registered before this module) and wraps its
handler; everything else about publishing is unchanged (see blt_status/central/cluster.py
and docs/cluster.md).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable


def register_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.choices.get("publish")
    if publish is None:
        return
    publish.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="derive keys and seal on this Dask scheduler (tls://HOST:PORT, or tcp:// on "
        "this machine only; needs blt-status[cluster]); default: the local cores")
    handler = publish.get_default("handler")
    publish.set_defaults(handler=_on_cluster(handler))


def _on_cluster(handler: Callable[[argparse.Namespace], int],
                ) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "scheduler", None):
            return handler(args)
        from blt_status.central.cluster import check_address, use_scheduler

        check_address(args.scheduler)  # refuse an insecure address before reading anything
        with use_scheduler(args.scheduler):
            return handler(args)

    return run
