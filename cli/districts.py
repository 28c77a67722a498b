"""`openday district …`: the city's districts (区/县). Their administrators and supervisors are
accounts made with `openday user add … --district CODE` (docs/tenancy.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.shared import console, run_action

district_app = typer.Typer(help="The city's districts (区/县).", no_args_is_help=True)


@district_app.command("add")
def district_add(
    code: Annotated[str, typer.Argument(help="short stable code for URLs, e.g. anyue")],
    name: Annotated[str, typer.Argument(help="区县名称, e.g. 安岳县")],
    city_name: Annotated[str, typer.Option(help="所属市, e.g. 资阳市")] = "",
    office_name: Annotated[str, typer.Option(help="政府办全称, the issuing office")] = "",
    contact_name: Annotated[str | None, typer.Option(help="联系人")] = None,
    contact_phone: Annotated[str | None, typer.Option(help="联系电话")] = None,
    contact_email: Annotated[str | None, typer.Option(help="联系邮箱")] = None,
) -> None:
    """Add a district of the city (an audit line); its id on the last line of standard output."""
    from workflows.accounts import districts
    from workflows.kernel.visibility import SYSTEM

    def add(session, now):  # noqa: ANN001, ANN202
        district = districts.add(
            session, SYSTEM, code=code, name=name, now=now, city_name=city_name,
            office_name=office_name, contact_name=contact_name, contact_phone=contact_phone,
            contact_email=contact_email,
        )  # fmt: skip
        return district.id

    district_id = run_action(add)
    console.print(f"已新增区县 / added district {name} ({code})", highlight=False)
    print(district_id)


@district_app.command("list")
def district_list() -> None:
    """Every district: id, code, name, city, office (tab-separated)."""
    from workflows.accounts import districts
    from workflows.kernel.visibility import SYSTEM

    def rows(session, _now):  # noqa: ANN001, ANN202
        return [
            (d.id, d.code, d.name, d.city_name or "-", d.office_name or "-")
            for d in districts.listed(session, SYSTEM)
        ]

    found = run_action(rows)
    print("id\tcode\tname\tcity\toffice")
    for row in found:
        print("\t".join(str(x) for x in row))
