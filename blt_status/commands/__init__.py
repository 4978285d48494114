"""Subcommands of ``blt-status``: one module each, discovered by ``blt_status.cli``."""
