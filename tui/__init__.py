"""blt-tui: the village officer's terminal UI (Textual) over the blt_status core."""

__all__: list[str] = []
