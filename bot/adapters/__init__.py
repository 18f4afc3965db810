"""Platform adapters: each renders the neutral :mod:`bot.messages` model for one platform."""
