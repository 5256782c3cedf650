"""Reassigning with context and closing duplicates with the kept lead named (issue 13), on the
follow-up team: Maria manages Nick (New York) and Lena (Los Angeles)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from outreach.access import Viewer
from outreach.errors import OutreachError
from outreach.leads.leads import (
    KEPT,
    REOPENED,
    UNDONE,
    close_as_duplicate,
    duplicate_candidates,
    log_followup,
    reassign,
    undo_duplicate,
    working_reps,
)
from outreach.models import Lead, LeadEvent, OutboxMessage, Rep
from outreach.runtime import team_settings
from tests.factories import add_lead
from tests.followup_world import MON, Team, local, new_lead, run_worker, sent, team

__all__ = ["team"]  # the fixture, imported for pytest to find


def as_manager(team: Team, session) -> Viewer:  # type: ignore[no-untyped-def]
    return Viewer.of(session.get(Rep, team.manager.id))


def hand_to_lena(team: Team, lead_id: int, at: datetime) -> None:
    with team.runtime.db.session() as session, session.begin():
        reassign(session, as_manager(team, session), lead_id, team.lena.id, team_settings(session), at)


def mail(team: Team, kind: str, lead_id: int) -> list[OutboxMessage]:
    with team.runtime.db.session() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == kind, OutboxMessage.lead_id == lead_id).order_by(OutboxMessage.id)))


def test_the_new_owner_hears_it_was_handed_over_from_whom_how_old_and_how_tried(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Olive Older", local(MON, 9, 0))
    for minute, outcome in ((10, "voicemail"), (40, "no_answer")):
        with team.runtime.db.session() as session, session.begin():
            log_followup(session, Viewer.of(session.get(Rep, team.nick.id)), lead, outcome,
                         local(MON, 9, minute))
    hand_to_lena(team, lead, local(MON, 12, 0))
    alerts = mail(team, "alert", lead)
    assert [a.to_email for a in alerts] == ["nick@example.com", "lena@example.com"]
    handover = alerts[-1]
    assert handover.subject == "Handed over to you: Olive Older — waiting 3 hours, 2 attempts"
    for part in (handover.text, handover.html):
        assert "Maria Boss" in part and "from Nick Nowak" in part
        assert "3 hours" in part and "2 attempts" in part and "no answer" in part
        assert "A new lead just arrived" not in part
    with team.runtime.db.session() as session:
        (event,) = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead,
                                                           LeadEvent.outcome == "reassigned"))
    assert (event.from_rep_id, event.rep_id) == (team.nick.id, team.manager.id)


def test_the_previous_owner_is_told_the_lead_left_them_once(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Pat <b>Bold</b>", local(MON, 9, 0))
    hand_to_lena(team, lead, local(MON, 9, 30))
    hand_to_lena(team, lead, local(MON, 9, 31))  # already hers: nothing new
    (note,) = mail(team, "left-you", lead)
    assert note.to_email == "nick@example.com"
    assert note.subject == "Pat <b>Bold</b> is now Lena Lopez's lead"
    assert "handed Pat <b>Bold</b> over to Lena Lopez" in note.text and "no more reminders" in note.text
    assert "&lt;b&gt;Bold&lt;/b&gt;" in note.html and "<b>Bold</b>" not in note.html
    run_worker(team.runtime, local(MON, 9, 31), local(MON, 9, 45))
    assert "left-you nick Mon 09:31" in sent(team.runtime, lead_id=lead)


def test_a_lead_not_yet_called_says_so_in_the_handover(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Fresh Face", local(MON, 9, 0))
    hand_to_lena(team, lead, local(MON, 9, 20))
    handover = mail(team, "alert", lead)[-1]
    assert "has not been called yet" in handover.text
    assert handover.subject.endswith("waiting 20 minutes, not called yet")


def two_leads(team: Team) -> tuple[int, int]:
    """The same person twice: Nick's first lead is kept, the second is the duplicate."""
    kept = new_lead(team.runtime, team.nick, "Dana Double", local(MON, 9, 0))
    again = new_lead(team.runtime, team.nick, "Dana Double", local(MON, 9, 5))
    return kept, again


def test_closing_a_duplicate_names_the_kept_lead_in_both_histories(team: Team) -> None:
    kept, again = two_leads(team)
    with team.runtime.db.session() as session, session.begin():
        close_as_duplicate(session, as_manager(team, session), again, local(MON, 9, 10), kept_id=kept)
    with team.runtime.db.session() as session:
        closed = session.get(Lead, again)
        assert (closed.status, closed.duplicate_of_id, closed.next_reminder_at) == ("duplicate", kept, None)
        events = {e.lead_id: e for e in session.scalars(select(LeadEvent).where(
            LeadEvent.lead_id.in_([kept, again])))}
    assert (events[again].outcome, events[again].related_lead_id) == ("closed", kept)
    assert (events[kept].outcome, events[kept].related_lead_id) == (KEPT, again)


def test_a_lead_cannot_be_kept_for_itself_nor_for_a_duplicate(team: Team) -> None:
    kept, again = two_leads(team)
    with team.runtime.db.session() as session, session.begin():
        viewer = as_manager(team, session)
        with pytest.raises(OutreachError, match="itself"):
            close_as_duplicate(session, viewer, again, local(MON, 9, 10), kept_id=again)
        close_as_duplicate(session, viewer, again, local(MON, 9, 10), kept_id=kept)
        with pytest.raises(OutreachError, match="itself closed"):
            close_as_duplicate(session, viewer, kept, local(MON, 9, 11), kept_id=again)


def test_a_manager_undoes_a_duplicate_and_the_lead_is_nagged_again(team: Team) -> None:
    kept, again = two_leads(team)
    with team.runtime.db.session() as session, session.begin():
        log_followup(session, Viewer.of(session.get(Rep, team.nick.id)), again, "voicemail", local(MON, 9, 6))
        close_as_duplicate(session, as_manager(team, session), again, local(MON, 9, 10), kept_id=kept)
    with team.runtime.db.session() as session, pytest.raises(OutreachError):  # only a manager
        undo_duplicate(session, Viewer.of(session.get(Rep, team.nick.id)), again,
                       team_settings(session), local(MON, 9, 20))
    with team.runtime.db.session() as session, session.begin():
        undo_duplicate(session, as_manager(team, session), again, team_settings(session), local(MON, 9, 20))
    with team.runtime.db.session() as session:
        lead = session.get(Lead, again)
        assert (lead.status, lead.duplicate_of_id, lead.closed_at) == ("attempted", None, None)
        assert lead.next_reminder_at == local(MON, 10, 5)  # its own 60-minute reminder
        latest = {e.lead_id: e for e in session.scalars(select(LeadEvent).where(
            LeadEvent.lead_id.in_([kept, again])).order_by(LeadEvent.id))}
    assert (latest[again].outcome, latest[again].related_lead_id) == (REOPENED, kept)
    assert (latest[kept].outcome, latest[kept].related_lead_id) == (UNDONE, again)
    assert len(mail(team, "alert", again)) == 1  # no second "new lead" alert


def test_undoing_restores_a_won_lead_as_won(team: Team) -> None:
    kept, again = two_leads(team)
    with team.runtime.db.session() as session, session.begin():
        log_followup(session, Viewer.of(session.get(Rep, team.nick.id)), again, "connected",
                     local(MON, 9, 7), next_step="won")
        close_as_duplicate(session, as_manager(team, session), again, local(MON, 9, 10), kept_id=kept)
        undo_duplicate(session, as_manager(team, session), again, team_settings(session), local(MON, 9, 20))
    with team.runtime.db.session() as session:
        lead = session.get(Lead, again)
        assert (lead.status, lead.closed_at, lead.next_reminder_at) == ("won", local(MON, 9, 7), None)


def test_undoing_restores_a_next_step_logged_without_a_call(team: Team) -> None:
    """The Leads page logs an appointment as a "next_step" event, not a conversation."""
    kept, again = two_leads(team)
    with team.runtime.db.session() as session, session.begin():
        lead = session.get(Lead, again)
        lead.status, lead.first_contact_at = "appointment", local(MON, 9, 6)
        for minute, outcome, step in ((6, "connected", ""), (8, "next_step", "appointment")):
            session.add(LeadEvent(lead_id=again, rep_id=team.nick.id, outcome=outcome, next_step=step,
                                  created_at=local(MON, 9, minute)))
        session.flush()
        close_as_duplicate(session, as_manager(team, session), again, local(MON, 9, 10), kept_id=kept)
        undo_duplicate(session, as_manager(team, session), again, team_settings(session), local(MON, 9, 20))
    with team.runtime.db.session() as session:
        lead = session.get(Lead, again)
        assert (lead.status, lead.closed_at) == ("appointment", local(MON, 9, 8))


def test_the_likeliest_duplicate_comes_first(team: Team) -> None:
    with team.runtime.db.session() as session, session.begin():
        nick, lena = session.get(Rep, team.nick.id), session.get(Rep, team.lena.id)
        lead = add_lead(session, nick, "Ann Same", phone="+16175550100", email="ann@example.com")
        own = add_lead(session, nick, "Other Person", phone="+16175550101")
        by_name = add_lead(session, lena, "Ann Same", phone="+16175550102")
        by_email = add_lead(session, lena, "A. Same", phone="+16175550103", email="ANN@example.com")
        by_phone = add_lead(session, lena, "Annie S", phone="+16175550100")
        add_lead(session, lena, "Nobody Alike", phone="+16175550104")  # another rep's, unlike: left out
        ids = [c.id for c in duplicate_candidates(session, as_manager(team, session), lead.id)]
    assert ids == [by_phone.id, by_email.id, by_name.id, own.id]


def test_a_manager_who_neither_calls_nor_owns_leads_is_not_a_working_rep(team: Team) -> None:
    with team.runtime.db.session() as session, session.begin():
        maria = session.get(Rep, team.manager.id)
        maria.daily_calls = 0
        assert [r.name for r in working_reps(session)] == ["Lena Lopez", "Nick Nowak"]
        own = add_lead(session, maria, "Her Own")  # owning a lead puts her back
        assert [r.name for r in working_reps(session)] == ["Lena Lopez", "Maria Boss", "Nick Nowak"]
        maria.daily_calls, own.owner_id = 2, team.nick.id  # and so does calling
        session.flush()
        assert "Maria Boss" in [r.name for r in working_reps(session)]
