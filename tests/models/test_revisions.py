"""models/revisions.py: the migration chain read from the version files agrees with Alembic's
own revision map, and `migrate` leaves a database at head alone without running Alembic while
still migrating one that is behind (issue 32's cold start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from models import revisions
from models.db import make_engine, migrate
from settings import PROJECT_DIR

LINK = '''"""{rev}"""
revision: str = "{rev}"
down_revision: str | None = {down}
branch_labels = None
depends_on = None
'''


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty versions folder that `chain()` reads instead of the project's."""
    monkeypatch.setattr(revisions, "VERSIONS", tmp_path)
    revisions.chain.cache_clear()
    yield tmp_path
    revisions.chain.cache_clear()


def _write(folder: Path, rev: str, down: str | None, extra: str = "") -> None:
    (folder / f"{rev}_x.py").write_text(
        LINK.format(rev=rev, down=f'"{down}"' if down else "None") + extra
    )


def test_the_files_reading_is_alembics() -> None:
    revisions.chain.cache_clear()
    found = revisions.chain()
    assert found is not None
    assert found == revisions.alembic_chain()
    assert len(found.heads) == 1 and len(found.known) >= 44


def test_a_linear_chain_is_read_and_anything_else_is_left_to_alembic(versions: Path) -> None:
    _write(versions, "0001", None)
    _write(versions, "0002", "0001")
    (versions / "__init__.py").write_text("")
    assert revisions.chain() == revisions.Chain(frozenset({"0001", "0002"}), frozenset({"0002"}))
    for extra in ('down_revision = ("0001", "0002")\n', 'depends_on = "0001"\n'):
        revisions.chain.cache_clear()
        _write(versions, "0003", "0002", extra)
        assert revisions.chain() is None, extra
    revisions.chain.cache_clear()
    _write(versions, "0003", "0009")  # its parent is no file here
    assert revisions.chain() is None


def test_at_head_only_when_the_database_says_the_newest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert not revisions.at_head(conn)  # no version table
        migrate(url)
        with engine.connect() as conn:
            assert revisions.at_head(conn)
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0043'")
            assert not revisions.at_head(conn)
    finally:
        engine.dispose()


def test_migrate_skips_alembic_at_head_and_still_upgrades_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0043")
    calls: list[str] = []
    real = command.upgrade
    monkeypatch.setattr(
        command, "upgrade", lambda c, target: calls.append(target) or real(c, target)
    )
    migrate(url)  # behind: Alembic runs
    assert calls == ["head"]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert sa.inspect(conn).has_table("district_grant")  # 0044's table
        assert revisions.at_head(conn)
    engine.dispose()
    migrate(url)  # at head: Alembic is not asked
    assert calls == ["head"]
