"""What a running process needs, opened once: settings, database, sheet source.

The CLI, the worker and the app each build one Runtime at start-up and pass it
down; tests build one on a test database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach import app_address
from outreach.db import Database
from outreach.mail.mail_transport import MailTransport, Sender, open_transport
from outreach.models import TeamSetting
from outreach.settings import Settings
from outreach.sheet.sheet_source import SheetSource, WorkbookSource
from outreach.team_settings import TeamSettings, settings_from_store


@dataclass
class Runtime:
    settings: Settings
    db: Database
    _source: SheetSource | None = field(default=None, repr=False)
    _transport: MailTransport | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        app_address.configure(settings.app_url)  # every e-mail this process makes links there
        return cls(settings=settings, db=Database(settings.database_url.reveal()))

    def source(self) -> SheetSource:
        if self._source is None:
            self._source = open_source(self.settings)
        return self._source


    def transport(self) -> MailTransport:
        if self._transport is None:
            self._transport = open_transport(self.settings)
        return self._transport


def open_source(settings: Settings) -> SheetSource:
    """The Google Sheet when one is configured, else the local workbook."""
    if settings.uses_google_sheet:
        from outreach.sheet.google_sheet import open_google_source

        return open_google_source(settings)
    return WorkbookSource(settings.workbook)


def team_settings(session: Session) -> TeamSettings:
    """The rules as of the last good sync (defaults before the first one)."""
    stored = dict(session.execute(select(TeamSetting.key, TeamSetting.value)).all())
    return settings_from_store(stored)


def sender(team: TeamSettings) -> Sender:
    return Sender(team.sender_email, team.sender_name)
