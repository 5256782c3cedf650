"""The demo workbook: a small sales team and ~200 customers, some rows deliberately messy.

Generated with a fixed Faker seed, so the same code always gives the same rows
(`python -m outreach demo --generate PATH`). Phone numbers use the 555-0100 to
555-0199 range that North American numbering reserves for fiction, and UK
numbers from Ofcom's drama range, so no real person is ever called. E-mail
addresses use the example.* domains reserved for documentation.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

from faker import Faker
from openpyxl import Workbook
from openpyxl.styles import Font

SEED = 20261122
CUSTOMER_COUNT = 200
AREA_CODES = ("212", "312", "415", "617", "646", "718", "305", "404", "512", "206")

MANAGER = ("Maya Chen", "maya.chen@example.com", "America/New_York", 0, "yes", "manager", "")
REPS = (
    ("Jordan Rivera", "jordan.rivera@example.com", "America/New_York", 3, "yes", "rep",
     "maya.chen@example.com"),
    ("Priya Patel", "priya.patel@example.com", "America/New_York", 3, "yes", "rep",
     "maya.chen@example.com"),
    ("Sam Okafor", "sam.okafor@example.com", "America/Los_Angeles", 3, "yes", "rep",
     "maya.chen@example.com"),
    ("Alex Kim", "alex.kim@example.com", "America/Los_Angeles", 4, "yes", "rep",
     "maya.chen@example.com"),
)
# Answers the phone: the Front desk page turns each caller into someone's lead.
FRONT_DESK = ("Rosa Alvarez", "rosa.alvarez@example.com", "America/New_York", 0, "yes", "front desk",
              "maya.chen@example.com")
SETTINGS = (
    ("Call List Time", "07:30"),
    ("Business Hours", "08:00-18:00"),
    ("Workdays", "Mon-Fri"),
    ("Holiday Country", "US"),
    ("Referral Cooldown Days", "90"),
    ("Reminder Schedule", "5m, 15m, 60m, 4h"),
    ("CC Manager After", "60m"),
    ("Escalation Business Days", "2"),
    ("Phone Region", "US"),
    ("Sender Email", "outreach@example.com"),
    ("Average Deal Value", "2500"),
)
CUSTOMER_HEADER = ("Customer ID", "First Name", "Last Name", "Company", "Phone", "Email",
                   "Owner", "Customer Since", "Do Not Call", "Notes", "Industry")
INBOUND_HEADER = ("Timestamp", "First Name", "Last Name", "Phone", "Email",
                  "How did you hear about us", "Why are you calling", "Owner")
INDUSTRIES = ("Dental", "Construction", "Legal", "Retail", "Restaurants", "Accounting",
              "Real estate", "Fitness", "Auto repair", "Landscaping")
NOTES = ("", "", "", "Prefers mornings", "Renewed last spring", "Ask about the new location",
         "Very happy after the upgrade", "Had a billing issue in March - resolved",
         "Talks fast, get to the point", "Referred us to a neighbour once")


class _Numbers:
    """Fictional, valid numbers, each used once."""

    def __init__(self, rng: random.Random) -> None:
        pool = [(a, f"01{n:02d}") for a in AREA_CODES for n in range(100)]
        rng.shuffle(pool)
        self._pool = iter(pool)

    def next(self, rng: random.Random) -> str:
        area, line = next(self._pool)
        # The formats managers really type.
        style = rng.choice(("({a}) 555-{l}", "{a}-555-{l}", "{a}.555.{l}", "+1 {a} 555 {l}",
                            "1{a}555{l}", "{a}555{l}"))
        return style.format(a=area, l=line)


def customer_rows(rng: random.Random, fake: Faker) -> list[tuple[object, ...]]:
    numbers = _Numbers(rng)
    owners = [r[1] for r in REPS]
    rows: list[tuple[object, ...]] = []
    for index in range(1, CUSTOMER_COUNT + 1):
        first, last = fake.first_name(), fake.last_name()
        company = fake.company()
        email = f"{first}.{last}@{rng.choice(('example.org', 'example.net'))}".lower()
        owner = rng.choice(owners) if rng.random() < 0.7 else ""
        since = date(2015, 1, 1) + timedelta(days=rng.randrange(0, 3800))
        rows.append([
            f"C{index:04d}", first, last, company, numbers.next(rng), email, owner,
            since, "", rng.choice(NOTES), rng.choice(INDUSTRIES),
        ])
    _make_messy(rows, rng)
    return [tuple(r) for r in rows]


def _make_messy(rows: list[list[object]], rng: random.Random) -> None:
    """The rows every real customer list has, so the data-status page has something to say."""
    for i in (7, 41, 88, 120, 163):
        rows[i][8] = rng.choice(("yes", "x", "TRUE", "1"))  # asked not to be called
    rows[12][5] = rows[12][5].upper()  # SHOUTED e-mail: still fine
    rows[19][0] = ""  # no Customer ID: identified by phone
    rows[23][4] = "+44 20 7946 0958"  # a UK customer, written internationally
    rows[31][4] = ""  # no phone: imported, never planned
    rows[54][7] = rows[54][7].strftime("%m/%d/%Y")  # typed as text, US order
    rows[60][1] = rows[60][2] = ""  # no name: skipped
    rows[75][4] = "555-CALL"  # not a number: named, kept off the call lists by its Customer ID
    rows[97][6] = "jordan.rivers@example.com"  # owner typo: named, to the shared pool
    rows[110][4] = rows[109][4]  # duplicate phone: skipped, points at the first
    rows[131][5] = "not-an-email"  # broken e-mail: named, kept without it
    rows[150][7] = "sometime in 2019"  # unreadable date: kept without it
    rows[178][0] = rows[177][0]  # duplicate Customer ID: skipped


def inbound_rows(rng: random.Random, fake: Faker) -> list[tuple[object, ...]]:
    start = datetime(2026, 11, 20, 9, 12, 0)
    return [
        (start.strftime("%Y-%m-%d %H:%M:%S"), "Dana", "Whitfield", "(617) 555-0142",
         "dana.whitfield@example.org", "Google", "Need a quote for 3 locations", ""),
        ((start + timedelta(hours=3, minutes=41)).strftime("%Y-%m-%d %H:%M:%S"), "Luis", "Ortega",
         "", "luis.ortega@example.net", "A friend", "Switching from our current provider",
         "sam.okafor@example.com"),
    ]


def build_workbook(path: Path, seed: int = SEED) -> Path:
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    book = Workbook()
    _sheet(book, "Customers", CUSTOMER_HEADER, customer_rows(rng, fake), first=True)
    _sheet(book, "Reps", ("Name", "Email", "Time Zone", "Daily Calls", "Active", "Role",
                          "Manager"), (MANAGER, *REPS, FRONT_DESK))
    _sheet(book, "Settings", ("Key", "Value"), SETTINGS)
    _sheet(book, "Inbound", INBOUND_HEADER, inbound_rows(rng, fake))
    # Fixed document dates, so regenerating gives the same workbook contents.
    book.properties.created = book.properties.modified = datetime(2026, 11, 22)
    book.properties.creator = "Outreach demo"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _sheet(book: Workbook, title: str, header: tuple[str, ...], rows, first: bool = False):  # type: ignore[no-untyped-def]
    sheet = book.active if first else book.create_sheet(title)
    sheet.title = title
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    if "Phone" in header:
        # Text format keeps a leading + or 0, as the README asks of managers.
        column = header.index("Phone") + 1
        for (cell,) in sheet.iter_rows(min_col=column, max_col=column, min_row=2):
            cell.number_format = "@"
    sheet.freeze_panes = "A2"


def committed_demo_workbook() -> Path:
    from outreach.settings import PROJECT_ROOT

    return PROJECT_ROOT / "demo" / "outreach-demo.xlsx"


def ensure_workbook(path: Path) -> bool:
    """Give a fresh install its working copy of the demo workbook; True if one was made.

    The manager edits the working copy in data/ (and the app writes its tabs beside it), so
    the committed demo file stays as generated.
    """
    if path.exists():
        return False
    demo = committed_demo_workbook()
    if demo.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo, path)
    else:
        build_workbook(path)
    return True
