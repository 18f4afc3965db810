"""The Slack adapter: Block Kit rendering and, alongside it, the Slack app."""
