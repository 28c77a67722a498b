"""The district office's own mailbox (OPENDAY_OFFICE_EMAIL, issue 26): what is copied to the
office (level 2) is e-mailed there when SMTP is configured, never what is addressed to a unit
alone; start-up no longer calls level 2 inbox-only; a malformed address refuses to start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models import Unit
from settings import Settings
from tests.conftest import HOUSING, World
from workers.runtime import notify_config
from workflows.escalation.batch import NotifyConfig
from workflows.escalation.reach import inbox_only_levels
from workflows.escalation.service import Recipient, recipients

OFFICE = "zfb@yanjiang.gov.cn"


def test_level_two_reaches_the_office_mailbox(world: World) -> None:
    config = notify_config(Settings(database_url="sqlite://", smtp_host="mail.invalid",
                                    office_email=OFFICE, notify_log=False))  # fmt: skip
    assert config.office_email == OFFICE and config.email_enabled
    with world.session() as s:
        unit = s.get(Unit, world.units[HOUSING])
        assert unit is not None
        level2 = recipients(s, ("unit_contact", "supervisors"), unit, config, staff=[])
        level1 = recipients(s, ("unit_contact", "unit_head"), unit, config, staff=[])
        assert Recipient("email", OFFICE) in level2 and Recipient("email", OFFICE) not in level1
        no_mail = NotifyConfig(office_email=OFFICE, notify_log=False)
        assert Recipient("email", OFFICE) not in recipients(
            s, ("supervisors",), unit, no_mail, staff=[]
        )
        assert [u.level for u in inbox_only_levels(s, config)] == [1]
        assert [u.level for u in inbox_only_levels(s, no_mail)] == [1, 2]


def test_a_malformed_office_address_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(database_url="sqlite://", office_email="区政府办")
