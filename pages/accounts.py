"""账号管理 and one's own password: pages over workflows/accounts/service.py.

Admins manage every account, supervisors unit staff and viewers; every rule (who may manage
whom, role and unit together, the last admin, one's own account, the password policy) is the
accounts workflow's, so a refusal here has the API's code and Chinese wording. A one-time
password is shown once, in the answer to the POST that made it (never stored, never cached).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col

from models import Role, Unit, User
from pages.attempt import attempt
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, errors_of, labelled, redirect, render
from schemas.accounts import UserIn, UserPatch
from web.deps import ClockDep, SessionDep, SettingsDep
from workers.runtime import notify_config
from workflows.accounts import districts as district_list
from workflows.accounts import duties
from workflows.accounts import service as accounts
from workflows.accounts import units as unit_list
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor, scope

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50
ROLE_LABELS = {
    "admin": "管理员（已按三员分立停用的角色）",
    "supervisor": "区政府办督查人员",
    "unit_staff": "单位工作人员",
    "viewer": "只读账号",
    "system_admin": "系统管理员",
    "security_admin": "安全管理员",
    "audit_admin": "审计管理员",
}
STATUS_LABELS = {"active": "启用中", "disabled": "已停用"}
# Which field of the account forms a refusal is about, for the error summary's links.
FIELDS = {
    "username_taken": "username",
    "username": "username",
    "invalid_role": "role",
    "role_retired": "role",
    "role_not_manageable": "role",
    "role": "role",
    "unit_required": "unit_id",
    "unit_not_allowed": "unit_id",
    "unit_not_found": "unit_id",
    "unit_id": "unit_id",
    "district_required": "district_id",
    "district_not_found": "district_id",
    "email": "email",
    "display_name": "display_name",
    "wrong_password": "old_password",
    "old_password": "old_password",
    "password_too_short": "new_password",
    "password_too_long": "new_password",
    "password_is_username": "new_password",
    "password_too_common": "new_password",
    "password_unchanged": "new_password",
    "new_password": "new_password",
}
NAMES = {
    "username": "用户名",
    "role": "角色",
    "unit_id": "所属单位",
    "email": "电子邮箱",
    "display_name": "姓名",
    "old_password": "原密码",
    "new_password": "新密码",
}
NO_STORE = {"Cache-Control": "no-store"}


def _units(session: Session, actor: Actor) -> list[Unit]:
    return unit_list.in_schedule_order(session, scope(actor, None))


def role_labels(user: PageUser) -> dict[str, str]:
    """The roles' names for this reader: a supervisor is its district office's
    (安岳县政府办督查人员; 区政府办督查人员 in a city of one district); at the city level, where a
    supervisor may be the city's or any district's, just 督查人员."""
    office = user.office_zh
    supervisor = "督查人员" if office == district_list.CITY_OFFICE else f"{office}督查人员"
    return {**ROLE_LABELS, "supervisor": supervisor}


def _roles_for(user: PageUser) -> dict[str, str]:
    """The roles this person may hand out (the workflow refuses any other anyway)."""
    is_security = user.actor.role == Role.security_admin
    given = accounts.GIVEN_ROLES if is_security else accounts.SUPERVISOR_MANAGES
    return {k: v for k, v in role_labels(user).items() if k in given}


def _refusal(exc: Exception) -> list[FieldError]:
    """The error summary of a refusal: the workflow's (or the API schema's) wording."""
    if isinstance(exc, ValidationError):
        return errors_of(exc, labels=NAMES)  # "用户名：…", linked to the field
    return errors_of(exc, FIELDS)


def record_read(
    session: Session,
    user: PageUser,
    now: datetime,
    what: str,
    account_id: int | None = None,
    **details: object,
) -> None:
    """An administrator's read as its audit line (duties.record_read), committed now. The
    page's read transaction ends first: on SQLite a read snapshot that another request's write
    (the session's last use) has overtaken cannot become a write transaction."""
    if user.actor.role not in duties.ADMINISTRATOR_ROLES:
        return
    session.commit()
    duties.record_read(session, user.actor, now, what, account_id, **details)
    session.commit()


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@router.get("/admin/accounts")
def account_list(
    request: Request,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    role: Annotated[str, Query(max_length=16)] = "",
    unit: Annotated[str, Query(max_length=10)] = "",
    status: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    """Accounts filtered by role, unit and status, in id order, a page at a time (keyset)."""
    stmt = accounts.list_users_query(
        user.actor,
        role=role if role in ROLE_LABELS else None,
        unit_id=_int_or_none(unit),
        active={"active": True, "disabled": False}.get(status),
        q=q.strip() or None,
    )
    record_read(session, user, clock.now(), "accounts", filter_role=role, unit=unit,
                status=status, q=q.strip())  # fmt: skip
    rows = list(session.exec(stmt.where(col(User.id) > after).limit(PAGE_SIZE + 1)).all())
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    units = _units(session, user.actor)
    return render(
        request,
        "accounts.html",
        accounts=rows,
        units=units,
        unit_names={u.id: labelled(u, user.district_names) for u in units},
        roles=role_labels(user),
        statuses=STATUS_LABELS,
        role=role,
        unit=_int_or_none(unit),
        status_filter=status,
        q=q,
        next_after=rows[-1].id if more and rows else None,
    )


def _new_page(
    request: Request,
    session: Session,
    user: PageUser,
    errors: list[FieldError] | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "account_new.html",
        errors=errors or [],
        values=values or {},
        roles=_roles_for(user),
        units=_units(session, user.actor),
        # At the city level the form names the new account's district (or the city level).
        districts=district_list.listed(session, user.actor) if user.actor.city else [],
    )


@router.get("/admin/accounts/new")
def account_new(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """The form for a new account (a one-time password is made for it)."""
    accounts.require_account_manager(user.actor)
    return _new_page(request, session, user)


@router.post("/admin/accounts")
def account_create(
    request: Request,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Create the account; the answer shows its one-time password, once."""
    values = {
        k: str(form.get(k, "")).strip()[:300]
        for k in ("username", "display_name", "role", "unit_id", "email", "district_id")
    }
    with attempt(session, explain=_refusal) as tried:
        body = UserIn(
            username=values["username"],
            role=values["role"],  # type: ignore[arg-type]
            unit_id=_int_or_none(values["unit_id"]),
            display_name=values["display_name"],
            email=values["email"] or None,
        )
        district_id = district_list.chosen_level(session, user.actor, body.role,
                                                 values["district_id"])  # fmt: skip
        one_time = accounts.generate_password()
        created = accounts.create_user(
            session,
            username=body.username,
            role=body.role,
            unit_id=body.unit_id,
            password=one_time,
            display_name=body.display_name,
            email=body.email,
            now=clock.now(),
            one_time=True,
            actor=user.actor,
            notify=notify_config(settings),  # a staff account hears its unit's open items
            district_id=district_id,
        )
    if tried.errors:
        return _new_page(request, session, user, tried.errors, values)
    return _secret_page(request, session, created, one_time, "账号已创建")


def _secret_page(
    request: Request, session: Session, account: User, password: str, done: str
) -> HTMLResponse:
    """The one page that shows a one-time password; not cached anywhere."""
    unit = session.get(Unit, account.unit_id) if account.unit_id else None
    reader: PageUser = request.state.page_user
    response = render(
        request,
        "account_secret.html",
        account=account,
        unit_name=labelled(unit, reader.district_names) if unit else "",
        password=password,
        done=done,
        roles=role_labels(reader),
    )
    response.headers.update(NO_STORE)
    return response


def _detail(
    request: Request,
    session: Session,
    user: PageUser,
    account_id: int,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    account = accounts.read_account(session, user.actor, account_id)
    units = _units(session, user.actor)
    return render(
        request,
        "account.html",
        account=account,
        errors=errors or [],
        units=units,
        unit_names={u.id: labelled(u, user.district_names) for u in units},
        roles=_roles_for(user),
        role_labels=role_labels(user),
    )


@router.get("/admin/accounts/{account_id}")
def account_page(
    request: Request, account_id: int, user: UserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """One account: role and unit, disable or enable, reset password, end every session (the
    security administrator's read is an audit line)."""
    page = _detail(request, session, user, account_id)
    record_read(session, user, clock.now(), "account", account_id)
    return page


@router.post("/admin/accounts/{account_id}/{action}")
def account_action(
    request: Request,
    account_id: int,
    action: str,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Change role and unit, disable, enable, reset the password or revoke every token."""
    here = f"/admin/accounts/{account_id}"
    now = clock.now()
    try:
        if action == "role":
            patch = UserPatch(
                role=str(form.get("role", "")) or None,  # type: ignore[arg-type]
                unit_id=_int_or_none(str(form.get("unit_id", ""))),
            )
            changes: dict[str, Any] = {"unit_id": patch.unit_id}
            if patch.role is not None:
                changes["role"] = patch.role
            accounts.update_user(session, user.actor, account_id, changes, now)
            done = "角色和单位已保存"
        elif action in ("disable", "enable"):
            accounts.set_active(session, user.actor, account_id, action == "enable", now)
            done = "账号已停用，其登录和令牌均已失效" if action == "disable" else "账号已启用"
        elif action == "reset-password":
            password = accounts.reset_password(session, user.actor, account_id, now)
            session.commit()
            account = accounts.load_account(session, account_id)
            return _secret_page(request, session, account, password, "密码已重置")
        elif action == "revoke-tokens":
            count = accounts.revoke_all_tokens(session, user.actor, account_id, now)
            done = f"已注销 {count} 个登录和令牌"
        else:
            return _detail(request, session, user, account_id, [FieldError("未知操作", "", 404)])
        session.commit()
    except (DomainError, ValidationError) as exc:
        session.rollback()
        return _detail(request, session, user, account_id, _refusal(exc))
    return redirect(here, done)


# ---- one's own password ---------------------------------------------------------------------


@router.get("/account/password")
def password_page(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """Change one's own password (every signed-in person, viewers too)."""
    return render(request, "password.html", must_change=user.actor.must_change_password,
                  expired=_expired(session, user))  # fmt: skip


def _expired(session: SessionDep, user: UserDep) -> bool:
    """Held to changing the password because it is too old (not a one-time password)."""
    account = session.get(User, user.actor.id)
    return user.actor.must_change_password and not (account and account.must_change_password)


@router.post("/account/password")
def password_change(
    request: Request,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """The old password required; every other session and token of one's own is revoked."""
    old = str(form.get("old_password", ""))
    new = str(form.get("new_password", ""))
    again = str(form.get("new_password_again", ""))
    errors = []
    if not old:
        errors.append(FieldError("请输入原密码", "old_password"))
    if not new:
        errors.append(FieldError("请输入新密码", "new_password"))
    elif new != again:
        errors.append(FieldError("两次输入的新密码不一致", "new_password_again"))
    if len(old) > accounts.MAX_PASSWORD_LENGTH:
        errors.append(FieldError("原密码不正确", "old_password", 403))
    if not errors:
        with attempt(session, explain=_refusal) as tried:
            revoked = accounts.change_own_password(
                session,
                user.actor,
                old,
                new,
                clock.now(),
                current_token=request.state.session_token,
                policy=accounts.PasswordPolicy.of(settings),
            )
        if not tried.errors:
            return redirect("/account/password", f"密码已修改；其他 {revoked} 个登录和令牌已失效")
        errors = tried.errors
    must_change, expired = user.actor.must_change_password, _expired(session, user)
    return render(request, "password.html", errors=errors, must_change=must_change, expired=expired)
