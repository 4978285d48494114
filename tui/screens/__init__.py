"""The screens of the officer TUI, one per module."""

from pathlib import Path

# The screens' .tcss files sit in the tui package itself (shipped as its package data).
STYLES = Path(__file__).resolve().parent.parent
