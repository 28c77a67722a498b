"""Integers in paths and query strings kept to what the database can hold (64-bit).

An id, offset or filter above 2^63-1 parses as a Python int but overflows the driver (a 500 on
every route that takes one). One app-wide dependency, run before any other, reads the route's
integer path and query parameters (found once per route from its dependency tree, so new
routes are covered without touching them) and answers 422 naming each field out of range, in
the shared validation-error shape.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from schemas.common import MAX_ID

MIN_INT = -(2**63)


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_int(a) for a in get_args(annotation) if a is not type(None))
    return False


def int_params(dependant: Dependant) -> list[tuple[str, str]]:
    """(location, name) of every integer path or query parameter in a dependency tree."""
    found: list[tuple[str, str]] = []
    pending = [dependant]
    while pending:
        current = pending.pop()
        for where, fields in (("path", current.path_params), ("query", current.query_params)):
            for f in fields:
                if _is_int(f.field_info.annotation) and (where, f.alias) not in found:
                    found.append((where, f.alias))
        pending.extend(current.dependencies)
    return found


def _out_of_range(raw: str) -> bool:
    text = raw.strip()
    digits = text.lstrip("+-")
    if not digits.isdigit():
        return False  # not an integer at all: FastAPI's own validation names it
    if len(digits) > 25:
        return True
    return not MIN_INT <= int(text) <= MAX_ID


async def bounded_ints(request: Request) -> None:
    """Refuse (422) integer path and query parameters outside the 64-bit range."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    params = getattr(route, "_int_params", None)
    if params is None:
        params = int_params(dependant)
        route._int_params = params  # type: ignore[union-attr]
    errors = []
    for where, name in params:
        raw = request.path_params.get(name) if where == "path" else request.query_params.get(name)
        if isinstance(raw, str) and _out_of_range(raw):
            errors.append(
                {
                    "type": "less_than_equal",
                    "loc": (where, name),
                    "msg": f"Input should be between {MIN_INT} and {MAX_ID}",
                    "input": raw[:40],
                    "ctx": {"le": MAX_ID},
                }
            )
    if errors:
        raise RequestValidationError(errors)
