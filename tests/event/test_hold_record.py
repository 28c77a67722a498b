"""What was held (issue 25): the forms actually held, who met the visitors, the first and last
day held; bad input refused naming the field, nothing written; the report counts forms held."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from models import TransitionLog
from tests.conftest import Walker, error_of
from workflows.campaign import notice
from workflows.event import history


def said(walker: Walker, event_id: int, trigger: str) -> str:
    """The last `trigger` line of the event's history as its Chinese sentence."""
    with Session(walker.world.engine) as session:
        lines = session.exec(
            select(TransitionLog).where(
                TransitionLog.event_id == event_id, TransitionLog.trigger == trigger
            )
        ).all()
        return history.sentence(lines[-1])


def _invited(walker: Walker) -> tuple[dict, dict[str, bool]]:
    event, invitees = walker.invited_event()
    return event, {str(i["id"]): True for i in invitees}


def test_a_hold_over_three_days_records_forms_and_leader_and_runs_the_summary_from_the_last(
    walker: Walker, clock
) -> None:
    event, attendance = _invited(walker)
    clock.advance(timedelta(days=2))  # 2022-09-18
    r = walker.move(
        event["id"],
        "hold",
        data={
            "held_on": "2022-09-15",
            "held_until": "2022-09-17",
            "forms_held": ["dialogue", "site_visit", "dialogue"],
            "met_by": [
                {"name": "王局长", "post": "principal"},
                {"name": "李科长", "post": "other"},
            ],
            "attendance": attendance,
        },
        reason="提前开展",
    )
    assert r.status_code == 200, r.text
    held = r.json()["event"]
    assert held["held_on"] == "2022-09-15" and held["held_until"] == "2022-09-17"
    assert held["forms_held"] == ["site_visit", "dialogue"]  # once each, the notice's order
    assert held["met_by"][0] == {"name": "王局长", "post": "principal"}
    assert held["flags"] == []
    assert held["summary_due_on"] == "2022-09-20"  # 3 days after the LAST day
    [line] = [h for h in walker.history(event["id"]) if h["trigger"] == "hold"]
    assert line["data"]["held_until"] == "2022-09-17"
    sentence = said(walker, event["id"], "hold")
    assert "2022年9月15日至17日" in sentence
    assert "现场参观考察、政民恳谈交流" in sentence and "王局长（主要负责人）" in sentence


def test_a_one_day_hold_ends_the_day_it_began(walker: Walker) -> None:
    event, attendance = _invited(walker)
    held = walker.move(event["id"], "hold", data={"attendance": attendance}).json()["event"]
    assert held["held_on"] == held["held_until"] == "2022-09-16"
    assert held["summary_due_on"] == "2022-09-19"


def test_bad_holds_are_refused_naming_the_field_and_nothing_is_written(walker: Walker) -> None:
    event, attendance = _invited(walker)
    cases = [
        ({"forms_held": []}, 422, "forms_held_missing", "实际开展形式", "forms_held"),
        (
            {"held_on": "2022-09-16", "held_until": "2022-09-15"},
            422,
            "held_until_before_held_on",
            "最后开展日期",
            "before the first",
        ),
        (
            {"met_by": [{"name": "王局长", "post": "mayor"}]},
            422,
            "validation_error",
            "职务",
            "post",
        ),
        ({"met_by": [{"name": " ", "post": "deputy"}]}, 422, "validation_error", "姓名", "name"),
    ]
    for data, status, code, zh, en in cases:
        r = walker.move(event["id"], "hold", data={"attendance": attendance, **data})
        assert r.status_code == status, (data, r.text)
        err = error_of(r)
        assert err["code"] == code and zh in err["message"] and en in err["message_en"], err
        assert "mayor" not in err["message"]
        after = walker.get(event["id"])
        assert after["state"] == "invited" and after["held_on"] is None
        assert after["forms_held"] is None and after["version"] == event["version"]
    r = walker.move(event["id"], "hold", data={"attendance": attendance, "met_by": []})
    err = error_of(walker.move(event["id"], "hold", data={"met_by": [{"post": "x"}]}))
    assert "主要负责人、分管负责人、其他" in err["message"] or "主要负责人" in err["message"]
    assert r.status_code == 200


def test_a_hold_without_either_leader_is_flagged_by_default_and_refused_in_refuse_mode(
    walker: Walker,
) -> None:
    event, attendance = _invited(walker)
    staff_only = [{"name": "李科长", "post": "other"}]
    held = walker.move(event["id"], "hold", data={"attendance": attendance, "met_by": staff_only})
    assert held.status_code == 200, held.text
    [flag] = held.json()["event"]["flags"]
    assert flag["rule"] == "leader" and flag["code"] == "leader_absent"
    assert flag["badge"] == "无主要或分管负责人出面"
    assert flag["source"] == notice.LEADER.text and "李科长（其他）" in flag["message"]

    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={"rules": {"leader_mode": "refuse"}},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    other, attendance = _invited(walker)
    refused = walker.move(other["id"], "hold", data={"attendance": attendance, "met_by": []})
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "leader_absent"
    assert walker.get(other["id"])["state"] == "invited"


def test_the_report_counts_forms_held_and_the_assessment_deducts_a_missing_leader(
    walker: Walker,
) -> None:
    event, attendance = _invited(walker)
    walker.move(
        event["id"],
        "hold",
        data={"attendance": attendance, "forms_held": ["office_visit"], "met_by": []},
    )
    report = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/report",
        headers=walker.world.headers["supervisor"],
    )
    assert report.status_code == 200, report.text
    [row] = [u for u in report.json()["units"] if u["form_office_visit"]]
    assert row["form_office_visit"] == 1 and row["form_dialogue"] == 0
    assert row["flag_leader"] == 1
    assessed = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/assessment",
        headers=walker.world.headers["supervisor"],
    )
    assert assessed.status_code == 200, assessed.text
    assert "leader_absent" in assessed.text and "无主要或分管负责人面对面沟通" in assessed.text


def test_the_events_export_gives_what_was_held(walker: Walker) -> None:
    """The events list (xlsx) has the last day held, the forms held and who met the visitors,
    in words, and the leader flag among the deviations."""
    import io

    import openpyxl

    event, attendance = _invited(walker)
    walker.move(
        event["id"],
        "hold",
        data={"attendance": attendance, "forms_held": ["site_visit", "feedback"],
              "met_by": [{"name": "李科长", "post": "other"}]},
    )  # fmt: skip
    r = walker.client.get("/api/v1/exports/events.xlsx", headers=walker.world.headers["supervisor"])
    assert r.status_code == 200, r.text
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    header = list(rows[0])
    row = next(dict(zip(header, x, strict=True)) for x in rows[1:] if x[0] == event["id"])
    assert row["实际开展形式"] == "现场参观考察、意见反馈"
    assert row["面对面沟通人员"] == "李科长（其他）"
    assert "无主要或分管负责人出面" in row["偏差标记"]
    assert str(row["最后开展日期"])[:10] == "2022-09-16"
