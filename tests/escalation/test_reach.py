"""Start-up says which escalation levels reach nobody outside the in-app inbox (issue 26)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine
from structlog.testing import capture_logs

from models import Campaign, District, Unit
from settings import Settings
from tests.conftest import HOUSING, World
from workflows.campaign.rules import CampaignRules
from workflows.escalation.batch import NotifyConfig
from workflows.escalation.reach import inbox_only_levels


def test_embedded_defaults_reach_both_levels_only_through_the_inbox(world: World) -> None:
    with world.session() as s:
        found = inbox_only_levels(s, NotifyConfig())
        assert [(u.level, u.campaigns) for u in found] == [
            (1, (world.campaign_id,)),
            (2, (world.campaign_id,)),
        ]
        # The office's robot carries level 2 (copied to the office); level 1 still only inboxes.
        office = NotifyConfig(supervisor_webhook_url="https://qyapi.example/office")
        assert [u.level for u in inbox_only_levels(s, office)] == [1]
        unit = s.get(Unit, world.units[HOUSING])
        assert unit is not None
        unit.contact_email = "c@zhujian.example"
        assert [u.level for u in inbox_only_levels(s, office)] == [1]  # no SMTP: no e-mail
        mail = NotifyConfig(
            email_enabled=True, supervisor_webhook_url=office.supervisor_webhook_url
        )
        assert inbox_only_levels(s, mail) == []


def test_start_up_warns_once_per_level(world: World, engine: Engine) -> None:
    from cli import serve

    with capture_logs() as logs:
        serve.warn_unreached(Settings(database_url="sqlite://"), engine)
    lines = [entry for entry in logs if entry["event"] == "escalation_level_inbox_only"]
    assert [(line["escalation_level"], line["log_level"]) for line in lines] == [
        (1, "warning"),
        (2, "warning"),
    ]
    assert "第2级催办除站内信外没有收件人" in lines[1]["message"]


def test_level_two_is_judged_by_each_campaigns_own_district_office(world: World) -> None:
    """The service-wide office robot is district 1's: a second district's campaign is told
    level 2 reaches its office only through the inbox until its own office has an address."""
    now = datetime(2022, 9, 1, tzinfo=UTC)
    with world.session() as s:
        anyue = District(code="anyue", name="安岳县", city_name="资阳市", created_at=now)
        s.add(anyue)
        s.flush()
        theirs = Campaign(
            district_id=anyue.id, doc_number="安府办发〔2022〕12号", title="安岳县政府开放日",
            issuing_office="安岳县人民政府办公室", starts_on=date(2022, 8, 25),
            ends_on=date(2022, 9, 25), rules=CampaignRules().model_dump(), created_at=now,
        )  # fmt: skip
        s.add(theirs)
        s.flush()
        office = NotifyConfig(email_enabled=True, supervisor_webhook_url="https://qyapi.example/o")
        level_two = [u.campaigns for u in inbox_only_levels(s, office) if u.level == 2]
        assert level_two == [(theirs.id,)]  # not world's campaign (district 1): its robot hears
        anyue.contact_email = "zfb@anyue.example"
        assert [u.level for u in inbox_only_levels(s, office)] == [1]
