"""Keyset ("cursor") paging for every long list: encode/decode an opaque cursor, and add the
keyset condition to a statement already ordered by its sort keys.

A page asked `after=<cursor>` costs what the first page costs, wherever it falls in the list:
the statement continues after the last row the caller saw, `WHERE (k1, k2, …) > (v1, v2, …)`,
instead of reading and discarding `offset` rows. The cursor is the last row's sort-key values,
JSON in URL-safe base64 with a tag naming the list's ordering (so a cursor of one list is
refused by another) — opaque to clients, and validated on the way back in: a cursor that does
not decode, names another ordering or carries values of the wrong type is a `BadCursor` (422).

Rules for the ordering: the last key is unique (an id), every key is NOT NULL. The keys may go
in either direction; when all go the same way the condition is one row-value comparison (which
PostgreSQL answers from a matching index), otherwise the equivalent OR chain.

Used by web/deps.fetch_page (every list route), workflows/escalation/overdue.py and the pages'
lists."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from workflows.kernel.errors import DomainError

MAX_CURSOR_CHARS = 512


class BadCursor(DomainError):
    """An `after` cursor that this list did not hand out (422 `invalid_cursor`)."""

    def __init__(self, why: str) -> None:
        super().__init__(
            "invalid_cursor",
            "分页游标 after 无效：请使用上一页返回的 next_after 原样传回",
            f"invalid 'after' cursor ({why}): pass back the next_after of the previous page",
            status=422,
            details={"field": "after", "problem": why},
        )


# ---- the cursor text -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _typed(raw: Any) -> Any:
    if isinstance(raw, dict) and len(raw) == 1:
        (tag, text), *_ = raw.items()
        if not isinstance(text, str) or len(text) > 64:
            raise BadCursor("bad value")
        try:
            if tag == "t":
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:  # every stored moment is UTC-aware
                    raise BadCursor("bad value")
                return moment
            if tag == "d":
                return date.fromisoformat(text)
            if tag == "n":
                return Decimal(text)
        except ValueError as exc:
            raise BadCursor("bad value") from exc
        raise BadCursor("bad value")
    if raw is None or isinstance(raw, (bool, int, float, str)):
        if isinstance(raw, str) and len(raw) > 200:
            raise BadCursor("bad value")
        if isinstance(raw, int) and not -(2**63) <= raw < 2**63:
            raise BadCursor("value out of range")
        return raw
    raise BadCursor("bad value")


def encode(tag: str, values: Sequence[Any]) -> str:
    """An opaque cursor: the list's tag and the last row's sort-key values."""
    text = json.dumps([tag, [_plain(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(tag: str, cursor: str, kinds: Sequence[type | None] | None = None) -> tuple[Any, ...]:
    """The sort-key values in a cursor this list (`tag`) handed out; `kinds` (one Python type
    per key, None = any) are checked, else BadCursor."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_tag, values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadCursor("does not decode") from exc
    if got_tag != tag or not isinstance(values, list):
        raise BadCursor("from another list")
    typed = tuple(_typed(v) for v in values)
    if kinds is not None:
        if len(typed) != len(kinds):
            raise BadCursor("from another list")
        for value, kind in zip(typed, kinds, strict=True):
            if kind is None:
                continue
            if value is None or not _fits(value, kind):
                raise BadCursor("wrong value type")
    return typed


def _fits(value: Any, kind: type) -> bool:
    if kind is datetime:
        return isinstance(value, datetime)
    if kind is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if issubclass(kind, Enum) or kind is str:
        return isinstance(value, str)
    return isinstance(value, kind)


# ---- keyset conditions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One sort key: a column expression and its direction."""

    expr: Any
    desc: bool = False

    @property
    def name(self) -> str:
        """`table.column` (or the expression's text) for the list's tag."""
        table = getattr(getattr(self.expr, "table", None), "name", None)
        key = getattr(self.expr, "key", None) or str(self.expr)
        return f"{table}.{key}" if table else str(key)

    @property
    def kind(self) -> type | None:
        """The Python type of its values, when SQLAlchemy knows it."""
        try:
            kind = self.expr.type.python_type
        except (AttributeError, NotImplementedError):
            return None
        if isinstance(kind, type) and issubclass(kind, Enum):
            return str
        return kind if isinstance(kind, type) else None


def keys_of(stmt: Any) -> list[Key]:
    """The sort keys of an ordered statement (`ORDER BY a, b DESC`)."""
    keys = []
    for clause in stmt._order_by_clauses:  # noqa: SLF001 - SQLAlchemy has no public accessor
        if isinstance(clause, UnaryExpression) and clause.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            keys.append(Key(clause.element, clause.modifier is operators.desc_op))
        else:
            keys.append(Key(clause))
    if not keys:
        raise ValueError("keyset paging needs an ordered statement")
    return keys


def tag_of(keys: Sequence[Key], name: str = "") -> str:
    """A short tag naming a list's ordering: a cursor is only valid for the same one."""
    spec = name + "|" + ",".join(k.name + (" desc" if k.desc else "") for k in keys)
    return hashlib.blake2s(spec.encode(), digest_size=6).hexdigest()


def after_condition(keys: Sequence[Key], values: Sequence[Any]) -> Any:
    """Rows strictly after `values` in the keys' order."""
    if all(k.desc == keys[0].desc for k in keys):
        left = sa.tuple_(*(k.expr for k in keys))
        right = sa.tuple_(*(sa.literal(v, k.expr.type) for k, v in zip(keys, values, strict=True)))
        return left < right if keys[0].desc else left > right
    ors = []
    for i, key in enumerate(keys):
        equal = [k.expr == v for k, v in zip(keys[:i], values[:i], strict=True)]
        step = key.expr < values[i] if key.desc else key.expr > values[i]
        ors.append(sa.and_(*equal, step))
    return sa.or_(*ors)


@dataclass
class KeysetPage:
    """One keyset page: its rows and the cursor of the next page (None on the last)."""

    rows: list[Any]
    next_after: str | None


def keyset_page(
    execute: Callable[[Any], Sequence[Any]],
    stmt: Any,
    limit: int,
    after: str | None,
    *,
    name: str = "",
) -> KeysetPage:
    """Run an ordered select for one page after the cursor (None: the first page).

    `execute(stmt)` returns the result rows (`session.execute(stmt).all()`: Rows, not
    scalars); the sort keys are added as extra columns and taken off again, so rows keep their
    shape: an entity when the statement selected one thing, a tuple otherwise.
    """
    keys = keys_of(stmt)
    tag = tag_of(keys, name)
    if after is not None:
        values = decode(tag, after, [k.kind for k in keys])
        stmt = stmt.where(after_condition(keys, values))
    single = len(stmt.column_descriptions) == 1
    n = len(keys)
    extended = stmt.add_columns(*(k.expr.label(f"_keyset_{i}") for i, k in enumerate(keys)))
    raw = list(execute(extended.limit(limit + 1)))
    more = len(raw) > limit
    raw = raw[:limit]
    rows = [r[0] if single else tuple(r[:-n]) for r in raw]
    next_after = encode(tag, tuple(raw[-1][-n:])) if more and raw else None
    return KeysetPage(rows, next_after)
