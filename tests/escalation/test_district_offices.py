"""Level 2 (抄送区政府办) reaches the office of the event's own district only (issue 28): its
supervisors' inboxes and e-mail, the district's own contact mailbox, and the message names that
office; another district's supervisors and the city's hear nothing. The service-wide office
mailbox and robot (OPENDAY_OFFICE_EMAIL, OPENDAY_SUPERVISOR_WEBHOOK_URL) are district 1's.
Walked on both backends, once with the event in 雁江区 (district 1) and once in 安岳县."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import Campaign, District, InboxMessage, Notification, Role, Unit, UnitKind, User
from settings import Settings
from tests.conftest import HOUSING, Walker, World, local
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers, _collected_with_one_opinion, tick
from workers.channels import StubChannel
from workers.runtime import Runtime
from workflows.inbox import service as inbox
from workflows.kernel.clock import FixedClock

broker = _deadlines.broker
channels = _deadlines.channels
scheduler = _deadlines.scheduler
workers = _deadlines.workers

OFFICE_MAIL, OFFICE_ROBOT = "zfb@yanjiang.example", "https://qyapi.example/yanjiang-office"
ANYUE_MAIL = "zfb@anyue.example"


@pytest.fixture
def rt(engine: Engine, clock: FixedClock, channels: dict[str, StubChannel]) -> Runtime:
    """A worker runtime whose service-wide office mailbox and robot are set (雁江区's)."""
    settings = Settings(
        smtp_host="mail.invalid", database_url="sqlite://", office_email=OFFICE_MAIL,
        supervisor_webhook_url=OFFICE_ROBOT, supervisor_webhook_format="wecom",
    )  # fmt: skip
    return Runtime(engine=engine, clock=clock, settings=settings, channels=channels)  # type: ignore[arg-type]


def _anyue(s: Session, now: datetime) -> District:
    district = District(
        code="anyue", name="安岳县", city_name="资阳市", office_name="安岳县人民政府办公室",
        contact_email=ANYUE_MAIL, created_at=now,
    )  # fmt: skip
    s.add(district)
    s.flush()
    return district


def _supervisor(s: Session, name: str, district_id: int | None, now: datetime) -> int:
    user = User(
        username=name, display_name=name, role=Role.supervisor, district_id=district_id,
        email=f"{name}@office.example", created_at=now,
    )  # fmt: skip
    s.add(user)
    s.flush()
    return user.id  # type: ignore[return-value]


@pytest.fixture(params=["yanjiang", "anyue"])
def home(request: pytest.FixtureRequest, walker: Walker, clock: FixedClock) -> Iterator[dict]:  # type: ignore[type-arg]
    """The world's campaign, units and accounts in `param`'s district; a supervisor of the
    other district and a city supervisor, each with an e-mail address."""
    with walker.world.session() as s:
        anyue = _anyue(s, clock.now())
        ids = {"yanjiang": 1, "anyue": anyue.id}
        mine = ids[request.param]
        other = ids["anyue" if request.param == "yanjiang" else "yanjiang"]
        if mine != 1:
            campaign = s.get(Campaign, walker.world.campaign_id)
            assert campaign is not None
            campaign.district_id, campaign.issuing_office = mine, "安岳县人民政府办公室"
            campaign.doc_number = "安府办发〔2022〕12号"
            for unit in s.exec(select(Unit)).all():
                unit.district_id = mine
            for account in s.exec(select(User)).all():
                account.district_id = mine
        s.get(User, walker.world.user_ids["supervisor"]).email = "own@office.example"  # type: ignore[union-attr]
        made = {
            "district": request.param,
            "other": _supervisor(s, "otherdistrict", other, clock.now()),
            "city": _supervisor(s, "city", None, clock.now()),
        }
        s.commit()
    yield made


def _boxes(engine: Engine, user_id: int) -> list[InboxMessage]:
    with Session(engine) as s:
        stmt = select(InboxMessage).where(InboxMessage.user_id == user_id)
        return list(s.exec(stmt.order_by(col(InboxMessage.id))).all())


def test_level_two_reaches_the_events_own_district_office_only(
    walker: Walker,
    engine: Engine,
    clock: FixedClock,
    scheduler,  # noqa: ANN001
    workers: Workers,
    channels: dict[str, StubChannel],
    home: dict,  # type: ignore[type-arg]
) -> None:
    _collected_with_one_opinion(walker)  # answer due 2022-10-12
    clock.set(local(2022, 10, 13, 0, 0, 1))
    tick(scheduler, workers)
    clock.set(local(2022, 10, 20, 0, 0, 1))
    tick(scheduler, workers)
    office = "雁江区政府办" if home["district"] == "yanjiang" else "安岳县政府办"
    copied = _boxes(engine, walker.world.user_ids["supervisor"])
    assert copied, "the own district's supervisor hears level 2"
    assert all(m.title.startswith(f"【第2次催办·抄送{office}】") for m in copied), [
        m.title for m in copied
    ]
    assert _boxes(engine, home["other"]) == []  # another district's office: nothing
    assert _boxes(engine, home["city"]) == []  # the city reads the board, is not copied
    mailed = {m.recipient for m in channels["email"].sent}
    robots = {m.recipient for m in channels["webhook_wecom"].sent}
    assert "own@office.example" in mailed
    assert not mailed & {"otherdistrict@office.example", "city@office.example"}
    if home["district"] == "yanjiang":
        assert OFFICE_MAIL in mailed and ANYUE_MAIL not in mailed and robots == {OFFICE_ROBOT}
    else:
        assert ANYUE_MAIL in mailed and OFFICE_MAIL not in mailed and robots == set()
    summary = [m for m in channels["email"].sent if "活动总结" in m.subject]
    assert summary and all(f"报送{office}" in m.body for m in summary)
    for m in channels["email"].sent:  # no message names the other district's office
        other = "安岳县" if home["district"] == "yanjiang" else "雁江区"
        assert other not in m.subject + m.body


def test_items_for_the_office_reach_their_own_districts_supervisors(
    world: World, clock: FixedClock
) -> None:
    """A request of a unit (延期申请) and a campaign's weekly bulletin reach the supervisors of
    their own district: never another district's, nor the city's."""
    now = clock.now()
    with world.session() as s:
        anyue = _anyue(s, now)
        theirs = _supervisor(s, "ay", anyue.id, now)
        _supervisor(s, "city", None, now)
        unit = Unit(district_id=anyue.id, name="县住建局", kind=UnitKind.department, created_at=now)
        s.add(unit)
        s.flush()
        ours = world.user_ids["supervisor"]

        def reached(n: int, kind: str, unit_id: int | None, district_id: int | None) -> set[int]:
            inbox.post(
                s, kind, subject_type="x", subject_id=n, event_id=None, unit_id=unit_id,
                district_id=district_id, title="t", body="b", now=now,
            )  # fmt: skip
            stmt = select(InboxMessage.user_id).join(
                Notification, col(Notification.id) == InboxMessage.notification_id
            )
            return set(s.exec(stmt.where(Notification.subject_id == n)).all())

        assert reached(1, "ext_request", world.units[HOUSING], None) == {ours}
        assert reached(2, "ext_request", unit.id, None) == {theirs}
        assert reached(3, "bulletin", None, anyue.id) == {theirs}
        assert reached(4, "bulletin", None, 1) == {ours}


def test_a_district_sees_and_resends_only_digests_of_its_own_items(engine: Engine) -> None:
    """A digest (of no unit) is a district's when every item in it is of the district's units;
    one mixing two districts stays with the city (list, board and resend use one rule)."""
    from workflows.escalation.notifications import visible_notifications

    now = local(2023, 1, 10, 9)
    with Session(engine) as s:
        anyue = _anyue(s, now)
        ours = s.exec(select(Unit).where(Unit.name == HOUSING)).first()
        if ours is None:
            ours = Unit(name=HOUSING, kind=UnitKind.department, created_at=now)
            s.add(ours)
        theirs = Unit(name="安岳县测试局", kind=UnitKind.department, district_id=anyue.id,
                      created_at=now)  # fmt: skip
        s.add(theirs)
        s.flush()

        def row(key: str, unit: Unit | None, digest: Notification | None = None) -> Notification:
            n = Notification(
                key=key, subject_type="digest" if unit is None else "feedback", subject_id=0,
                unit_id=None if unit is None else unit.id, rule="digest", kind="digest",
                channel="email", recipient="x@example", title=key, body="", state="failed",
                created_at=now, digest_id=None if digest is None else digest.id,
            )  # fmt: skip
            s.add(n)
            s.flush()
            return n

        own_digest, mixed = row("own", None), row("mixed", None)
        row("own-1", ours, own_digest)
        row("mixed-1", ours, mixed)
        row("mixed-2", theirs, mixed)
        s.commit()
        assert ours.id is not None
        seen = s.exec(visible_notifications(select(Notification), frozenset({ours.id}))).all()
        assert sorted(n.key for n in seen) == ["mixed-1", "own", "own-1"]
        everything = s.exec(visible_notifications(select(Notification), None)).all()
        assert len(everything) == 5
