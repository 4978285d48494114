"""A ``blt-status sync`` that stops at a named phase, for the kill tests (test-only code).

    python tests/support/paused_sync.py DATA_DIR URL PHASE MARKER

Runs the real :func:`blt_status.sync.sync_device` with a ``checkpoint`` hook: at ``PHASE`` it
writes ``MARKER`` and sleeps, so the test can SIGKILL the process at exactly that point. The
production code has no such pause; the hook is passed in here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from blt_status.device import Device
from blt_status.errors import BltError
from blt_status.sync import sync_device


def main(argv: list[str]) -> int:
    data_dir, url, phase, marker = argv

    def checkpoint(reached: str) -> None:
        if reached == phase:
            Path(marker).write_text(reached)
            time.sleep(120)

    try:
        sync_device(Device.load(Path(data_dir)), url, checkpoint=checkpoint)
    except BltError as error:
        print(error.line("en"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
