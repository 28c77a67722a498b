"""`IdIn` (workflows/kernel/id_set.py): a unit scope as one array parameter on PostgreSQL and
an IN list elsewhere, answering as `column IN (ids)` would on both backends, through the
statement cache, negated, and with a text that does not grow with the ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, not_
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from models import Unit, UnitKind
from workflows.kernel.id_set import IdIn
from workflows.kernel.visibility import unit_clause

NOW = datetime(2022, 9, 1, tzinfo=UTC)


def _count(session: Session, clause: object) -> int:
    return int(session.exec(select(func.count()).select_from(Unit).where(clause)).one())


@pytest.fixture
def unit_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        units = [
            Unit(name=f"集合测试{n}", kind=UnitKind.department, created_at=NOW) for n in range(6)
        ]
        session.add_all(units)
        session.commit()
        return sorted(u.id for u in units if u.id is not None)


def test_it_answers_as_an_in_list_through_the_statement_cache(
    engine: Engine, unit_ids: list[int]
) -> None:
    sets = [unit_ids[:1], unit_ids[:2], unit_ids[1:5], [unit_ids[-1], 10**9], unit_ids]
    with Session(engine) as session:
        total = _count(session, Unit.id.is_not(None))  # type: ignore[union-attr]
        for ids in sets * 2:  # the second pass runs every shape from the cache
            inside = _count(session, IdIn(Unit.id, ids))
            assert inside == _count(session, Unit.id.in_(ids))  # type: ignore[union-attr]
            assert inside == len(set(ids) & set(unit_ids))
            assert _count(session, not_(IdIn(Unit.id, ids))) == total - inside


def test_the_postgresql_text_is_the_same_for_any_number_of_ids() -> None:
    dialect = postgresql.psycopg.dialect()  # type: ignore[attr-defined]
    texts = {
        str(select(Unit.id).where(IdIn(Unit.id, range(n))).compile(dialect=dialect))
        for n in (1, 2, 200, 5000)
    }
    assert len(texts) == 1
    assert "unit.id = ANY (%(param_1)s::INTEGER[])" in texts.pop()


def test_a_scope_of_a_district_uses_it_and_an_empty_one_matches_nothing() -> None:
    assert isinstance(unit_clause(Unit.id, frozenset({3, 1})), IdIn)
    assert str(unit_clause(Unit.id, frozenset())) == "false"
    assert unit_clause(Unit.id, None) is None
