"""The release's `admin` account becomes a security administrator on upgrade, with a
`role_split` audit line saying so, and the audit chain still verifies (issue 29, 三员分立)."""

from __future__ import annotations

from sqlmodel import Session, select

from models import ChangeLog, User
from models.db import make_engine, migrate
from tests.models.test_upgrade_release import release_url  # noqa: F401 - the fixture

__all__ = ["release_url"]


def test_the_admin_becomes_the_security_administrator(release_url: str) -> None:  # noqa: F811
    migrate(release_url)
    engine = make_engine(release_url)
    try:
        with Session(engine) as session:
            roles = {u.username: u.role for u in session.exec(select(User)).all()}
            assert roles["admin"] == "security_admin"
            assert "admin" not in roles.values()
            lines = session.exec(select(ChangeLog).where(ChangeLog.action == "role_split")).all()
            assert [line.entity_id for line in lines] == [
                session.exec(select(User.id).where(User.username == "admin")).one()
            ]
            assert "三员分立" in lines[0].after["note"]
    finally:
        engine.dispose()
