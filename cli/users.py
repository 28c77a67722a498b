"""`openday user …`: accounts, their roles, passwords and tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from cli.shared import console, run_action
from models.district import DEFAULT_DISTRICT
from settings import get_settings

user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)

# The roles an account may be given (三员分立: the all-duty admin is retired, issue 29).
ROLES = "supervisor | unit_staff | viewer | system_admin | security_admin | audit_admin"


CHOSEN = "choose the password (asked twice) instead of a one-time"
EMAIL = "e-mail (supervisors receive level-2 escalations)"
DISTRICT = "code of the district it acts in (default: district 1); staff: the district of --unit"
CITY = "acts at the city level (every district)"


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="username")],
    role: Annotated[str, typer.Option(help=ROLES)],
    unit: Annotated[str | None, typer.Option(help="unit name (unit_staff only)")] = None,
    password: Annotated[bool, typer.Option("--password", help=CHOSEN)] = False,
    display_name: Annotated[str, typer.Option(help="full name")] = "",
    email: Annotated[str | None, typer.Option(help=EMAIL)] = None,
    district: Annotated[str | None, typer.Option(help=DISTRICT)] = None,
    city: Annotated[bool, typer.Option("--city", help=CITY)] = False,
) -> None:
    """Create an account (an audit line): a one-time password (or --password) and an API token,
    each shown once; the token alone on the last line of standard output. `--district CODE`
    makes a district's administrator or supervisor, `--city` a city-level one."""
    from workflows.accounts.service import create_user
    from workflows.accounts.service import issue_token as issue
    from workflows.kernel.visibility import SYSTEM

    if city and district:
        console.print("[red]--city 与 --district 只能选一个 / give one of --city, --district[/]")
        raise typer.Exit(2)
    secret, one_time = _new_password(name, chosen=password)

    def add(session, now):  # noqa: ANN001, ANN202
        user = create_user(
            session,
            username=name,
            role=role,
            unit_name=unit,
            password=secret,
            display_name=display_name,
            email=email,
            now=now,
            one_time=one_time,
            actor=SYSTEM,  # the console: every duty, and the creation's audit line
            district_id=_level(session, district, city=city),
        )
        days = get_settings().api_token_days
        return issue(session, user, kind="api", now=now, name="cli", lifetime=timedelta(days=days))

    token = run_action(add)
    where = ", ".join(x for x in (role, unit, "city" if city else district) if x)
    console.print(f"已创建账号 / created account {name} ({where})", highlight=False)
    if one_time:
        console.print(
            f"一次性密码（只显示这一次，首次登录后请修改）/ one-time password (shown once, "
            f"change it after signing in): {secret}",
            soft_wrap=True,
            highlight=False,
        )
    console.print("API 令牌只显示这一次 / the API token is shown only once:")
    print(token)


def _new_password(name: str, *, chosen: bool) -> tuple[str, bool]:
    """(the password, whether it is one-time): asked twice and checked when `chosen`, else
    generated."""
    from workflows.accounts.service import check_password_policy, generate_password
    from workflows.kernel.errors import DomainError

    if not chosen:
        return generate_password(), True
    secret = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    try:
        check_password_policy(secret, name)
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc
    return secret, False


def _level(session, district: str | None, *, city: bool) -> int | None:  # noqa: ANN001
    """The district a new account acts in: the one whose code is given, None for the city, else
    district 1 (as before districts existed)."""
    from workflows.accounts import districts
    from workflows.kernel.visibility import SYSTEM

    if city:
        return None
    if district:
        return districts.by_code(session, SYSTEM, district).id
    return DEFAULT_DISTRICT


@user_app.command("list")
def user_list(
    role: Annotated[str | None, typer.Option(help="only this role")] = None,
    unit: Annotated[str | None, typer.Option(help="only this unit's staff (name)")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="only disabled accounts")] = False,
    district: Annotated[
        str | None, typer.Option(help="only the accounts acting in this district (code)")
    ] = None,
) -> None:
    """List accounts: id, username, role, unit, active, e-mail, district (code; `city` for the
    city level) (tab-separated)."""
    from sqlmodel import select

    from models import Unit
    from workflows.accounts import districts
    from workflows.accounts.service import list_users_query
    from workflows.kernel.visibility import SYSTEM

    def rows(session, now):  # noqa: ANN001, ANN202
        unit_id = None
        if unit:
            found = session.exec(select(Unit).where(Unit.name == unit)).first()
            unit_id = found.id if found else -1
        level = None if district is None else districts.by_code(session, SYSTEM, district).id
        stmt = list_users_query(
            SYSTEM,
            role=role,
            unit_id=unit_id,
            active=False if disabled else None,
            district_id=level,
        )
        names = dict(session.exec(select(Unit.id, Unit.name)).all())
        codes = {d.id: d.code for d in districts.listed(session, SYSTEM)}
        return [
            (u.id, u.username, u.role, names.get(u.unit_id, "-"), u.is_active, u.email or "-",
             "city" if u.district_id is None else codes.get(u.district_id, "-"))
            for u in session.exec(stmt).all()
        ]  # fmt: skip

    print("id\tusername\trole\tunit\tactive\temail\tdistrict")
    for row in run_action(rows):
        print("\t".join(str(x) for x in row))


def _by_name(name: str, action):  # noqa: ANN001, ANN202 - action(session, actor, user_id, now)
    """The account action for a username, acted by the CLI's admin (SYSTEM)."""
    from workflows.accounts.service import find_user
    from workflows.kernel.visibility import SYSTEM

    return lambda session, now: action(session, SYSTEM, find_user(session, name).id, now)


UserName = Annotated[str, typer.Argument(help="username")]


@user_app.command("disable")
def user_disable(name: UserName) -> None:
    """Disable an account; every token of it is revoked."""
    from workflows.accounts.service import set_active

    run_action(_by_name(name, lambda s, a, uid, now: set_active(s, a, uid, False, now)))
    console.print(f"已停用 / disabled {name}")


@user_app.command("enable")
def user_enable(name: UserName) -> None:
    """Re-enable a disabled account."""
    from workflows.accounts.service import set_active

    run_action(_by_name(name, lambda s, a, uid, now: set_active(s, a, uid, True, now)))
    console.print(f"已启用 / enabled {name}")


@user_app.command("reset-password")
def user_reset_password(name: UserName) -> None:
    """A one-time password for an account (alone on the last line); its tokens are revoked."""
    from workflows.accounts.service import reset_password

    secret = run_action(_by_name(name, reset_password))
    console.print(
        f"已重置 {name} 的密码并注销其全部令牌；一次性密码只显示这一次 / password of {name} reset, "
        "every token revoked; the one-time password is shown only once:",
        soft_wrap=True,
    )
    print(secret)


@user_app.command("set-role")
def user_set_role(
    name: UserName,
    role: Annotated[str, typer.Argument(help=ROLES)],
    unit: Annotated[str | None, typer.Option(help="unit name (unit_staff only)")] = None,
) -> None:
    """Change an account's role (and unit: required for unit_staff, dropped otherwise)."""
    from sqlmodel import select

    from models import Unit
    from workflows.accounts.service import update_user
    from workflows.kernel.errors import NotFound

    def change(session, actor, uid, now):  # noqa: ANN001, ANN202
        changes: dict[str, object] = {"role": role}
        if unit:
            found = session.exec(select(Unit).where(Unit.name == unit)).first()
            if found is None:
                raise NotFound("unit_not_found", f"单位“{unit}”不存在", f"no unit named '{unit}'")
            changes["unit_id"] = found.id
        return update_user(session, actor, uid, changes, now)

    run_action(_by_name(name, change))
    console.print(
        f"{name} 的角色已改为 / role of {name} set to {role}{', ' + unit if unit else ''}"
    )


@user_app.command("revoke-tokens")
def user_revoke_tokens(name: UserName) -> None:
    """Revoke every session and API token of an account."""
    from workflows.accounts.service import revoke_all_tokens

    count = run_action(_by_name(name, revoke_all_tokens))
    console.print(f"已注销 {count} 个令牌 / revoked {count} tokens of {name}")
