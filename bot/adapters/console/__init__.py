"""The console adapter: cards rendered as plain text for the terminal."""
