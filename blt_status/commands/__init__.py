"""Subcommands of ``blt-status``: one module each, discovered by ``blt_status.cli``.

Every module is imported to build the parser, so a module imports at its top only what its
arguments need; the library a command runs is imported inside its handler (a test keeps
SQLAlchemy, httpx, python-tuf and the chart libraries out of ``--version`` and ``nik``).
"""
