"""Lateness in the same units on the overdue page and in its export: 逾期工作日 and 逾期自然日."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from sqlmodel import Session

from models import User
from tests.conftest import Walker, World, local
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password


def _cell(html: str, label: str) -> str:
    found = re.search(rf'data-label="{label}"[^>]*>(?:<strong>)?([^<]+)<', html)
    assert found, label
    return found.group(1)


def test_the_overdue_page_and_its_exports_agree_on_both_counts(
    walker: Walker, world: World, clock
) -> None:
    """One event not held: the page's working and calendar days equal the xlsx's and the CSV's."""
    event = walker.create_event()
    clock.set(local(2022, 9, 26, 10))  # ten calendar days past 2022-09-16, six working days
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    for url in ("/board/overdue", "/board"):
        page = walker.client.get(url).text
        assert "<th>逾期工作日</th><th>逾期自然日</th>" in page
        assert _cell(page, "逾期工作日") == "6 个工作日" and _cell(page, "逾期自然日") == "10 天"
        assert 'class="lamp lamp-red" title="红灯：已逾期 6 个工作日"' in page, url

    r = walker.client.get("/board/exports/overdue.xlsx?unit=&kind=")
    sheet = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    head, row = sheet[0], sheet[1]
    assert row[2] == event["id"]
    assert (row[head.index("逾期工作日")], row[head.index("逾期自然日")]) == (6, 10)
    text = walker.client.get("/board/exports/overdue.csv?unit=&kind=").content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert (table[1][table[0].index("逾期工作日")], table[1][table[0].index("逾期自然日")]) == (
        "6",
        "10",
    )
