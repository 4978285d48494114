"""The screens of the officer TUI, one per module."""
