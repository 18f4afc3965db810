"""Secrets kept in the database (Slack workspaces' tokens), encrypted with Fernet.

``STEWARD_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated, newest first:
the first encrypts, every one decrypts (``MultiFernet``), so a key is rotated by putting
a new one in front, restarting, running ``steward slack-workspaces --rekey`` (every
stored token written again with the newest key), then removing the old key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealError(Exception):
    """No key, a malformed key, or a value no configured key can open."""


class Sealer:
    """Encrypt and decrypt short secrets with the configured Fernet keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SealError(
                "STEWARD_ENCRYPTION_KEY is not set: generate one with `steward encryption-key`"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError):
            raise SealError(
                "STEWARD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
                "comma-separated; generate one with `steward encryption-key`"
            ) from None

    def seal(self, secret: str) -> str:
        """The secret encrypted with the newest key (a Fernet token, ASCII)."""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret back; raises SealError when no configured key opens it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SealError("a stored secret opens with none of STEWARD_ENCRYPTION_KEY") from None

    def reseal(self, sealed: str) -> str:
        """The same secret encrypted with the newest key (for key rotation)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SealError("a stored secret opens with none of STEWARD_ENCRYPTION_KEY") from None


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode("ascii")
