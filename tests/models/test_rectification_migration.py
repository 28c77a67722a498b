"""The rectification migration (0023) goes down and up again on SQLite without copying
site_visit (its photos refer to it): visits and their photos stay."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from models.db import migrate
from settings import PROJECT_DIR

ROWS = [
    "INSERT INTO campaign (id, doc_number, title, issuing_office, starts_on, ends_on, rules, "
    "created_at) VALUES (1, 'd', 't', 'o', '2022-08-22', '2022-09-22', '{}', '2022-08-01')",
    "INSERT INTO unit (id, name, kind, created_at) VALUES (1, 'u', 'town', '2022-08-01')",
    "INSERT INTO event (id, campaign_id, unit_id, theme, date_earliest, date_latest, tentative, "
    "forms, state, version, created_at, updated_at) VALUES "
    "(1, 1, 1, 'th', '2022-09-16', '2022-09-16', 0, '[]', 'planned', 1, "
    "'2022-08-01', '2022-08-01')",
    "INSERT INTO site_visit (id, event_id, visited_on, people, findings, created_at) "
    "VALUES (1, 1, '2022-09-16', 'p', 'f', '2022-09-16')",
    "INSERT INTO visit_photo (id, visit_id, filename, content_type, size, sha256, storage_key, "
    "created_at) VALUES (1, 1, 'a.jpg', 'image/jpeg', 1, 'x', 'k', '2022-09-16')",
]


def test_visits_survive_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.downgrade(config, "0022")
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql("PRAGMA foreign_keys=ON")
        for row in ROWS:
            c.exec_driver_sql(row)
    command.upgrade(config, "head")
    with sa.create_engine(url).connect() as c:
        row = c.exec_driver_sql("SELECT findings, problem, spot_check_id FROM site_visit").one()
        assert tuple(row) == ("f", 0, None)
        assert "rectification" in sa.inspect(c).get_table_names()
    command.downgrade(config, "0022")
    with sa.create_engine(url).connect() as c:
        cols = {col["name"] for col in sa.inspect(c).get_columns("site_visit")}
        assert "problem" not in cols and "spot_check_id" not in cols
        assert c.exec_driver_sql("SELECT count(*) FROM visit_photo").scalar() == 1
