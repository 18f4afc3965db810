"""Platform adapters: each renders the neutral :mod:`core.messages` model for one platform."""
