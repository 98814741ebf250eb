"""The ledger database: an append-only, hash-chained table of processing records (SQLAlchemy).

SQLite (a file, the default) and PostgreSQL (``postgresql://...``) are supported. Appends are
serialized by the database, so concurrent runs never fork the chain: SQLite takes the write lock
at ``BEGIN IMMEDIATE``; PostgreSQL locks the single head row with ``SELECT ... FOR UPDATE``. The
head row holds the last sequence number and hash, so deleting the newest records is detected too.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from gamyeon.errors import LedgerError
from gamyeon.ledger.chain import GENESIS, Record, canonical_json, check_chain, seal_record

log = logging.getLogger(__name__)

LEDGER_ENV = "GAMYEON_LEDGER"
#: how long an append waits for another writer before giving up
LOCK_TIMEOUT_S = 60

metadata = MetaData()
records_table = Table(
    "gamyeon_ledger",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("action", String(40), nullable=False, index=True),
    Column("dataset_id", String(64), index=True),
    Column("actor", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)
head_table = Table(
    "gamyeon_ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


def default_location() -> str:
    """``$GAMYEON_LEDGER``, else a SQLite file in the user's data folder (apart from outputs)."""
    env = os.environ.get(LEDGER_ENV)
    if env:
        return env
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "gamyeon" / "ledger.sqlite")


def to_url(location: str) -> str:
    """A SQLAlchemy URL for a path or URL; ``postgresql://`` uses psycopg 3."""
    if "://" not in location:
        path = Path(location).expanduser().resolve()
        return f"sqlite:///{path}"
    if location.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + location.split("://", 1)[1]
    return location


def display(location: str) -> str:
    """The location with any password hidden, for messages and records."""
    try:
        return make_url(to_url(location)).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid ledger URL>"


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LedgerError(f"cannot create the ledger folder for {path}: {err.strerror}") from None
    engine = create_engine(url, connect_args={"timeout": LOCK_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN comes too late; we issue ours
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now: appends serialize here

    return engine


class Ledger:
    """One open ledger. Use as a context manager, or call ``close``."""

    def __init__(self, location: str | None = None) -> None:
        self.location = location or default_location()
        url = to_url(self.location)
        self.display = display(self.location)
        try:
            self.engine = _sqlite_engine(url) if url.startswith("sqlite") else create_engine(url)
        except (ArgumentError, ImportError) as err:
            raise LedgerError(f"cannot use ledger {self.display}: {err}") from None
        self._prepare()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def _prepare(self) -> None:
        """Create the tables and the head row once; harmless when another process races us."""
        for attempt in range(3):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                with self.engine.begin() as conn:
                    if conn.execute(select(head_table.c.id)).first() is None:
                        conn.execute(insert(head_table).values(id=1, seq=0, hash=GENESIS))
                return
            except IntegrityError:
                continue  # another process created the head row first
            except OperationalError as err:
                if attempt == 2 or "already exists" not in str(err.orig):
                    raise LedgerError(f"cannot open ledger {self.display}: {_reason(err)}") from None
            except SQLAlchemyError as err:
                if attempt == 2:
                    raise LedgerError(f"cannot open ledger {self.display}: {_reason(err)}") from None
                time.sleep(0.1)

    def append(self, action: str, payload: dict[str, Any], dataset_id: str | None = None) -> Record:
        """Add one record at the end of the chain (atomically; waits for concurrent writers)."""
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        actor, host = _who()
        payload = json.loads(canonical_json(payload))  # what is stored is exactly what is hashed
        try:
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1).with_for_update()
                ).one()
                rec = seal_record(int(row.seq) + 1, at, action, dataset_id, actor, host, payload, str(row.hash))
                conn.execute(
                    insert(records_table).values(
                        seq=rec.seq,
                        at=rec.at,
                        action=rec.action,
                        dataset_id=rec.dataset_id,
                        actor=rec.actor,
                        host=rec.host,
                        payload=canonical_json(rec.payload),
                        prev_hash=rec.prev_hash,
                        hash=rec.hash,
                    )
                )
                conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=rec.seq, hash=rec.hash))
        except SQLAlchemyError as err:
            raise LedgerError(f"cannot write to ledger {self.display}: {_reason(err)}") from None
        log.debug("ledger %s: record %d %s", self.display, rec.seq, action)
        return rec

    def records(self) -> Iterator[Record]:
        """Every record in sequence order, streamed."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execution_options(yield_per=500).execute(
                    select(records_table).order_by(records_table.c.seq)
                )
                for row in rows:
                    yield _record(row._mapping)
        except SQLAlchemyError as err:
            raise LedgerError(f"cannot read ledger {self.display}: {_reason(err)}") from None

    def head(self) -> tuple[int, str] | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)).first()
        except SQLAlchemyError as err:
            raise LedgerError(f"cannot read ledger {self.display}: {_reason(err)}") from None
        return None if row is None else (int(row.seq), str(row.hash))

    def verify(self) -> tuple[int, list[str]]:
        """(records checked, problems); no problems means the chain is intact."""
        head = self.head()
        count, problems = check_chain(self.records(), head)
        if head is None:
            problems.append("the ledger's head row is missing")
        return count, problems


def _record(m: Any) -> Record:
    try:
        payload = json.loads(m["payload"])
    except json.JSONDecodeError:
        payload = {"unreadable": m["payload"]}
    return Record(
        seq=int(m["seq"]),
        at=str(m["at"]),
        action=str(m["action"]),
        dataset_id=m["dataset_id"],
        actor=str(m["actor"]),
        host=str(m["host"]),
        payload=payload,
        prev_hash=str(m["prev_hash"]),
        hash=str(m["hash"]),
    )


def _reason(err: SQLAlchemyError) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _who() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return user, socket.gethostname()
