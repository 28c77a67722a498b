"""The weekly 通报 (issue 26): made by the scheduler on Monday from 09:00, once; units ranked by
on-time holding and answers with what is overdue; the .docx opens with python-docx and the .xlsx
with openpyxl, both holding the ranking; the supervisors' inboxes get it with a link; a unit
last three times in a row is marked for 约谈."""

from __future__ import annotations

import io

from docx import Document
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import Bulletin, InboxMessage, OpinionReply
from tests.conftest import SHILING, Walker, local
from tests.workdays import test_deadlines as _deadlines
from tests.workdays.test_deadlines import Workers, tick

broker = _deadlines.broker
channels = _deadlines.channels
rt = _deadlines.rt
scheduler = _deadlines.scheduler
workers = _deadlines.workers


def _two_units(walker: Walker) -> None:
    """区住建局 holds its event on 9月16日, answers its opinion and reports on time; 石岭镇
    never holds its event of 9月19日."""
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    assert r.status_code == 200, r.text
    h = walker.world.headers
    item = walker.client.get(f"/api/v1/events/{event['id']}/feedback", headers=h["housing"]).json()
    first = item["items"][0]
    r = walker.client.post(
        f"/api/v1/feedback/{first['id']}/transitions",
        json={
            "trigger": "answer",
            "expected_version": first["version"],
            "data": {"answer": "已修复"},
        },
        headers=h["housing"],
    )
    assert r.status_code == 200, r.text
    assert walker.upload(event["id"]).status_code == 201
    r = walker.move(event["id"], "submit_summary", data={"text": "活动总结"})
    assert r.status_code == 200, r.text
    walker.create_event(
        who="shiling", unit=SHILING, date="2022-09-19", theme="走进石岭镇便民服务中心"
    )


def _bulletins(engine: Engine) -> list[Bulletin]:
    with Session(engine) as s:
        return list(s.exec(select(Bulletin).order_by(Bulletin.week_start)).all())  # type: ignore[arg-type]


def test_the_scheduler_makes_the_weekly_bulletin_once_with_the_ranking(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    _two_units(walker)
    clock.set(local(2022, 9, 26, 8, 59))  # a Monday, before the hour
    tick(scheduler, workers)
    assert _bulletins(engine) == []
    clock.set(local(2022, 9, 26, 9, 0, 1))
    tick(scheduler, workers)
    clock.set(local(2022, 9, 26, 9, 30))
    tick(scheduler, workers)  # a later pass (or a second scheduler) makes nothing twice
    (b,) = _bulletins(engine)
    assert (b.week_start.isoformat(), b.as_of.isoformat()) == ("2022-09-19", "2022-09-25")
    ranking = [(r["rank"], r["unit_name"], r["score"], r["overdue"], r["last"]) for r in b.rows]
    assert ranking == [(1, "区住建局", 100.0, 0, False), (2, "石岭镇", 50.0, 1, True)]
    with Session(engine) as s:
        boxed = s.exec(
            select(InboxMessage).where(
                InboxMessage.user_id == walker.world.user_ids["supervisor"],
                InboxMessage.kind == "bulletin",
            )
        ).all()
    assert [m.link for m in boxed] == [f"/bulletins/{b.id}"]
    h = walker.world.headers
    r = walker.client.get(f"/api/v1/bulletins/{b.id}/docx", headers=h["supervisor"])
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    doc = Document(io.BytesIO(r.content))
    (table,) = doc.tables
    names = [row.cells[1].text for row in table.rows]
    assert names == ["单位", "区住建局", "石岭镇"]
    assert [row.cells[-2].text for row in table.rows[1:]] == ["100.0", "50.0"]
    r = walker.client.get(f"/api/v1/bulletins/{b.id}/xlsx", headers=h["supervisor"])
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [row[:2] for row in rows] == [["名次", "单位"], [1, "区住建局"], [2, "石岭镇"]]
    assert rows[2][4] == "0.0%" and rows[2][9] == 1 and rows[2][8] == "—"
    assert walker.client.get("/api/v1/bulletins", headers=h["housing"]).status_code == 403
    page = walker.client.get(f"/api/v1/bulletins/{b.id}", headers=h["viewer"])
    assert page.status_code == 200 and page.json()["rows"][1]["unit_name"] == "石岭镇"


def test_last_three_times_in_a_row_is_marked_for_an_interview(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    _two_units(walker)
    for day in (26, 3, 10):
        clock.set(local(2022, 9 if day == 26 else 10, day, 10))
        tick(scheduler, workers)
    marks = [
        [(r["unit_name"], r["streak"], r["interview"]) for r in b.rows] for b in _bulletins(engine)
    ]
    assert marks == [
        [("区住建局", 0, False), ("石岭镇", 1, False)],
        [("区住建局", 0, False), ("石岭镇", 2, False)],
        [("区住建局", 0, False), ("石岭镇", 3, True)],
    ]
    last = _bulletins(engine)[-1]
    assert last.rows[1]["remark"] == "连续3次排名末位，列入约谈"
    r = walker.client.get(
        f"/api/v1/bulletins/{last.id}/docx", headers=walker.world.headers["supervisor"]
    )
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "石岭镇 列入约谈。" in text


def test_satisfaction_joins_the_score_of_units_whose_answers_were_rated(
    walker: Walker, engine: Engine, clock, scheduler, workers: Workers
) -> None:
    """区住建局's answer rated 不满意 before the week ended: its satisfaction is 0%, its score
    (100 + 100 + 0) × ⅓ ≈ 66.7; 石岭镇 has no rating (“—”), its score from the two rates."""
    _two_units(walker)
    with Session(engine) as s:
        reply = s.exec(select(OpinionReply)).one()
        reply.rating, reply.rated_at = "dissatisfied", local(2022, 9, 22, 10)
        s.add(reply)
        s.commit()
    clock.set(local(2022, 9, 26, 9, 30))
    tick(scheduler, workers)
    (b,) = _bulletins(engine)
    seen = [(r["unit_name"], r["satisfaction"], r["score"]) for r in b.rows]
    assert seen == [("区住建局", 0.0, 66.7), ("石岭镇", None, 50.0)]
    r = walker.client.get(
        f"/api/v1/bulletins/{b.id}/xlsx", headers=walker.world.headers["supervisor"]
    )
    rows = [
        [c.value for c in row] for row in load_workbook(io.BytesIO(r.content)).active.iter_rows()
    ]
    assert [row[8] for row in rows[1:]] == ["0.0%", "—"]
