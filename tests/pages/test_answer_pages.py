"""The opinions page (issues 24, 25): an opinion added after collection with its day received,
refusals of a bad day shown in words with what was typed kept, and an answer corrected with a
reason within the unit's days, then refused to the unit and offered to the supervisor."""

from __future__ import annotations

import re

from sqlmodel import select

from models import CorrectionRequest, FeedbackItem
from tests.conftest import Walker, local
from tests.feedback.test_answered_on import answer, one_opinion
from tests.pages.test_event_pages import supervisor_password
from tests.pages.test_pages import csrf_of, sign_in, version_of


def item_version(html: str, item_id: int) -> str:
    found = re.search(
        rf'action="/events/\d+/feedback/{item_id}/correct"[^>]*>\s*<input type="hidden" '
        r'name="csrf" value="[^"]+"><input type="hidden" name="item_version" value="(\d+)"',
        html,
    )
    assert found, html
    return found.group(1)


def test_an_opinion_received_later_is_added_on_the_page(walker: Walker, clock) -> None:
    event_id, _ = one_opinion(walker)
    clock.set(local(2022, 9, 22, 10))
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event_id}/feedback").text
    assert "补充登记意见建议" in page and 'max="2022-09-22"' in page
    form = {"csrf": csrf_of(page), "version": version_of(page), "content": "希望增设路灯"}
    r = walker.client.post(
        f"/events/{event_id}/feedback", data={**form, "received_on": "2022-09-15"}
    )
    assert r.status_code == 422
    assert "收到意见的日期（2022年9月15日（星期四））不能早于活动开展日期" in r.text
    assert ">希望增设路灯</textarea>" in r.text and 'value="2022-09-15"' in r.text
    r = walker.client.post(
        f"/events/{event_id}/feedback", data={**form, "received_on": "2022-09-20"}
    )
    assert r.status_code == 200 and "已登记 1 条意见建议" in r.text
    assert "活动后补充收集 · 收到日期：2022年9月20日（星期二）" in r.text
    assert "2022年10月14日（星期五）前答复" in r.text
    with walker.world.session() as s:
        late = s.exec(select(FeedbackItem).where(FeedbackItem.added_late)).one()
        assert late.collected_on and late.collected_on.isoformat() == "2022-09-20"


def test_an_answer_is_corrected_on_the_page_then_only_by_the_supervisor(
    walker: Walker, clock
) -> None:
    event_id, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 17, 9))
    assert answer(walker, item_id).status_code == 200
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event_id}/feedback").text
    assert "更正答复" in page and "本单位可在2022年10月24日（星期一）前更正" in page
    form = {"csrf": csrf_of(page), "item_version": item_version(page, item_id)}
    url = f"/events/{event_id}/feedback/{item_id}/correct"
    r = walker.client.post(url, data={**form, "answer": "已修复", "answered_on": "2022-10-11"})
    assert r.status_code == 422 and "更正理由：" in r.text and "reason：" not in r.text
    assert 'value="2022-10-11"' in r.text  # kept
    r = walker.client.post(
        url, data={**form, "answer": "已修复", "answered_on": "2022-10-11", "reason": "日期录错"}
    )
    assert r.status_code == 200 and "已更正答复" in r.text
    assert "答复日期：2022年10月11日（星期二） · 按时答复" in r.text
    history = walker.client.get(f"/events/{event_id}/history").text
    assert "更正了意见" in history and "理由：日期录错。" in history
    clock.set(local(2022, 10, 25, 9))
    walker.client.cookies.clear()
    sign_in(walker.client)  # the session does not last a week
    page = walker.client.get(f"/events/{event_id}/feedback").text
    assert "本单位更正答复的期限已于2022年10月24日（星期一）结束" in page
    assert "提交更正申请" in page  # past its days the clerk asks
    form = {"csrf": csrf_of(page), "item_version": item_version(page, item_id)}
    r = walker.client.post(
        url, data={**form, "answer": "已修复", "answered_on": "2022-10-10", "reason": "实为10日"}
    )
    assert r.status_code == 200 and "已提交更正申请，等待区政府办审批" in r.text
    assert "等待区政府办审批" in r.text and "答复日期：2022年10月11日" in r.text  # not yet
    with walker.world.session() as s:
        request = s.exec(select(CorrectionRequest)).one()
        assert request.kind == "answer" and request.state == "pending"
        assert request.payload == {
            "feedback_item_id": item_id, "answer": "已修复", "answered_on": "2022-10-10"
        }  # fmt: skip
    supervisor_password(walker.world)
    walker.client.cookies.clear()
    sign_in(walker.client, "supervisor", "pw-super")
    page = walker.client.get(f"/events/{event_id}/feedback").text
    assert f"/feedback/{item_id}/correct" in page and "保存更正" in page
    listing = walker.client.get("/corrections").text
    r = walker.client.post(
        f"/corrections/{request.id}", data={"csrf": csrf_of(listing), "action": "approve"}
    )
    assert r.status_code == 200 and "已批准，更正已生效" in r.text
    page = walker.client.get(f"/events/{event_id}/feedback").text
    assert "答复日期：2022年10月10日（星期一） · 按时答复" in page
    history = walker.client.get(f"/events/{event_id}/history").text
    assert "（批准housing的更正申请）更正了意见" in history and "理由：实为10日。" in history
