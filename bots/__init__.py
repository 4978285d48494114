"""The recipients' Telegram bot: dialogue (``dialogue``), behaviour (``engine``), Telegram
adapter (``telegram_adapter``), terminal mode (``console``) and the ``blt-bot`` entry point."""
