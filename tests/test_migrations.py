"""The schema is created and upgraded by Alembic, on SQLite and PostgreSQL, keeping rows."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from outreach.db import Database, alembic_config, current_revision, head_revision, migrate
from outreach.models import Base


def revisions_oldest_first(db: Database) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(db))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current_revision(database) == head_revision(database)


def test_migrating_a_populated_database_keeps_every_row(db_url: str) -> None:
    db = Database(db_url)
    first = revisions_oldest_first(db)[0]
    migrate(db, first)
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO reps (email, name, time_zone, daily_calls, active, role, in_sheet,"
            " updated_at) VALUES ('ann@example.com', 'Ann', 'America/New_York', 3, true, 'rep',"
            " true, '2026-01-05 10:00:00')"))
        for n in range(50):
            conn.execute(text(
                "INSERT INTO customers (key, first_name, last_name, company, phone, do_not_call,"
                " notes, extra, active, content_hash, created_at, updated_at) VALUES"
                f" ('id:C{n}', 'Cust{n}', 'Omer', 'Acme', '+1212555{n:04d}', false, 'n{n}', '{{}}',"
                " true, 'h', '2026-01-05 10:00:00', '2026-01-05 10:00:00')"))
    migrate(db)  # to head, through every later revision
    migrate(db)  # and again: a no-op
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customers")) == 50
        assert conn.scalar(text("SELECT notes FROM customers WHERE key = 'id:C7'")) == "n7"
        assert conn.scalar(text("SELECT email FROM reps")) == "ann@example.com"
    assert current_revision(db) == head_revision(db)
    db.dispose()
