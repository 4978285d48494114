"""Test hygiene: no BLT_* variable of the shell or of an earlier test reaches a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import TEST_CONTROL_PREFIXES

TESTS = Path(__file__).parent


def _program_variables() -> list[str]:
    return [name for name in os.environ
            if name.startswith("BLT_") and not name.startswith(TEST_CONTROL_PREFIXES)]


def test_a_test_that_sets_a_variable_directly() -> None:
    os.environ["BLT_LANG"] = "en"  # as code under test might (cli.main did)
    os.environ["BLT_PASSPHRASE"] = "leaked"


def test_no_blt_variable_reaches_a_test() -> None:
    """Runs after the test above (file order) and under a shell with BLT_* set (below)."""
    assert _program_variables() == []


def test_shell_variables_are_cleared_for_tests_and_kept_for_the_run() -> None:
    env = {**os.environ, "BLT_LANG": "en", "BLT_BOT_TOKEN": "1:shell", "BLT_CI_MARK": "kept",
           "INPUTS_HYGIENE_CHILD": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{TESTS / 'test_inputs_hygiene.py'}::test_no_blt_variable_reaches_a_test",
         f"{TESTS / 'test_inputs_hygiene.py'}::test_control_variable_is_kept"],
        env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_control_variable_is_kept() -> None:
    """Variables that steer the test run (BLT_CI_*, BLT_TEST_*) are not the program's."""
    if os.environ.get("INPUTS_HYGIENE_CHILD"):  # in the run started above
        assert os.environ.get("BLT_CI_MARK") == "kept"
