"""`openday unit …`: units and the contacts who receive escalations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.shared import console, run_action

unit_app = typer.Typer(help="Units and the contacts who receive escalations.", no_args_is_help=True)


@unit_app.command("list")
def unit_list() -> None:
    """Every unit with its contacts (who hears of its reminders and escalations)."""
    from sqlmodel import col, select

    from models import Unit

    def rows(session, _now):  # noqa: ANN001, ANN202
        return session.exec(select(Unit).order_by(col(Unit.id))).all()

    table = Table(title="单位 / units")
    for column in (
        "id",
        "名称 name",
        "联系人 contact",
        "联系邮箱",
        "负责人邮箱 head",
        "机器人 robot",
    ):
        table.add_column(column, overflow="fold")
    for u in run_action(rows):
        robot = u.webhook_format if u.webhook_url else "-"
        table.add_row(
            str(u.id),
            u.name,
            u.contact_name or "-",
            u.contact_email or "-",
            u.head_email or "-",
            robot,
        )
    console.print(table)


@unit_app.command("set")
def unit_set(
    name: Annotated[str, typer.Argument(help="unit name")],
    contact_name: Annotated[str | None, typer.Option(help="联系人")] = None,
    contact_phone: Annotated[str | None, typer.Option(help="联系电话")] = None,
    contact_email: Annotated[str | None, typer.Option(help="联系人邮箱 (level 1)")] = None,
    head_name: Annotated[str | None, typer.Option(help="负责人")] = None,
    head_email: Annotated[str | None, typer.Option(help="负责人邮箱 (level 1)")] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="企业微信/钉钉 robot or JSON webhook")
    ] = None,
    webhook_format: Annotated[str | None, typer.Option(help="json | wecom | dingtalk")] = None,
) -> None:
    """Set a unit's contacts, validated as the API validates them, with an audit line."""
    from pydantic import ValidationError
    from sqlmodel import select

    from models import Unit
    from schemas.units import UnitPatch
    from settings import get_settings
    from workers.runtime import notify_config
    from workflows.accounts import units
    from workflows.kernel.errors import NotFound
    from workflows.kernel.visibility import SYSTEM

    given = {k: v for k, v in locals().items() if k not in ("name",) and v is not None}
    given = {k: v for k, v in given.items() if k in UnitPatch.model_fields}
    try:
        changes = UnitPatch.model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        console.print(f"[red]无效 / invalid: {fields}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc

    def apply(session, now):  # noqa: ANN001, ANN202
        unit = session.exec(select(Unit).where(Unit.name == name)).first()
        if unit is None:
            raise NotFound("unit_not_found", f"单位“{name}”不存在", f"unit '{name}' not found")
        notify = notify_config(get_settings())  # an address added hears the open items
        return units.update(session, SYSTEM, unit.id, changes, now, notify).name

    console.print(f"已更新 / updated: {run_action(apply)}")
