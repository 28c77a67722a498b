"""批量添加 on the pages (issue 24): the preview writes nothing and shows the count the list
would reach; confirming adds every row in one edit (one audit line, one version); a list with an
error cannot be confirmed, and its rows name what is wrong."""

from __future__ import annotations

from sqlmodel import Session, select

from models import Invitee
from tests.conftest import Walker
from tests.pages.test_pages import csrf_of, sign_in

FIFTEEN = "\n".join(
    [f"人大代表{n}，人大代表" for n in range(7)]
    + [f"市民{n}\t市民代表\t公开邀请\t幸福社区" for n in range(8)]
)


def _count(walker: Walker, event_id: int) -> int:
    with Session(walker.world.engine) as session:
        return len(session.exec(select(Invitee).where(Invitee.event_id == event_id)).all())


def test_paste_preview_then_confirm_adds_fifteen(walker: Walker) -> None:
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    form = walker.client.get(f"/events/{eid}/invitees/bulk").text
    preview = walker.client.post(
        f"/events/{eid}/invitees/bulk", data={"csrf": csrf_of(form), "text": FIFTEEN}
    )
    assert preview.status_code == 200
    assert "确认添加 15 人" in preview.text and "共 15 人（应为 10–20 人）" in preview.text
    assert "✓ 市民代表 8 人" in preview.text
    assert "15 人：人大代表 7 人、市民代表 8 人" in preview.text
    assert preview.text.count('<li class="bulk-row') == 15
    assert _count(walker, eid) == 0
    before = len(walker.history(eid))
    done = walker.client.post(
        f"/events/{eid}/invitees/bulk/confirm",
        data={"csrf": csrf_of(preview.text), "text": FIFTEEN, "version": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert _count(walker, eid) == 15
    assert len(walker.history(eid)) == before + 1


def test_a_list_with_errors_is_shown_and_cannot_be_confirmed(walker: Walker) -> None:
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    form = walker.client.get(f"/events/{eid}/invitees/bulk").text
    text = "张三 市民代表\n李四 群众"
    preview = walker.client.post(
        f"/events/{eid}/invitees/bulk", data={"csrf": csrf_of(form), "text": text}
    )
    assert "第 1 行：邀请方式：" in preview.text and "第 2 行：人员类别：" in preview.text
    assert "确认添加" not in preview.text
    refused = walker.client.post(
        f"/events/{eid}/invitees/bulk/confirm",
        data={"csrf": csrf_of(preview.text), "text": text, "version": "1"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "名单有误" in refused.text
    assert _count(walker, eid) == 0
    empty = walker.client.post(
        f"/events/{eid}/invitees/bulk", data={"csrf": csrf_of(form), "text": "  "}
    )
    assert empty.status_code == 422 and "请粘贴名单" in empty.text


def test_an_uploaded_csv_previews_like_a_paste(walker: Walker) -> None:
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    form = walker.client.get(f"/events/{eid}/invitees/bulk").text
    data = "姓名,人员类别,邀请方式\n张三,市民代表,公开邀请\n李四,人大代表,\n".encode("gb18030")
    preview = walker.client.post(
        f"/events/{eid}/invitees/bulk",
        data={"csrf": csrf_of(form)},
        files={"file": ("名单.csv", data, "text/csv")},
    )
    assert preview.status_code == 200 and "确认添加 2 人" in preview.text
    assert _count(walker, eid) == 0
    wrong = walker.client.post(
        f"/events/{eid}/invitees/bulk",
        data={"csrf": csrf_of(form)},
        files={"file": ("名单.pdf", b"%PDF", "application/pdf")},
    )
    assert wrong.status_code == 422 and "请上传 .xlsx 或 .csv 文件" in wrong.text
