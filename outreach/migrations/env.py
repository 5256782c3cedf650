"""Alembic environment: runs migrations on the engine handed over by ``outreach.db``.

Configured in code (no alembic.ini) so `python -m outreach migrate` works from
anywhere and the database URL, which may hold a password, is never written down.
"""

from alembic import context

from outreach.models import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
