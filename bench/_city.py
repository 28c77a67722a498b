"""The city-scale seed (issues 28 and 32): 10 districts × 40 units × 5 campaigns, ≈ 100,000
events and ≈ 1,000,000 opinions at `scale` 1, in set-based SQL (INSERT … SELECT over
generate_series, as bench/overdue.py fills its single district), so it builds in minutes.

    from _city import seed_city
    city = seed_city(url, scale=0.01)   # a smoke run: ~1,000 events, ~10,000 opinions

Districts, units, campaigns and accounts (a few hundred rows) go through the ORM and the
service's own account code (`create_user`, `issue_token`): district 1 is the one the migrations
made, 2… are added. Each district runs one campaign a year for `campaigns` years, the newest
this year (open), the older ones closed as the rollover closes them; every unit of the district
takes part in each (`campaign_unit`). Events are spread round-robin over (unit, campaign)
pairs of all districts. An event of a past year is done (summary submitted or spot-checked); an
event of this year's campaign has bench/overdue.py's fates (1% planned with its day passed, 1%
held with the summary overdue, 10% planned for later, the rest done). Each event gets
`opinions` feedback items (10) whose fates are overdue.py's too (1% open and past the answer
deadline, 0.5% due within the 3-day window, 20% open and due later, the rest answered).

Accounts, each with a token usable as an API bearer token and as the session cookie: a city
supervisor; per district a supervisor and the staff of its first unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from _common import libpq_dsn  # noqa: F401  # first: puts the project root on sys.path
from _seed import connect, rebuild_tally
from sqlmodel import Session

import models  # noqa: F401 - registers tables
from models import DEFAULT_DISTRICT, Campaign, District, Role, Unit, UnitKind
from models.db import make_engine
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules

DISTRICTS = 10
UNITS = 40
CAMPAIGNS = 5
EVENTS = 100_000  # at scale 1
OPINIONS = 10  # per event


@dataclass
class CityDistrict:
    """One seeded district: ids and tokens."""

    district_id: int
    code: str
    unit_ids: list[int]
    campaign_ids: list[int]  # oldest first; the last is this year's
    supervisor_token: str = ""
    staff_token: str = ""  # the first unit's staff


@dataclass
class City:
    """What was seeded."""

    districts: list[CityDistrict] = field(default_factory=list)
    city_supervisor_token: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        """One line: the shape and the row counts."""
        d = self.districts
        return (
            f"{len(d)} districts × {len(d[0].unit_ids)} units × {len(d[0].campaign_ids)} "
            f"campaigns; {self.counts.get('events', 0):,} events, "
            f"{self.counts.get('opinions', 0):,} opinions "
            f"({self.counts.get('opinions overdue', 0):,} overdue); seeded in {self.seconds:.0f} s"
        )


def _structure(url: str, districts: int, units: int, campaigns: int) -> City:
    """Districts, units, campaigns and accounts through the ORM (a few hundred rows)."""
    now = datetime.now(UTC)
    this_year = now.year
    engine = make_engine(url)
    city = City()
    try:
        with Session(engine, expire_on_commit=False) as session:
            rows: list[District] = []
            first = session.get(District, DEFAULT_DISTRICT)
            assert first is not None, "the migrations make district 1"
            rows.append(first)
            for n in range(2, districts + 1):
                d = District(
                    code=f"bench-{n:02d}",
                    name=f"基准{n:02d}区",
                    city_name="资阳市",
                    office_name=f"基准{n:02d}区人民政府办公室",
                    created_at=now,
                )
                session.add(d)
                rows.append(d)
            session.flush()
            for d in rows:
                assert d.id is not None
                unit_rows = [
                    Unit(
                        name=f"基准{n:03d}{'镇' if n % 2 else '局'}",
                        kind=UnitKind.town if n % 2 else UnitKind.department,
                        district_id=d.id,
                        created_at=now,
                    )
                    for n in range(units)
                ]
                session.add_all(unit_rows)
                campaign_rows = []
                for k in range(campaigns):
                    year = this_year - (campaigns - 1 - k)
                    c = Campaign(
                        district_id=d.id,
                        doc_number=f"{d.code}府办发〔{year}〕{k + 1}号（基准测试）",
                        title=f"{d.name}{year}年“政府开放日”活动（基准测试）",
                        issuing_office=d.office_name or "区人民政府办公室",
                        starts_on=date(year, 1, 1),
                        ends_on=date(year, 12, 31),
                        rules=CampaignRules().model_dump(),
                        created_at=now,
                        closed_at=now if k < campaigns - 1 else None,
                    )
                    session.add(c)
                    campaign_rows.append(c)
                session.flush()
                cd = CityDistrict(
                    d.id,
                    d.code,
                    [u.id for u in unit_rows],  # type: ignore[misc]
                    [c.id for c in campaign_rows],  # type: ignore[misc]
                )
                sup = create_user(
                    session,
                    username=f"bench-sup-{d.id}",
                    role=Role.supervisor,
                    now=now,
                    district_id=d.id,
                )
                cd.supervisor_token = issue_token(session, sup, kind="api", now=now)
                staff = create_user(
                    session,
                    username=f"bench-staff-{d.id}",
                    role=Role.unit_staff,
                    unit_id=unit_rows[0].id,
                    now=now,
                    district_id=d.id,
                )
                cd.staff_token = issue_token(session, staff, kind="api", now=now)
                city.districts.append(cd)
            boss = create_user(
                session, username="bench-city-sup", role=Role.supervisor, now=now, district_id=None
            )
            city.city_supervisor_token = issue_token(session, boss, kind="api", now=now)
            session.commit()
        return city
    finally:
        engine.dispose()


def seed_city(
    url: str,
    *,
    scale: float = 1.0,
    districts: int = DISTRICTS,
    units: int = UNITS,
    campaigns: int = CAMPAIGNS,
    opinions: int = OPINIONS,
) -> City:
    """Seed the city into the (migrated, empty) PostgreSQL database at `url`."""
    t0 = time.perf_counter()
    city = _structure(url, districts, units, campaigns)
    events = max(1, round(EVENTS * scale))
    # (unit, campaign, this year's?) pairs of every district; events go round-robin over them.
    pair_units = [u for d in city.districts for c in d.campaign_ids for u in d.unit_ids]
    pair_campaigns = [c for d in city.districts for c in d.campaign_ids for _ in d.unit_ids]
    current = {d.campaign_ids[-1] for d in city.districts}
    pair_current = [c in current for c in pair_campaigns]
    with connect(url) as conn:
        conn.execute(
            """
            INSERT INTO campaign_unit (campaign_id, unit_id, webhook_format, forms, created_at,
                                       updated_at)
            SELECT c, u, 'json', '[]', now(), now()
            FROM unnest(%(campaigns)s::int[], %(units)s::int[]) AS p(c, u)
            """,
            {"campaigns": pair_campaigns, "units": pair_units},
        )
        conn.execute(
            """
            INSERT INTO event (campaign_id, unit_id, theme, date_earliest, date_latest, tentative,
                               forms, state, version, held_on, summary_due_on, summary_due_at,
                               escalation_level, created_at, updated_at, summary_late_seconds)
            SELECT campaign, unit, '基准活动' || g, d, d, false, '[]',
                   CASE WHEN f = 0 THEN 'planned'
                        WHEN f = 1 THEN 'held'
                        WHEN f BETWEEN 2 AND 11 THEN 'planned'
                        WHEN g %% 2 = 0 THEN 'summary_submitted'
                        ELSE 'spot_checked' END,
                   2,
                   CASE WHEN f = 1 OR f >= 12 THEN d END,
                   CASE WHEN f = 1 OR f >= 12 THEN d + 3 END,
                   CASE WHEN f = 1 OR f >= 12
                        THEN ((d + 4)::timestamp AT TIME ZONE 'Asia/Shanghai') END,
                   0, now(), now(),
                   -- a done event's summary went in on time (the first submission's lateness,
                   -- as the submit_summary move keeps it; NULL reads as never submitted)
                   CASE WHEN f >= 12 THEN 0 END
            FROM (
                SELECT g, campaign, unit, f,
                       CASE WHEN NOT cur THEN make_date(y, 3 + (g %% 9), 1 + (g %% 28))
                            WHEN f BETWEEN 2 AND 11 THEN current_date + 20 + (g %% 60)
                            ELSE current_date - 10 - (g %% 200) END AS d
                FROM (
                    SELECT g, p.campaign, p.unit, p.cur,
                           extract(year FROM c.starts_on)::int AS y,
                           -- a past year's events are all done (fate ≥ 12)
                           CASE WHEN p.cur THEN abs(hashint4(g)) %% 100
                                ELSE 12 + abs(hashint4(g)) %% 88 END AS f
                    FROM generate_series(1, %(count)s) AS g
                    JOIN unnest(%(campaigns)s::int[], %(units)s::int[], %(current)s::bool[])
                         WITH ORDINALITY AS p(campaign, unit, cur, n)
                      ON p.n = 1 + ((g - 1) %% %(pairs)s)
                    JOIN campaign c ON c.id = p.campaign
                ) AS h
            ) AS s
            """,
            {
                "campaigns": pair_campaigns,
                "units": pair_units,
                "current": pair_current,
                "pairs": len(pair_units),
                "count": events,
            },
        )
        # Opinions: bench/overdue.py's fates, keyed by k (not following the event or unit).
        conn.execute(
            """
            INSERT INTO feedback_item (event_id, unit_id, content, state, collected_on, due_on,
                                       due_at, due_provisional, escalation_level, version,
                                       created_at, updated_at, answered_at, told_at,
                                       overdue_since)
            SELECT event_id, unit_id, '建议' || k, state, due_on - 21, due_on,
                   (due_on + 1)::timestamp AT TIME ZONE 'Asia/Shanghai',
                   false, CASE WHEN state = 'overdue' THEN 1 ELSE 0 END, 1, now(), now(),
                   CASE WHEN state IN ('answered', 'closed')
                        THEN (due_on - 2)::timestamp AT TIME ZONE 'Asia/Shanghai' END,
                   CASE WHEN state = 'closed' OR (state = 'answered' AND k %% 100 <> 0)
                        THEN now() END,
                   CASE WHEN state = 'overdue' THEN now() END
            FROM (
                SELECT e.id AS event_id, e.unit_id, k,
                       CASE WHEN f < 10 THEN (ARRAY['received', 'assigned', 'overdue'])[1 + k %% 3]
                            WHEN f < 15 THEN 'received'
                            WHEN f < 215 THEN (ARRAY['received', 'assigned'])[1 + k %% 2]
                            WHEN k %% 2 = 0 THEN 'answered'
                            ELSE 'closed' END AS state,
                       CASE WHEN f < 10 THEN current_date - 1 - (k %% 30)
                            WHEN f < 15 THEN current_date + 1
                            WHEN f < 215 THEN current_date + 10 + (k %% 30)
                            ELSE least(current_date - 40 - (k %% 100), e.date_latest + 21)
                       END AS due_on
                FROM (
                    SELECT e.id, e.unit_id, e.date_latest, k,
                           -- a past year's opinions are all answered (fate ≥ 215)
                           CASE WHEN c.closed_at IS NULL THEN abs(hashint4(k + 7)) %% 1000
                                ELSE 215 + abs(hashint4(k + 7)) %% 785 END AS f
                    FROM (SELECT e.id, e.unit_id, e.campaign_id, e.date_latest,
                                 (e.id - 1) * %(per)s + i AS k
                          FROM event e CROSS JOIN generate_series(1, %(per)s) AS i
                          WHERE e.state NOT IN ('planned')) AS e
                    JOIN campaign c ON c.id = e.campaign_id
                ) AS e
            ) AS s
            """,
            {"per": opinions},
        )
        # Each done event's summary was submitted: its submit_summary line (what the report's
        # "summary missing" looks for; the lines are not a verifiable chain, nothing here reads
        # them as one).
        conn.execute(
            """
            INSERT INTO transition_log (event_id, trigger, from_state, to_state, version,
                                        actor_name, at, data, seq, prev_hash, row_hash)
            SELECT id, 'submit_summary', 'feedback_collected', 'summary_submitted', 2, '基准',
                   summary_due_at - interval '1 day', '{}', 1, repeat('0', 64), repeat('0', 64)
            FROM event WHERE state IN ('summary_submitted', 'spot_checked')
            """
        )
        rebuild_tally(conn)
        conn.execute("VACUUM ANALYZE")
        for label, sql in (
            ("events", "SELECT count(*) FROM event"),
            ("opinions", "SELECT count(*) FROM feedback_item"),
            (
                "opinions overdue",
                "SELECT count(*) FROM feedback_item WHERE state IN ('received', 'assigned', "
                "'overdue') AND due_at < now()",
            ),
        ):
            row = conn.execute(sql).fetchone()
            city.counts[label] = int(row[0]) if row else 0
    city.seconds = time.perf_counter() - t0
    return city
