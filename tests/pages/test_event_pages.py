"""The event's own pages (issue 24): a returned summary is visible with its reasons and new due
day, the spot check has its page, the hold starts blank and passes a check page, the summary's
text and photos are one form, and the history reads as sentences."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session

from models import User
from tests.conftest import Walker, World, tiny_jpeg
from tests.pages.test_pages import csrf_of, sign_in, version_of
from workflows.accounts.service import hash_password


def submitted(walker: Walker) -> int:
    """An event held, collected (no opinions), with a photo and its summary submitted."""
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.move(eid, "collect_feedback", data={"no_opinions": True}).status_code == 200
    assert walker.upload(eid).status_code == 201
    r = walker.move(eid, "submit_summary", data={"text": "活动开展情况良好。"})
    assert r.status_code == 200, r.text
    return int(eid)


def supervisor_password(world: World) -> None:
    """The test world's supervisor can sign in on the pages."""
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()


def test_returned_summary_shows_reasons_and_new_due_day(walker: Walker) -> None:
    """After return_for_rework, 我的活动, the task list and 报送总结 show why and by when."""
    eid = submitted(walker)
    r = walker.move(
        eid,
        "return_for_rework",
        who="supervisor",
        data={"reasons": ["照片无拍摄日期", "请补充活动现场照片"], "due_on": "2026-12-30"},
    )
    assert r.status_code == 200, r.text
    sign_in(walker.client)
    for path in ("/", f"/events/{eid}", f"/events/{eid}/summary"):
        html = walker.client.get(path).text
        assert "区政府办已退回总结（第 2 轮报送）" in html, path
        assert "退回理由：照片无拍摄日期。请补充活动现场照片。" in html, path
        assert "2026年12月30日（星期三）" in html, path
        assert "[" not in html.split("退回理由")[1][:80]
    assert "【退回整改】" in walker.client.get("/").text
    assert "【退回整改】" in walker.client.get(f"/events/{eid}").text
    # Resubmitted: the banner goes.
    assert walker.move(eid, "submit_summary").status_code == 200
    assert "区政府办已退回总结" not in walker.client.get(f"/events/{eid}").text


def test_spot_check_page_shows_every_round(walker: Walker, world: World) -> None:
    """The task list's 区政府办抽查 link answers a page: result, notes, who and when; the
    supervisor finds the form while the event waits for it."""
    eid = submitted(walker)
    supervisor_password(world)
    sign_in(walker.client, "supervisor", "pw-super")
    page = walker.client.get(f"/events/{eid}/spot-check")
    assert page.status_code == 200 and "记录抽查结果" in page.text
    response = walker.client.post(
        f"/board/spot-check/{eid}",
        data={
            "csrf": csrf_of(page.text),
            "version": version_of(page.text),
            "back": "event",
            "result": "needs_improvement",
            "notes": "照片不够清晰",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/events/{eid}/spot-check?")
    walker.client.cookies.clear()
    sign_in(walker.client)
    assert f'href="/events/{eid}/spot-check"' in walker.client.get(f"/events/{eid}").text
    html = walker.client.get(f"/events/{eid}/spot-check").text
    assert "第 1 轮抽查：" in html and "需整改" in html and "照片不够清晰" in html
    assert "抽查人员" in html and "记录抽查结果</button>" not in html


def test_hold_starts_blank_and_passes_a_check_page(walker: Walker) -> None:
    """No day and no box pre-filled; a missing day is refused; the check page records it."""
    event, invitees = walker.invited_event(citizens=5, deputies=5)
    eid = event["id"]
    sign_in(walker.client)
    page = walker.client.get(f"/events/{eid}/hold")
    assert 'name="held_on" type="date" value=""' in page.text
    assert "checked" not in page.text
    token, version = csrf_of(page.text), version_of(page.text)
    ids = [str(i["id"]) for i in invitees]
    refused = walker.client.post(
        f"/events/{eid}/hold/check", data={"csrf": token, "version": version, "attended": ids}
    )
    assert refused.status_code == 422
    assert '<a href="#held_on">请填写实际开展日期</a>' in refused.text
    assert refused.text.count("checked") == len(ids)  # what was ticked stays ticked
    form = {
        "csrf": token,
        "version": version,
        "held_on": "2022-09-16",
        "attended": ids[:9],
        "forms_held": ["dialogue"],
        "met_name": ["王局长", ""],
        "met_post": ["principal", ""],
    }
    no_form = walker.client.post(f"/events/{eid}/hold/check", data={**form, "forms_held": []})
    assert no_form.status_code == 422 and '<a href="#forms_held">实际开展形式' in no_form.text
    check = walker.client.post(f"/events/{eid}/hold/check", data=form)
    assert "2022年9月16日（星期五）" in check.text and "9 人" in check.text
    assert "政民恳谈交流" in check.text and "王局长（主要负责人）" in check.text
    assert walker.get(eid)["state"] == "invited"  # nothing written by the check page
    back = walker.client.post(f"/events/{eid}/hold/check", data={**form, "action": "back"})
    assert 'value="2022-09-16"' in back.text
    assert back.text.count("checked") == 9 + 1  # nine attendees and the form held
    assert 'value="王局长"' in back.text and 'value="principal" selected' in back.text
    done = walker.client.post(f"/events/{eid}/hold", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert walker.get(eid)["state"] == "held"


def test_summary_text_and_photos_are_one_form(walker: Walker) -> None:
    """The picker takes photos and documents (no forced camera); text and files save together."""
    event, _ = walker.held_event()
    eid = event["id"]
    sign_in(walker.client)
    page = walker.client.get(f"/events/{eid}/summary")
    assert "capture=" not in page.text
    picker = re.search(r'<input id="photo-input"[^>]*>', page.text)
    assert picker and "image/*" in picker.group(0) and "application/pdf" in picker.group(0)
    assert picker.group(0) in page.text.split(f'action="/events/{eid}/summary"')[1]
    response = walker.client.post(
        f"/events/{eid}/summary",
        data={
            "csrf": csrf_of(page.text),
            "version": version_of(page.text),
            "text": "正在写的总结",
            "action": "save",
        },
        files={"photos": ("现场.jpg", tiny_jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    html = walker.client.get(f"/events/{eid}/summary").text
    assert "正在写的总结" in html and "现场.jpg" in html


def test_history_reads_as_sentences(walker: Walker) -> None:
    """历史记录: who did what in Chinese, no trigger codes or field names."""
    event, _ = walker.held_event()
    sign_in(walker.client)
    html = walker.client.get(f"/events/{event['id']}/history").text
    assert "添加了受邀人员：代表1（人大代表）" in html and "发出了邀请。" in html
    assert "edit.invitees" not in html and "late_days" not in html and "'category'" not in html
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日（星期.）\d\d:\d\d", html)


def test_attendance_is_corrected_with_a_reason(walker: Walker) -> None:
    """The held event's page offers 更改; a correction without a reason is refused; with one it
    is recorded and the history tells it in words."""
    event, invitees = walker.held_event()
    eid = event["id"]
    sign_in(walker.client)
    hold = walker.client.get(f"/events/{eid}/hold").text
    assert f'href="/events/{eid}/attendance"' in hold
    page = walker.client.get(f"/events/{eid}/attendance")
    ids = [str(i["id"]) for i in invitees][1:]
    form = {"csrf": csrf_of(page.text), "version": version_of(page.text), "attended": ids}
    refused = walker.client.post(f"/events/{eid}/attendance", data=form)
    assert refused.status_code == 422 and '<a href="#reason">请填写更正理由</a>' in refused.text
    done = walker.client.post(
        f"/events/{eid}/attendance", data={**form, "reason": "漏记"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    html = walker.client.get(f"/events/{eid}/history").text
    assert "更正了出席情况：代表1（人大代表）改为未出席，现出席 14 人。理由：漏记。" in html


def test_a_late_attendance_correction_becomes_a_request(walker: Walker, clock) -> None:
    """Past the unit's correction days the attendance form sends a request; nothing changes
    until a supervisor approves, and the hold page shows it pending."""
    event, invitees = walker.held_event()
    eid = event["id"]
    clock.advance(timedelta(days=14))
    sign_in(walker.client)
    hold = walker.client.get(f"/events/{eid}/hold").text
    assert "申请更正" in hold
    page = walker.client.get(f"/events/{eid}/attendance")
    assert "提交更正申请" in page.text and "本单位更正期限已于" in page.text
    ids = [str(i["id"]) for i in invitees][1:]
    form = {"csrf": csrf_of(page.text), "version": version_of(page.text), "attended": ids,
            "reason": "代表1因公未到"}  # fmt: skip
    done = walker.client.post(f"/events/{eid}/attendance", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    html = walker.client.get(f"/events/{eid}/hold").text
    assert "出席情况更正" in html and "等待区政府办审批" in html
    pending = walker.client.get(
        "/api/v1/correction-requests?state=pending", headers=walker.world.headers["supervisor"]
    ).json()["items"]
    assert [p["kind"] for p in pending] == ["attendance"]
    assert sum(pending[0]["payload"]["attendance"].values()) == len(ids)


def test_the_invitee_list_is_corrected_after_the_hold(walker: Walker) -> None:
    """更正受邀名单: a name fixed and a person added, with a reason; the history names them."""
    event, invitees = walker.held_event()
    eid = event["id"]
    sign_in(walker.client)
    assert (
        f'href="/events/{eid}/invitee-correction"' in walker.client.get(f"/events/{eid}/hold").text
    )
    page = walker.client.get(f"/events/{eid}/invitee-correction")
    first = invitees[0]
    form = {"csrf": csrf_of(page.text), "version": version_of(page.text),
            f"name-{first['id']}": "代表壹", "new_name": "市民补", "new_category": "citizen",
            "new_attended": "1"}  # fmt: skip
    refused = walker.client.post(f"/events/{eid}/invitee-correction", data=form)
    assert refused.status_code == 422 and "请填写更正理由" in refused.text
    done = walker.client.post(
        f"/events/{eid}/invitee-correction", data={**form, "reason": "签到表核对"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, done.text
    html = walker.client.get(f"/events/{eid}/history").text
    assert "更正了受邀名单：代表1（人大代表）改为代表壹（人大代表）；补充市民补（市民代表）" in html
