"""The docs never drift from the program: CI runs their commands, and they document every command.

The README's test command is what CI runs; every subcommand is in the README; and every fenced
``sh``/``console`` block of README.md and docs/*.md runs, in order, in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from blt_status.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    install_and_run, test = commands
    assert "pip install ." in install_and_run and "blt-tui --demo" in install_and_run
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == test, "CI must run the README's test command verbatim"
    assert "pytest" in test and "[test,cluster]" in test


def subcommands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    found = []
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                nested = subcommands(child, f"{prefix} {name}")
                found.extend(nested or [f"{prefix} {name}"])
    return found


def test_every_command_is_documented_with_help() -> None:
    commands = subcommands(build_parser(), "blt-status")
    assert "blt-status nik" in commands and "blt-status lookup" in commands
    missing = [command for command in commands if f"`{command}" not in README]
    assert missing == [], f"undocumented in README.md: {missing}"
    for script in ("blt-tui", "blt-bot"):
        assert f"`{script}" in README


# -- every documented shell command runs ------------------------------------------------------

NO_TEST = "<!-- no-test -->"
FENCE = re.compile(r"^```(sh|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Blocks marked NO_TEST: they open the TUI, need a token, another host, paths outside a test
# folder or minutes (the test suite itself, benchmarks). This number may only go down.
MAX_SKIPPED = 20  # production set-up (clusters, other hosts, devices), servers, the TUI


@dataclass(frozen=True)
class ShellBlock:
    where: str  # README.md:151
    commands: tuple[str, ...]
    expected: str | None  # the output shown under a lone `$ ` command, to compare
    skipped: bool


def shell_blocks(path: Path) -> list[ShellBlock]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        body = match.group(2)
        lines = body.splitlines()
        prompted = any(line.startswith("$ ") for line in lines)
        commands: list[str] = []
        output: list[str] = []
        continued = False
        for line in lines:
            if continued:
                commands[-1] += "\n" + line
            elif prompted and line.startswith("$ "):
                commands.append(line[2:])
            elif prompted:
                output.append(line)
                continue
            elif line.strip():
                commands.append(line)
            continued = line.endswith("\\")
        shown = "\n".join(output).strip()
        expected = shown if (len(commands) == 1 and shown and "..." not in shown
                             and "…" not in shown) else None
        line_number = text[:match.start()].count("\n") + 1
        blocks.append(ShellBlock(f"{path.relative_to(ROOT)}:{line_number}", tuple(commands),
                                 expected, before.strip() == NO_TEST))
    return blocks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_document(blocks: list[ShellBlock], folder: Path) -> tuple[int, str, dict[str, str]]:
    """Run a document's blocks, in order, in one bash session in ``folder``."""
    port = str(free_port())  # the docs say 8000; a test must not depend on it being free
    script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    outputs: dict[str, str] = {}
    for index, block in enumerate(blocks):
        script.append(f"echo '@@ {block.where}' >&2")
        for command in block.commands:
            command = command.replace("8000", port)
            if block.expected is not None:
                outputs[block.where] = f".out-{index}"
                command = f"{command} > .out-{index}"
            script.append(command)
            if re.search(r"\s&(\s|$)", command) and port in command:
                # a server started in the background: wait (bounded) until it listens
                script.append(f"for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/{port}) "
                              "2>/dev/null && break; sleep 0.1; done")
    env = {key: value for key, value in os.environ.items() if not key.startswith("BLT_")}
    env.update(HOME=str(folder), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
               BLT_DEMO_DIR=str(folder / "demo-cache"))
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    shown = {where: (folder / name).read_text(encoding="utf-8") for where, name in
             outputs.items() if (folder / name).exists()}
    return done.returncode, done.stderr, shown


def runnable(path: Path) -> list[ShellBlock]:
    return [block for block in shell_blocks(path) if not block.skipped]


def test_the_block_reader_sees_commands_outputs_and_markers() -> None:
    blocks = {block.where: block for path in DOCUMENTS for block in shell_blocks(path)}
    nik = next(block for block in blocks.values() if block.commands == (
        'blt-status nik "3201 0145 0590 0001"',))
    assert nik.expected is not None and "Cibinong" in nik.expected and not nik.skipped
    assert any(block.skipped for block in blocks.values())
    skipped = [where for where, block in blocks.items() if block.skipped]
    assert len(skipped) <= MAX_SKIPPED, skipped


@pytest.mark.parametrize("path", [path for path in DOCUMENTS if runnable(path)],
                         ids=lambda path: path.name)
def test_every_documented_shell_block_runs(path: Path, tmp_path: Path) -> None:
    blocks = runnable(path)
    for block in blocks:
        for command in block.commands:
            if "central init" in command:  # a test folder uses the cheap KDF, and so does the doc
                assert "--kdf test" in command, f"{block.where}: say --kdf test (or no-test)"
    returncode, stderr, outputs = run_document(blocks, tmp_path)
    failed_block = ([line for line in stderr.splitlines() if line.startswith("@@ ")] or [""])[-1]
    assert returncode == 0, f"{failed_block[3:]} failed:\n{stderr[-1500:]}"
    for block in blocks:
        if block.expected is not None:
            assert outputs[block.where].strip() == block.expected, block.where
