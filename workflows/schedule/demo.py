"""The embedded demo: the founding notice's campaign, its 39 events, and five demo accounts
(a supervisor, a unit's staffer, and the system, security and audit administrators)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, select

from models import Campaign, Role, User
from settings import PROJECT_DIR
from workflows.accounts.service import create_user, generate_password, hash_password, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.visibility import SYSTEM
from workflows.schedule.importer import apply_import, plan_import
from workflows.schedule.tables import read_table

DATA_DIR = PROJECT_DIR / "data"
DEMO_CAMPAIGN = DATA_DIR / "yanjiang-2022-campaign.json"
DEMO_STAFF_UNIT = "区住建局"  # 14 区住建局 参观老旧小区改造现场 9月16日


@dataclass(frozen=True)
class DemoLogin:
    """A demo account as printed by `make run`."""

    username: str
    password: str
    token: str
    role: str
    unit: str | None


def load_demo_campaign(session: Session, now: datetime) -> Campaign:
    """Create the notice's campaign and import its schedule table (idempotent)."""
    spec = json.loads(DEMO_CAMPAIGN.read_text(encoding="utf-8"))
    campaign = session.exec(
        select(Campaign).where(Campaign.doc_number == spec["doc_number"])
    ).first()
    if campaign is None:
        campaign = Campaign(
            doc_number=spec["doc_number"],
            title=spec["title"],
            issuing_office=spec["issuing_office"],
            starts_on=date.fromisoformat(spec["starts_on"]),
            ends_on=date.fromisoformat(spec["ends_on"]),
            rules=CampaignRules().model_dump(),
            created_at=now,
        )
        session.add(campaign)
        session.flush()
    schedule = DATA_DIR / spec["schedule"]
    table = read_table(schedule.read_bytes(), schedule.name)
    report = plan_import(session, campaign, table)
    # The notice's own table has two events before the window (老君镇, 东峰镇): known, accepted.
    # Its 2022 events are long past: the demo means their escalations to go out (README).
    apply_import(
        session,
        campaign,
        report,
        accept_warnings=True,
        actor=SYSTEM,
        now=now,
        confirm_past_escalations=True,
    )
    return campaign


# The demo's accounts, in the order `make run` prints them: who supervises, who runs event 14,
# and the three administrators (三员分立, issue 29: the system administrator sets up imports,
# units and the calendar, the security administrator accounts, the audit administrator reads
# the audit), so the admin pages can be tried (issue 24).
DEMO_ACCOUNTS: tuple[tuple[str, Role, str | None], ...] = (
    ("demo-supervisor", Role.supervisor, None),
    ("demo-staff", Role.unit_staff, DEMO_STAFF_UNIT),
    # each administrator enrols a second factor at its first sign-in
    ("demo-system", Role.system_admin, None),
    ("demo-security", Role.security_admin, None),
    ("demo-audit", Role.audit_admin, None),
)


def _saved_logins(session: Session, credentials: Path) -> list[DemoLogin] | None:
    """The credentials file's logins when it lists every demo account and all still exist."""
    if not credentials.exists():
        return None
    logins = [DemoLogin(**item) for item in json.loads(credentials.read_text(encoding="utf-8"))]
    names = set(session.exec(select(User.username)).all())
    wanted = [username for username, _, _ in DEMO_ACCOUNTS]
    if [login.username for login in logins] == wanted and names.issuperset(wanted):
        return logins
    return None


def ensure_demo_logins(session: Session, now: datetime, credentials: Path) -> list[DemoLogin]:
    """Create the demo accounts once; keep their passwords and API tokens in var/ (0600)."""
    saved = _saved_logins(session, credentials)
    if saved is not None:
        return saved
    logins = []
    for username, role, unit in DEMO_ACCOUNTS:
        password = generate_password()
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            user = create_user(
                session, username=username, role=role, unit_name=unit, password=password, now=now
            )
        else:
            user.password_hash = hash_password(password)
        token = issue_token(session, user, kind="api", now=now, name="demo")
        logins.append(DemoLogin(username, password, token, role.value, unit))
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(
        json.dumps([login.__dict__ for login in logins], ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    return logins
