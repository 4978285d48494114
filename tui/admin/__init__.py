"""The admin mode of blt-tui (``blt-tui --central DIR``): national payout progress, drill-down."""
