"""Page forms parsed into the API's own models (web/forms.py): a page refuses what the API
refuses, with the same limits and wording, and writes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from models import ExtensionRequest, FeedbackItem
from schemas.extensions import ExtensionIn
from tests.conftest import Walker, World, error_of
from tests.pages.test_pages import csrf_of, sign_in, version_of
from web.forms import FormInvalid, parse


def test_a_6000_character_opinion_is_refused_on_the_page_as_in_the_api(
    walker: Walker, world: World
) -> None:
    """The page once cut the opinion to 5,000 characters and saved it; now it answers 422 with
    the API's own words for the limit, and nothing is written."""
    event, _ = walker.held_event()
    too_long = "路" * 6000
    api = walker.client.post(
        f"/api/v1/events/{event['id']}/feedback",
        params=walker.version_of(event["id"]),
        json={"content": too_long},
        headers=world.headers["housing"],
    )
    assert api.status_code == 422
    problem = error_of(api)["details"]["fields"][0]["problem_zh"]
    assert problem == "最多 5000 个字符"
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/feedback")
    response = walker.client.post(
        f"/events/{event['id']}/feedback",
        data={"csrf": csrf_of(page.text), "version": version_of(page.text), "content": too_long},
    )
    assert response.status_code == 422
    assert f'<a href="#content">意见建议内容：{problem}</a>' in response.text
    with Session(world.engine) as session:
        assert session.exec(select(FeedbackItem)).all() == []


def test_an_overlong_extension_reason_is_refused_on_the_page(walker: Walker, world: World) -> None:
    """延期理由 over the API's 2,000 characters: refused, linked to the field, nothing asked."""
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    with Session(world.engine) as session:
        item_id = session.exec(select(FeedbackItem.id)).one()
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/feedback")
    response = walker.client.post(
        f"/events/{event['id']}/feedback/{item_id}/extension",
        data={"csrf": csrf_of(page.text), "reason": "需" * 2001},
    )
    assert response.status_code == 422
    assert f'<a href="#reason-{item_id}">延期理由：最多 2000 个字符</a>' in response.text
    with Session(world.engine) as session:
        assert session.exec(select(ExtensionRequest)).all() == []


def test_parse_reads_the_models_fields_and_names_what_it_refuses() -> None:
    """Text is trimmed, an empty field is one not given (its default, or the page's sentence
    for it), and every refused field is named with its label in the API's wording."""
    asked = parse(ExtensionIn, {"reason": " 人手不足 ", "requested_due_on": ""}, labels={})
    assert asked == ExtensionIn(reason="人手不足", requested_due_on=None)
    labels = {"reason": "延期理由", "requested_due_on": "希望延至"}
    with pytest.raises(FormInvalid) as refused:
        parse(
            ExtensionIn,
            {"reason": "  ", "requested_due_on": "明天"},
            labels=labels,
            missing={"reason": "请说明申请延期的理由"},
        )
    assert refused.value.status == 422
    assert refused.value.problems == [
        ("reason", "请说明申请延期的理由"),
        ("requested_due_on", "希望延至：应为日期（如 2022-09-16）"),
    ]


def test_the_invitee_form_is_the_apis_invitee(walker: Walker, world: World) -> None:
    """The add-a-person form is parsed into InviteeIn: a name left empty keeps the page's own
    sentence, an organization over the API's 200 characters is refused, and nothing is added."""
    event = walker.create_event()
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/invitees")
    form = {"csrf": csrf_of(page.text), "version": version_of(page.text), "category": "citizen"}
    empty = walker.client.post(f"/events/{event['id']}/invitees", data={**form, "name": " "})
    assert empty.status_code == 422
    assert '<a href="#name">请填写姓名</a>' in empty.text
    long = walker.client.post(
        f"/events/{event['id']}/invitees",
        data={**form, "name": "张三", "organization": "社" * 201},
    )
    assert long.status_code == 422
    assert '<a href="#organization">工作单位或社区：最多 200 个字符</a>' in long.text
    listed = walker.client.get(
        f"/api/v1/events/{event['id']}/invitees", headers=world.headers["housing"]
    )
    assert listed.json()["total"] == 0
