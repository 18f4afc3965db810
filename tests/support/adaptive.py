"""The Adaptive Card 1.5 schema validator Teams cards are checked with."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft6Validator  # type: ignore[import-untyped]

SCHEMA_PATH = Path(__file__).parent / "data" / "adaptive-card-1.5.schema.json"


def _validator() -> Draft6Validator:
    """The published 1.5 schema, plus Teams' own ``msteams`` card property (outside the
    Adaptive Card schema, documented by Teams: ``{"width": "Full"}`` for a full-width card,
    ``entities`` for mentions: ``{"type": "mention", "text": "<at>Name</at>",
    "mentioned": {"id", "name"}}``)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    card = schema["definitions"]["AdaptiveCard"]
    mention = {
        "type": "object",
        "properties": {
            "type": {"enum": ["mention"]},
            "text": {"type": "string", "pattern": "^<at>.+</at>$"},
            "mentioned": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                "required": ["id", "name"],
                "additionalProperties": False,
            },
        },
        "required": ["type", "text", "mentioned"],
        "additionalProperties": False,
    }
    card["properties"]["msteams"] = {
        "type": "object",
        "properties": {
            "width": {"enum": ["Full"]},
            "entities": {"type": "array", "items": mention},
        },
        "additionalProperties": False,
    }
    return Draft6Validator(schema)


VALIDATOR = _validator()
