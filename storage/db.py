"""Engines and transactions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: writers of several processes fall back on busy_timeout
    fcntl = None  # type: ignore[assignment]

import orjson
import psycopg.errors
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_CHECKPOINT_PAGES = 16_384
WRITE_OPTION = "steward_write"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused the work; the caller may retry later."""


class TransientConflict(DatabaseUnavailable):
    """A deadlock or serialization failure: the transaction was rolled back and can be rerun."""


LOCK_POLL_SECONDS = 0.001


class SqliteWriterLock:
    """Queue SQLite writers, across threads and processes, before they begin.

    SQLite has one writer at a time, and its busy handler makes a waiting writer sleep
    for up to 100 ms between tries, leaving the database idle while requests wait.
    Threads of one process queue on a lock that hands over at once; processes (web
    workers, `steward import`) on an exclusive flock of a file beside the database,
    tried every millisecond for as long as SQLite's busy timeout.
    """

    def __init__(self, database: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = database.with_name(database.name + ".writer-lock") if database else None
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._file()
            if fd is None:
                yield
                return
            self._lock(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int | None:
        if self._path is None or fcntl is None:
            return None
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as err:
                raise DatabaseUnavailable(f"cannot open {self._path}: {err.strerror}") from err
            weakref.finalize(self, os.close, self._fd)
        return self._fd

    def _lock(self, fd: int) -> None:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseUnavailable(
                        "another process has held the database too long"
                    ) from None
                time.sleep(LOCK_POLL_SECONDS)


_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, SqliteWriterLock] = (
    weakref.WeakKeyDictionary()
)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine for a normalised database URL (see core.settings)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        pool_recycle=1800,
        json_serializer=_json_dumps,
        connect_args={"connect_timeout": 5, "application_name": "steward"},
    )


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(
        url,
        json_serializer=_json_dumps,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=8,
        poolclass=sa.pool.QueuePool if ":memory:" not in url else sa.pool.StaticPool,
    )

    database = engine.url.database or ""
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")
    _SQLITE_WRITE_LOCKS[engine] = SqliteWriterLock(Path(database) if on_disk else None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # A larger page cache and fewer, larger WAL checkpoints: a checkpoint (and its
        # fsync) after every batch costs more than the batch itself. Durability is
        # unchanged: WAL with synchronous=NORMAL survives a crash of the process.
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue on busy_timeout
        # instead of failing when a read transaction tries to upgrade.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work that writes: commits on success, rolls back on any error."""
    writer = _SQLITE_WRITE_LOCKS.get(engine)
    queue: AbstractContextManager[None] = writer.held() if writer else nullcontext()
    with (
        queue,
        translate_unavailable(),
        engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
        conn.begin(),
    ):
        yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads, with database outages raised as DatabaseUnavailable."""
    with translate_unavailable(), engine.connect() as conn:
        yield conn


@contextmanager
def translate_unavailable() -> Iterator[None]:
    """Turn connection failures, lost connections and lock timeouts into DatabaseUnavailable."""
    try:
        yield
    except exc.DBAPIError as err:
        if isinstance(
            err.orig, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
        ):
            raise TransientConflict(_describe(err)) from err
        if _is_unavailable(err):
            raise DatabaseUnavailable(_describe(err)) from err
        raise
    except exc.TimeoutError as err:  # pool exhausted
        raise DatabaseUnavailable("no database connection free in time") from err


def _is_unavailable(err: exc.DBAPIError) -> bool:
    if err.connection_invalidated:
        return True
    return isinstance(err, exc.OperationalError | exc.InterfaceError)


def _describe(err: exc.DBAPIError) -> str:
    first_line = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
    return first_line[:200]


def ping(engine: Engine) -> None:
    """Raise DatabaseUnavailable unless a trivial query succeeds."""
    with read_connection(engine) as conn:
        conn.execute(sa.text("SELECT 1"))
