"""One lead the worker cannot handle fails alone: named in the log and on Data status."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from outreach.models import JobProblem
from tests.factories import add_lead
from tests.followup_world import LOS_ANGELES, MON, Team, inbox, local, new_lead, run_worker, team

__all__ = ["team"]  # the fixture, imported for pytest to find

YEAR_ONE = datetime(1, 1, 1, 1, tzinfo=UTC)


def test_a_lead_from_year_one_does_not_stop_the_other_escalations(team: Team, caplog) -> None:
    runtime = team.runtime
    new_lead(runtime, team.lena, "Pat Good", local(MON, 9, 0))
    with runtime.db.session() as session, session.begin():
        bad = add_lead(session, team.lena, "Odd Stamp", created_at=YEAR_ONE)
        bad.next_reminder_at = local(MON, 9, 0)
        bad_id = bad.id
    with caplog.at_level(logging.WARNING):
        run_worker(runtime, local(MON, 9, 0), local(MON + timedelta(days=3), 9, 0))
    sent = inbox(runtime, LOS_ANGELES)
    assert "reminder lena+maria Mon 08:00: Pat" in sent  # the good lead's reminders went on
    assert any(line.startswith("escalation maria") and line.endswith(": Pat") for line in sent)
    assert not any("Odd" in line for line in sent)
    with runtime.db.session() as session:
        [problem] = session.scalars(select(JobProblem))
        assert (problem.job, problem.subject) == ("nag", f"lead {bad_id} (Odd Stamp)")
        assert problem.reason.startswith("OverflowError")
    assert f"lead {bad_id} (Odd Stamp) set aside" in caplog.text


def test_data_status_names_what_was_set_aside_and_a_skipped_sync(demo_app) -> None:  # type: ignore[no-untyped-def]
    from outreach import clock, lease
    from outreach.job_problems import note
    from outreach.sheet.sync import SYNC_LEASE, SYNC_LEASE_TTL, run_sync
    from outreach.worker import LEASE_NAME
    from tests.apptest import MANAGER, open_app

    now = clock.now()
    with demo_app.db.session() as session, session.begin():
        note(session, "nag", "lead 7 (Odd Stamp)", OverflowError("date value out of range"), now)
        note(session, "nag", "lead 7 (Odd Stamp)", OverflowError("date value out of range"), now)
        assert lease.acquire(session, SYNC_LEASE, "a worker mid-sync", now, SYNC_LEASE_TTL)
        assert lease.acquire(session, LEASE_NAME, "the worker", now, SYNC_LEASE_TTL)
    assert run_sync(demo_app.db, demo_app.source(), now).busy
    at = open_app("data_status.py", as_email=MANAGER)
    assert not at.exception
    [table] = [t.value for t in at.dataframe if "what" in t.value.columns]
    assert table[["job", "what", "reason", "times"]].values.tolist() == [
        ["nag", "lead 7 (Odd Stamp)", "OverflowError: date value out of range", 2]]
    assert any(i.value.startswith("Sync skipped just now: another sync was running") for i in at.info)
    assert any("1 set aside" in w.value for w in at.warning)
