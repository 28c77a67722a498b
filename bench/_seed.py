"""Bulk seeding for the benchmarks: a campaign, units, accounts with API tokens (through the
service's own account code), then events, invitees, timers and feedback items in plain SQL
(INSERT … SELECT generate_series), which takes seconds even for a million rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg
from _common import libpq_dsn  # first: puts the project root on sys.path
from sqlmodel import Session

import models  # noqa: F401 - registers tables
from models import Campaign, Role, Unit, UnitKind
from models.db import make_engine
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules


@dataclass
class World:
    """What was seeded: ids and bearer tokens."""

    campaign_id: int
    unit_ids: list[int]
    staff_tokens: dict[int, str] = field(default_factory=dict)  # unit id -> token
    supervisor_token: str = ""


def seed_world(url: str, units: int, *, staff_units: int | None = None) -> World:
    """A campaign, `units` units, a supervisor and one unit_staff account for the first
    `staff_units` units (default: all), each with an API token."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            campaign = Campaign(
                doc_number="资雁府办发〔2022〕58号（基准测试）",
                title="关于开展“政府开放日”活动的通知（基准测试）",
                issuing_office="资阳市雁江区人民政府办公室",
                starts_on=date(2022, 8, 22),
                ends_on=date(2099, 12, 31),
                rules=CampaignRules().model_dump(),
                created_at=now,
            )
            session.add(campaign)
            rows = [
                Unit(
                    name=f"基准{n:04d}{'镇' if n % 2 else '局'}",
                    kind=UnitKind.town if n % 2 else UnitKind.department,
                    created_at=now,
                )
                for n in range(units)
            ]
            session.add_all(rows)
            session.flush()
            world = World(campaign.id, [u.id for u in rows])  # type: ignore[arg-type, misc]
            sup = create_user(session, username="bench-supervisor", role=Role.supervisor, now=now)
            world.supervisor_token = issue_token(session, sup, kind="api", now=now)
            for unit in rows[: staff_units if staff_units is not None else units]:
                staff = create_user(
                    session,
                    username=f"bench-staff-{unit.id}",
                    role=Role.unit_staff,
                    unit_name=unit.name,
                    now=now,
                )
                world.staff_tokens[unit.id] = issue_token(  # type: ignore[index]
                    session, staff, kind="api", now=now
                )
            session.commit()
        return world
    finally:
        engine.dispose()


def seed_events(
    conn: psycopg.Connection,
    world: World,
    count: int,
    *,
    day: date,
    state: str = "planned",
    theme: str = "基准测试活动",
) -> tuple[int, int]:
    """`count` events spread round-robin over the world's units; returns (first id, last id)."""
    row = conn.execute(
        """
        INSERT INTO event (campaign_id, unit_id, theme, date_earliest, date_latest, tentative,
                           forms, state, version, escalation_level, created_at, updated_at)
        SELECT %(campaign)s, (%(units)s::int[])[1 + (g %% %(n)s)], %(theme)s || g,
               %(day)s, %(day)s, false, '[]', %(state)s, 1, 0, now(), now()
        FROM generate_series(1, %(count)s) AS g
        RETURNING id
        """,
        {
            "campaign": world.campaign_id,
            "units": world.unit_ids,
            "n": len(world.unit_ids),
            "theme": theme,
            "day": day,
            "state": state,
            "count": count,
        },
    ).fetchall()
    ids = [r[0] for r in row]
    return min(ids), max(ids)


def seed_invitees(conn: psycopg.Connection, first: int, last: int) -> None:
    """A valid list for every event in [first, last]: 10 deputies/members and 5 citizens."""
    conn.execute(
        """
        INSERT INTO invitee (event_id, name, category, invitation, invited, created_at)
        SELECT e.id,
               CASE WHEN i <= 5 THEN '市民' || i ELSE '代表' || i END,
               CASE WHEN i <= 5 THEN 'citizen' WHEN i %% 2 = 0 THEN 'npc_deputy'
                    ELSE 'cppcc_member' END,
               CASE WHEN i <= 5 THEN 'public' END,
               true, now()
        FROM event e CROSS JOIN generate_series(1, 15) AS i
        WHERE e.id BETWEEN %s AND %s
        """,
        (first, last),
    )


def seed_hold_timers(conn: psycopg.Connection, first: int, last: int) -> None:
    """The hold deadline's two escalation timers for each event (as the service arms them)."""
    conn.execute(
        """
        INSERT INTO timer (rule, kind, level, subject_type, subject_id, event_id, deadline_on,
                           due_at, provisional, state, created_at)
        SELECT 'event_hold', 'escalation', l, 'event', e.id, e.id, e.date_latest,
               ((e.date_latest + 1 + (l - 1) * 7)::timestamp AT TIME ZONE 'Asia/Shanghai'),
               false, 'pending', now()
        FROM event e CROSS JOIN (VALUES (1), (2)) AS v(l)
        WHERE e.id BETWEEN %s AND %s
        """,
        (first, last),
    )


def connect(url: str) -> psycopg.Connection:
    """An autocommit psycopg connection to the benchmark database."""
    return psycopg.connect(libpq_dsn(url), autocommit=True)


def rebuild_tally(conn: psycopg.Connection) -> None:
    """Recount the opinion tally (workflows/feedback/tally.py) after opinions were inserted in
    plain SQL, around the workflows that keep it."""
    from workflows.feedback.tally import recount_sql

    conn.execute("DELETE FROM opinion_tally")
    conn.execute(recount_sql("postgresql"))  # type: ignore[arg-type]
