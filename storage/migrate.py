"""Alembic, driven from code: `steward migrate` and the checks at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from storage.db import read_connection, translate_unavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for this database URL, without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on this engine's database."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with translate_unavailable(), engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def pending(engine: Engine) -> list[str]:
    """The revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with read_connection(engine) as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    revisions = []
    for rev in script.walk_revisions():
        if rev.revision in current:
            break
        revisions.append(rev.revision)
    return list(reversed(revisions))
