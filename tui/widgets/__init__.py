"""Small widgets of the officer TUI."""
