"""Opening the database: SQLite by default, PostgreSQL for teams with several processes.

One :class:`Database` per process holds the engine and the session factory.
Callers own their transactions: ``with db.session() as s, s.begin(): ...``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from outreach.errors import DatabaseUnavailable
from outreach.settings import masked_database_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalise_url(raw: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for plain ``postgresql://`` URLs."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUnavailable(
            "OUTREACH_DATABASE_URL is not a database URL "
            "(expected e.g. sqlite:///data/outreach.db or postgresql://user@host/db)"
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(
            f"OUTREACH_DATABASE_URL uses {url.get_backend_name()!r}; Outreach supports "
            "sqlite and postgresql"
        )
    return url


def _prepare_sqlite(engine: Engine, url: URL) -> None:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # WAL lets the app read while the worker writes; busy_timeout makes a
        # writer wait for the other instead of failing with "database is locked".
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_db_engine(raw_url: str, **engine_options: object) -> Engine:
    url = normalise_url(raw_url)
    try:
        _refuse_async_driver(url)
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": 15}, **engine_options)
            _prepare_sqlite(engine, url)
        else:
            options = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
            options.update(engine_options)
            engine = create_engine(url, **options)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise DatabaseUnavailable(f"cannot use OUTREACH_DATABASE_URL: {exc}") from None
    except ImportError as exc:  # the URL names a driver (psycopg2, pg8000...) we do not ship
        raise DatabaseUnavailable(
            f"OUTREACH_DATABASE_URL needs the Python driver {exc.name or url.drivername!r}, which is "
            f"not installed; {_SUPPORTED}"
        ) from None
    except OSError as exc:  # the SQLite file's folder cannot be created
        folder = Path(url.database or "").parent
        raise DatabaseUnavailable(
            f"cannot create the folder {folder} for the SQLite database: {exc.strerror or exc}"
        ) from None
    return engine


_SUPPORTED = "use postgresql://user@host/db (psycopg 3) or sqlite:///path/to/file.db"


def _refuse_async_driver(url: URL) -> None:
    # An asyncio driver (asyncpg, aiosqlite) would fail later, at the first query, with a
    # message about greenlets that tells an operator nothing.
    if url.get_dialect().is_async:
        raise DatabaseUnavailable(
            f"OUTREACH_DATABASE_URL uses the asyncio driver {url.drivername!r}, which Outreach "
            f"cannot use; {_SUPPORTED}"
        )


class Database:
    """The engine and session factory of one process."""

    def __init__(self, raw_url: str, **engine_options: object) -> None:
        self.engine = create_db_engine(raw_url, **engine_options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        return masked_database_url(self.engine.url)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def check(self) -> None:
        """Fail with one clear line if the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot open the database {self.display_url}: {first_line(exc)}"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()


def insert_new(session: Session, table: Table, unique: list[str]) -> Insert:
    """An INSERT that skips rows whose ``unique`` columns are taken (ON CONFLICT DO NOTHING).

    How an outbox key, a lease name or a lead's line in an e-mail stays one row when the
    same decision is made twice (a restart, two workers).
    """
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=unique)


# "name@host" in a driver's message: the tail of a password with an unencoded '@' (which the
# URL parser took for part of the host), or a customer's e-mail address. Neither belongs in a log.
_BEFORE_AN_AT = re.compile(r"[^\s'\"()<>,;=/@]+@(?=[\w\[])")


def first_line(exc: Exception) -> str:
    """The driver's own first line, never the statement: its parameters hold customers' data."""
    cause = getattr(exc, "orig", None) or exc
    text_ = str(cause).strip()
    return _BEFORE_AN_AT.sub("***@", text_.splitlines()[0]) if text_ else ""


def database_reason(exc: Exception) -> str:
    """One line for a log or a page: what kind of error, and the driver's first line."""
    cause = getattr(exc, "orig", None) or exc
    line = first_line(exc)
    return f"{type(cause).__name__}: {line}" if line else type(cause).__name__


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Handed over as an object, not a string, so a password never passes
    # through configparser interpolation or a log line.
    config.attributes["engine"] = db.engine
    return config


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; rows already stored are kept."""
    db.check()
    command.upgrade(alembic_config(db), revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()


def require_current_schema(db: Database) -> None:
    """Refuse to run on a database that has not been migrated to this code's schema."""
    db.check()
    current, head = current_revision(db), head_revision(db)
    if current != head:
        raise DatabaseUnavailable(
            f"the database schema is at {current or 'nothing'}, this version needs {head}: "
            "run `python -m outreach migrate`"
        )
