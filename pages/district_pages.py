"""管理 › 区县 (issue 28): the city's districts with their counts, adding and editing one (the
city's system administrator), and a district's acting grants for city supervisors (granted and
revoked by the district's security administrator). Every rule is in
workflows/accounts/districts.py and workflows/accounts/grants.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from models import District
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from web.deps import ClockDep, SessionDep
from workflows.accounts import districts, grants

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TEXTS = ("code", "name", "city_name", "office_name", "contact_name", "contact_phone",
         "contact_email")  # fmt: skip
FIELDS = {"district_code_invalid": "code", "district_name_required": "name",
          "city_supervisor_required": "account_id", "grant_exists": "account_id",
          "grantee_not_found": "account_id"}  # fmt: skip


def _explain(exc: Exception) -> list[FieldError]:
    errors = errors_of(exc, FIELDS)
    details = getattr(exc, "details", None) or {}
    field = details.get("field") if isinstance(details, dict) else None
    if isinstance(field, str):  # district_exists and field_too_long name their field
        errors = [FieldError(e.message, field, e.status) for e in errors]
    return errors


def _values(form: Any) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip()[:300] for k in TEXTS}


def _list_page(
    request: Request,
    session: Session,
    user: PageUser,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    rows = districts.listed(session, user.actor)
    return render(
        request,
        "districts.html",
        districts=rows,
        counts=districts.counts(session, [d.id for d in rows if d.id is not None]),
        may_edit=districts.may_edit(user.actor),
        errors=errors or [],
        values=values or {},
    )


@router.get("/admin/districts")
def districts_get(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """The districts the caller sees, with their units, campaigns and accounts counted."""
    districts.require_reader(user.actor)
    return _list_page(request, session, user)


@router.post("/admin/districts")
def districts_post(
    request: Request, form: FormDep, user: UserDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Add a district (the city's system administrator)."""
    districts.require_reader(user.actor)
    values = _values(form)
    with attempt(session, explain=_explain) as tried:
        added = districts.add(
            session, user.actor, now=clock.now(), code=values["code"], name=values["name"],
            city_name=values["city_name"], office_name=values["office_name"],
            contact_name=values["contact_name"], contact_phone=values["contact_phone"],
            contact_email=values["contact_email"],
        )  # fmt: skip
    if tried.errors:
        return _list_page(request, session, user, tried.errors, values)
    return redirect(f"/admin/districts/{added.id}", f"已新增区县“{added.name}”")


def _detail_page(
    request: Request,
    session: Session,
    user: PageUser,
    district: District,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    actor = user.actor
    granter = grants.may_grant(actor, district.id)  # type: ignore[arg-type]
    reader = grants.may_read(actor, district.id)  # type: ignore[arg-type]
    return render(
        request,
        "district.html",
        district=district,
        counts=districts.counts(session, [district.id])[district.id],  # type: ignore[index,list-item]
        may_edit=districts.may_edit(actor),
        granter=granter,
        reader=reader,
        grants=grants.read(session, actor, district.id) if reader else [],  # type: ignore[arg-type]
        supervisors=grants.city_supervisors(session) if granter else [],
        errors=errors or [],
        values=values or {k: str(getattr(district, k) or "") for k in TEXTS},
    )


@router.get("/admin/districts/{district_id}")
def district_get(
    request: Request, district_id: int, user: UserDep, session: SessionDep
) -> HTMLResponse:
    """One district: its office and contacts (the edit form for the city's system
    administrator) and its acting grants (granted and revoked by its security administrator;
    read by those `grants.may_read` names)."""
    districts.require_reader(user.actor)
    return _detail_page(request, session, user, districts.get(session, user.actor, district_id))


@router.post("/admin/districts/{district_id}")
def district_post(
    request: Request,
    district_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Save the district's name, office and contacts."""
    districts.require_reader(user.actor)
    values = _values(form)
    changes: dict[str, str | None] = {k: values[k] for k in TEXTS if k != "code"}
    with attempt(session, explain=_explain) as tried:
        districts.update(session, user.actor, district_id, changes, clock.now())
    if tried.errors:
        found = districts.get(session, user.actor, district_id)
        return _detail_page(request, session, user, found, tried.errors,
                            {**values, "code": found.code})  # fmt: skip
    return redirect(f"/admin/districts/{district_id}", "已保存")


@router.post("/admin/districts/{district_id}/grants")
def grant_post(
    request: Request,
    district_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Grant a city supervisor acting in the district (its security administrator)."""
    districts.require_reader(user.actor)
    account = str(form.get("account_id", "")).strip()
    reason = str(form.get("reason", ""))[:1000]
    with attempt(session, explain=_explain) as tried:
        grants.grant(session, user.actor, district_id,
                     int(account) if account.isdigit() and len(account) < 10 else 0,
                     reason, clock.now())  # fmt: skip
    if tried.errors:
        found = districts.get(session, user.actor, district_id)
        return _detail_page(request, session, user, found, tried.errors)
    return redirect(f"/admin/districts/{district_id}#grants", "已授权")


@router.post("/admin/districts/{district_id}/grants/{grant_id}/revoke")
def revoke_post(
    request: Request,
    district_id: int,
    grant_id: int,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Revoke a grant (its district's security administrator)."""
    districts.require_reader(user.actor)
    with attempt(session, explain=_explain) as tried:
        grants.revoke(session, user.actor, grant_id, clock.now(), district_id=district_id)
    if tried.errors:
        found = districts.get(session, user.actor, district_id)
        return _detail_page(request, session, user, found, tried.errors)
    return redirect(f"/admin/districts/{district_id}#grants", "已撤销授权")
