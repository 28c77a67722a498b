"""`column IN (ids)` whose SQL text does not grow with the ids.

A district's supervisor sees a few hundred units, and every list they read is narrowed to them.
Written as `column.in_(ids)`, each statement carries one bound parameter per unit: SQLAlchemy
renders the list into the text on every execution and psycopg, whose parse cache skips long
statements, splits that text again each time. On the board's 30 statements that was a third of
the request's CPU (py-spy, 200 units, issue 32). On PostgreSQL the same test is
`column = ANY(:ids)` with the ids as one array parameter, the plan PostgreSQL makes of an IN
list anyway; the text stays the same for any set, so it is parsed once and prepared. Other
databases (SQLite, the embedded default) get the plain IN list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Boolean, Integer, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class IdIn(ColumnElement[bool]):
    """`column IN (ids)` (ids not empty): `column = ANY(:array)` on PostgreSQL."""

    __visit_name__ = "id_in"
    inherit_cache = True
    # Both spellings are children, so the statement cache keys on the column alone and takes
    # each execution's ids from the bound parameters, as for any literal value.
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("as_array", InternalTraversal.dp_clauseelement),
        ("as_list", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no `= 1` added where booleans are not native

    def __init__(self, column: Any, ids: Iterable[int]) -> None:
        values = sorted(ids)
        self.column = column
        self.as_array = bindparam(None, values, type_=ARRAY(Integer))
        # Built as IN only when compiled (once per statement shape): `column.in_(values)` here
        # would coerce every id on every request.
        self.as_list = bindparam(None, values, expanding=True, type_=column.type)

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)


@compiles(IdIn)
def _in_list(element: IdIn, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.as_list).self_group(), **kw))


@compiles(IdIn, "postgresql")
def _any_array(element: IdIn, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"({column} = ANY ({compiler.process(element.as_array, **kw)}))"
