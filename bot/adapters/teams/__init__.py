"""The Teams adapter: Bot Framework authentication, the Bot Connector, Adaptive Cards."""
