"""The README never drifts from the program: CI runs its command, and it documents every command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

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
