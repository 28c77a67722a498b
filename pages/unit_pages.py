"""管理 › 单位名称与合并 (issue 30): a unit's dated names, a rename from a day, a merge into
another unit from a day — each checked on a confirmation page before anything is written.
Supervisors and the system administrator; every rule runs in workflows/accounts/unit_history.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from models import Unit
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from schemas.unit_history import UnitMergeIn, UnitRenameIn
from web.deps import SessionDep
from web.forms import FormInvalid, parse
from workflows.accounts import unit_history
from workflows.accounts import units as unit_records
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor, scope

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LABELS = {"name": "新名称", "on": "启用日期", "into_unit_id": "并入的单位"}
FIELDS = {"unit_exists": "name", "unit_name_unchanged": "name", "unit_name_missing": "name"}
FIELDS |= {"unit_date_before_current_name": "on"}
FIELDS |= {c: "into_unit_id" for c in ("unit_merge_into_itself", "unit_already_merged")}
FIELDS |= {"unit_merge_target_merged": "into_unit_id", "unit_not_found": "into_unit_id"}


def _may(user: PageUser, request: Request) -> None:
    """Supervisors and the system administrator (no audit line for merely looking)."""
    unit_records.require_units(None, user.actor, request.app.state.clock.now())


@router.get("/admin/units")
def units_get(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Every unit with its name today and whether it merged into another."""
    _may(user, request)
    units = unit_records.in_schedule_order(session, scope(user.actor, None))
    return render(request, "units.html", units=units, by_id={u.id: u for u in units})


def _page(
    request: Request,
    session: Session,
    unit: Unit,
    *,
    errors: list[FieldError] | None = None,
    form: Any = None,
    check: dict[str, Any] | None = None,
) -> HTMLResponse:
    same = unit_records.in_schedule_order(session, unit_records.of_district(session, unit))
    others = [u for u in same if u.id != unit.id]
    return render(
        request,
        "unit_history.html",
        unit=unit,
        names=unit_history.names(session, unit),
        merged_in=unit_history.merged_in(session, unit.id),  # type: ignore[arg-type]
        into=session.get(Unit, unit.merged_into_id) if unit.merged_into_id else None,
        lines=unit_history.changes(session, unit.id),  # type: ignore[arg-type]
        others=others,
        names_of={u.id: u.name for u in others},
        values={k: str(form.get(k, "")) for k in LABELS} if form else {},
        check=check,
        errors=errors or [],
    )


@router.get("/admin/units/{unit_id}")
def unit_get(request: Request, unit_id: int, user: UserDep, session: SessionDep) -> HTMLResponse:
    """A unit's names with their days, its merges, the audit lines, and the two forms."""
    _may(user, request)
    return _page(request, session, unit_records.get(session, unit_id, user.actor))


def _rename_check(session: Session, unit: Unit, body: UnitRenameIn) -> dict[str, Any]:
    since = unit_history.name_since(session, unit.id)  # type: ignore[arg-type]
    before = f"{day_zh(body.on)}以前" + (f"（自{day_zh(since)}起）" if since else "")
    return {
        "kind": "rename",
        "values": {"name": body.name.strip(), "on": body.on.isoformat()},
        "lines": [
            f"自{day_zh(body.on)}起，“{unit.name}”更名为“{body.name.strip()}”。",
            f"{before}的活动和报表仍显示“{unit.name}”；单位编号、账号、活动和意见不变。",
        ],
        "button": "确认更名",
    }


def _merge_check(session: Session, actor: Actor, unit: Unit, body: UnitMergeIn) -> dict[str, Any]:
    into = unit_records.get(session, body.into_unit_id, actor)
    lines = [
        f"自{day_zh(body.on)}起，“{unit.name}”并入“{into.name}”。",
        f"“{unit.name}”此前各年度的记录仍属于它，原活动报表照旧显示；逐年对比中计入“{into.name}”。",
    ]
    owed = unit_history.open_opinions(session, unit.id)  # type: ignore[arg-type]
    warning = ""
    if owed:
        warning = (
            f"“{unit.name}”还有 {owed} 条意见未办结：合并后仍由“{unit.name}”的账号办理，"
            f"或转办给“{into.name}”；办理时限和催办不变。"
        )
    return {
        "kind": "merge",
        "values": {"into_unit_id": str(into.id), "on": body.on.isoformat()},
        "lines": lines,
        "warning": warning,
        "button": "确认合并",
    }


def _apply(
    session: Session, user: PageUser, unit_id: int, kind: str, form: Any, now: datetime
) -> UnitRenameIn | UnitMergeIn:
    """The form parsed and the move made; the caller commits it or rolls it back."""
    if kind == "rename":
        rename = parse(UnitRenameIn, form, labels=LABELS, missing=_MISSING)
        unit_history.rename(session, user.actor, unit_id, rename.name, rename.on, now)
        return rename
    into = str(form.get("into_unit_id", ""))
    merge = parse(UnitMergeIn, form, labels=LABELS, missing=_MISSING,
                  into_unit_id=int(into) if into.isdigit() else None)  # fmt: skip
    unit_history.merge(session, user.actor, unit_id, merge.into_unit_id, merge.on, now)
    return merge


_MISSING = {
    "name": "新名称：请填写",
    "on": "启用日期：请填写",
    "into_unit_id": "并入的单位：请选择",
}


def _change(
    request: Request, unit_id: int, kind: str, form: Any, user: PageUser, session: Session
) -> Response:
    """check: the rules run and are rolled back, then the confirmation page; confirm: done."""
    _may(user, request)
    unit_records.get(session, unit_id, user.actor)  # 404 before anything else
    now = request.app.state.clock.now()
    confirm = form.get("action") == "confirm"
    try:
        body = _apply(session, user, unit_id, kind, form, now)
    except (FormInvalid, DomainError) as exc:
        session.rollback()
        errors = errors_of(exc, FIELDS)
        if kind == "merge":  # the merge form's day has its own input
            errors = [FieldError(e.message, "merge-on", e.status) if e.field == "on" else e
                      for e in errors]  # fmt: skip
        unit = unit_records.get(session, unit_id, user.actor)
        return _page(request, session, unit, errors=errors, form=form)
    if confirm:
        session.commit()
        done = "已更名" if kind == "rename" else "已记录合并"
        return redirect(f"/admin/units/{unit_id}", done)
    session.rollback()  # nothing is written before the confirmation
    unit = unit_records.get(session, unit_id, user.actor)
    check = (
        _rename_check(session, unit, body)  # type: ignore[arg-type]
        if kind == "rename"
        else _merge_check(session, user.actor, unit, body)  # type: ignore[arg-type]
    )
    return _page(request, session, unit, form=form, check=check)


@router.post("/admin/units/{unit_id}/rename")
def rename_post(
    request: Request, unit_id: int, form: FormDep, user: UserDep, session: SessionDep
) -> Response:
    """Rename from a day: the confirmation first, then the rename and its audit line."""
    return _change(request, unit_id, "rename", form, user, session)


@router.post("/admin/units/{unit_id}/merge")
def merge_post(
    request: Request, unit_id: int, form: FormDep, user: UserDep, session: SessionDep
) -> Response:
    """Merge into another unit from a day: the confirmation first, then the merge."""
    return _change(request, unit_id, "merge", form, user, session)
