"""Pages: an opinion signed for and transferred on its own page, sent back by the receiving
unit and decided by a supervisor (issue 26); a refused form keeps what was typed."""

from __future__ import annotations

from sqlmodel import Session, select

from models import FeedbackItem, User
from tests.conftest import SHILING, Walker, World
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password


def _passwords(world: World) -> None:
    with Session(world.engine) as session:
        for name in ("shiling", "supervisor"):
            user = session.get(User, world.user_ids[name])
            assert user is not None
            user.password_hash = hash_password(f"pw-{name}")
        session.commit()


def test_transfer_form_send_back_and_decision(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"items": [{"content": "镇上路灯不亮"}]})
    with Session(world.engine) as session:
        item_id = session.exec(select(FeedbackItem.id)).one()
    _passwords(world)
    client = walker.client
    sign_in(client)
    listed = client.get("/events/{}/feedback".format(event["id"]))
    assert f'href="/feedback/{item_id}"' in listed.text and "待签收" in listed.text
    page = client.get(f"/feedback/{item_id}")
    assert page.status_code == 200 and "转办至" in page.text and 'id="sign"' in page.text
    version = str(
        walker.client.get(f"/api/v1/feedback/{item_id}", headers=world.headers["housing"]).json()[
            "version"
        ]
    )
    refused = client.post(
        f"/feedback/{item_id}/transfer",
        data={
            "csrf": csrf_of(page.text),
            "item_version": version,
            "to_unit_id": "",
            "reason": "属镇职责",
        },
    )
    assert refused.status_code == 422 and "请选择转办单位" in refused.text
    assert "属镇职责" in refused.text  # kept
    shiling = str(world.units[SHILING])
    done = client.post(
        f"/feedback/{item_id}/transfer",
        data={
            "csrf": csrf_of(page.text),
            "item_version": version,
            "to_unit_id": shiling,
            "reason": "属镇职责",
        },
    )
    assert "已转办" in done.text and "区住建局转办至石岭镇" in done.text
    client.cookies.clear()
    sign_in(client, "shiling", "pw-shiling")
    waiting = client.get("/transfers")
    assert f'href="/feedback/{item_id}"' in waiting.text and "待接收单位签收" in waiting.text
    page = client.get(f"/feedback/{item_id}")
    assert 'id="send-back"' in page.text
    back = client.post(
        f"/feedback/{item_id}/send-back", data={"csrf": csrf_of(page.text), "reason": "属区住建局"}
    )
    assert "已退回" in back.text
    client.cookies.clear()
    sign_in(client, "supervisor", "pw-supervisor")
    page = client.get(f"/feedback/{item_id}")
    assert 'id="decide"' in page.text and "属区住建局" in page.text
    decided = client.post(
        f"/feedback/{item_id}/decide",
        data={"csrf": csrf_of(page.text), "outcome": "sender", "note": "仍由区住建局办理"},
    )
    assert "已裁定" in decided.text and "区政府办裁定由区住建局办理" in decided.text
