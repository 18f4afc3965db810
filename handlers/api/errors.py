"""Errors a request can be refused with; each carries its HTTP status and a clear message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ItemError:
    """Why one item of a batch was refused: its position, the field and the reason."""

    index: int
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class RejectedPayload(Exception):
    """The request is refused as a whole; nothing was stored."""

    def __init__(self, status: int, message: str, errors: Sequence[ItemError] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors)
