"""The embedded demo: the founding notice's campaign, its 39 events, and five demo accounts
(a supervisor, a unit's staffer, and the system, security and audit administrators); for
`make run` also a second district of the city (安岳县, illustrative data) with its own
campaign, and two more accounts: a city supervisor and 安岳县's supervisor (issue 28)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, select

from models import Campaign, District, Role, User
from models.district import DEFAULT_DISTRICT
from settings import PROJECT_DIR
from workflows.accounts import districts
from workflows.accounts.service import create_user, generate_password, hash_password, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.visibility import SYSTEM
from workflows.schedule.importer import apply_import, plan_import
from workflows.schedule.tables import read_table

DATA_DIR = PROJECT_DIR / "data"
DEMO_CAMPAIGN = DATA_DIR / "yanjiang-2022-campaign.json"
SECOND_DISTRICT_CAMPAIGN = DATA_DIR / "anyue-2022-campaign.json"  # illustrative, not a notice
DEMO_STAFF_UNIT = "区住建局"  # 14 区住建局 参观老旧小区改造现场 9月16日


@dataclass(frozen=True)
class DemoLogin:
    """A demo account as printed by `make run`."""

    username: str
    password: str
    token: str
    role: str
    unit: str | None
    district: str = ""  # the district it acts in (its name), or 全市 for the city level


def _district_of(session: Session, spec: dict | None, now: datetime) -> int:
    """The campaign's district: district 1 (the notice's) without a spec, else the spec's,
    added once (with its audit line)."""
    if spec is None:
        return DEFAULT_DISTRICT
    found = session.exec(select(District).where(District.code == spec["code"])).first()
    if found is None:
        found = districts.add(session, SYSTEM, now=now, **spec)
    assert found.id is not None
    return found.id


def load_demo_campaign(
    session: Session, now: datetime, spec_file: Path = DEMO_CAMPAIGN
) -> Campaign:
    """Create the notice's campaign (or `spec_file`'s, in its district) and import its schedule
    table (idempotent)."""
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    district_id = _district_of(session, spec.get("district"), now)
    campaign = session.exec(
        select(Campaign).where(
            Campaign.doc_number == spec["doc_number"], Campaign.district_id == district_id
        )
    ).first()
    if campaign is None:
        campaign = Campaign(
            district_id=district_id,
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
# the audit), so the admin pages can be tried (issue 24). All act in district 1 (雁江区).
DEMO_ACCOUNTS: tuple[tuple[str, Role, str | None], ...] = (
    ("demo-supervisor", Role.supervisor, None),
    ("demo-staff", Role.unit_staff, DEMO_STAFF_UNIT),
    # each administrator enrols a second factor at its first sign-in
    ("demo-system", Role.system_admin, None),
    ("demo-security", Role.security_admin, None),
    ("demo-audit", Role.audit_admin, None),
)
# With the second district (`ensure_demo_logins(..., city=True)`): who reads every district
# (全市对比), and the second district's own supervisor — by district code, None: the city.
CITY_ACCOUNTS: tuple[tuple[str, Role, str | None], ...] = (
    ("demo-city", Role.supervisor, None),
    ("demo-anyue", Role.supervisor, "anyue"),
)


def _saved_logins(session: Session, credentials: Path, wanted: list[str]) -> list[DemoLogin] | None:
    """The credentials file's logins when it lists every demo account and all still exist."""
    if not credentials.exists():
        return None
    logins = [DemoLogin(**item) for item in json.loads(credentials.read_text(encoding="utf-8"))]
    names = set(session.exec(select(User.username)).all())
    if [login.username for login in logins] == wanted and names.issuperset(wanted):
        return logins
    return None


def ensure_demo_logins(
    session: Session, now: datetime, credentials: Path, *, city: bool = False
) -> list[DemoLogin]:
    """Create the demo accounts once (with `city`, the city's and the second district's too);
    keep their passwords and API tokens in var/ (0600), each naming its district."""
    accounts: list[tuple[str, Role, str | None, int | None]] = [
        (u, r, unit, DEFAULT_DISTRICT) for u, r, unit in DEMO_ACCOUNTS
    ]
    if city:
        accounts += [(u, r, None, _code_to_id(session, code)) for u, r, code in CITY_ACCOUNTS]
    saved = _saved_logins(session, credentials, [u for u, _, _, _ in accounts])
    if saved is not None:
        return saved
    names = {d.id: d.name for d in districts.every(session)}
    logins = []
    for username, role, unit, district_id in accounts:
        password = generate_password()
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            user = create_user(
                session, username=username, role=role, unit_name=unit, password=password,
                now=now, district_id=district_id,
            )  # fmt: skip
        else:
            user.password_hash = hash_password(password)
        token = issue_token(session, user, kind="api", now=now, name="demo")
        where = "全市" if user.district_id is None else names.get(user.district_id, "")
        logins.append(DemoLogin(username, password, token, role.value, unit, where))
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(
        json.dumps([login.__dict__ for login in logins], ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    return logins


def _code_to_id(session: Session, code: str | None) -> int | None:
    """A demo district's id by its code (None: the city level)."""
    if code is None:
        return None
    found = session.exec(select(District).where(District.code == code)).one()
    return found.id
