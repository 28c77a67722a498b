"""The city's districts (区/县): added by a city-level system administrator or the console, each
addition an audit line; read by whoever sees them (a district's accounts: their own only).

A district's own administrators and supervisors are accounts with its `district_id`
(workflows/accounts/service.create_user, `openday user add --district CODE`); docs/tenancy.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import Campaign, District, Role, Unit, User
from workflows.accounts import duties
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, Forbidden, InvalidData, NotFound
from workflows.kernel.visibility import SOLE_OFFICE as SOLE_OFFICE  # 区政府办: before districts
from workflows.kernel.visibility import Actor, in_districts, require_district

CODE = re.compile(r"[a-z][a-z0-9-]{1,31}")
"""A district's code: the short, stable name its URLs and imports use (e.g. `yanjiang`)."""
FIELDS = ("code", "name", "city_name", "office_name", "contact_name", "contact_phone",
          "contact_email")  # fmt: skip
LIMITS = {"name": 50, "city_name": 50, "office_name": 100, "contact_name": 50,
          "contact_phone": 32, "contact_email": 200}  # fmt: skip


def listing(actor: Actor) -> Any:
    """The select of the districts the actor sees, in the order they were added."""
    return in_districts(select(District).order_by(col(District.id)), actor, District.id)


def listed(session: Session, actor: Actor) -> list[District]:
    """The districts the actor sees, in the order they were added."""
    return list(session.exec(listing(actor)).all())


def by_code(session: Session, actor: Actor, code: str) -> District:
    """The district with this code, or 404 `district_not_found` (also for one the actor does not
    see)."""
    found = session.exec(select(District).where(District.code == code.strip())).first()
    require_district(
        actor,
        None if found is None else found.id,
        NotFound("district_not_found", f"区县“{code}”不存在", f"no district with code '{code}'"),
    )
    assert found is not None
    return found


def public(session: Session, code: str) -> District:
    """A district named by its code in a public address (`/public/d/{code}`), or 404
    `district_not_found`: the citizens' pages know no caller, and every district's public
    calendar is public."""
    found = session.exec(select(District).where(District.code == code[:32])).first()
    if found is None:
        raise NotFound("district_not_found", "该区县不存在", f"no district with code '{code[:32]}'")
    return found


def office_of(district: District) -> str:
    """The district's government office as pages and messages name it (资阳市雁江区人民政府办公室),
    or the city and district names when no office name was given."""
    return district.office_name or f"{district.city_name}{district.name}"


def contact_of(district: District) -> str:
    """The office's contact for citizens (name, phone, e-mail), as given; "" when none is."""
    parts = (district.contact_name, district.contact_phone, district.contact_email)
    return " · ".join(p for p in parts if p)


def short_office(district: District) -> str:
    """The office in a short line (【第2次催办·抄送雁江区政府办】): the district's name + 政府办."""
    return f"{district.name}政府办"


CITY_OFFICE = "区县政府办"  # the role in general, true of every district and at the city level


def single(session: Session) -> bool:
    """Whether the city has one district only (a deployment as it was before districts)."""
    return session.exec(select(func.count()).select_from(District)).one() <= 1


def words(districts_in_city: int, name: str | None) -> str:
    """`office_words` from the number of the city's districts and the district's name (None: at
    the city level, or no such district)."""
    if districts_in_city <= 1:
        return SOLE_OFFICE
    return f"{name}政府办" if name else CITY_OFFICE  # short_office


def whole_of(office: str) -> str:
    """全区, 全县 or 全市: the whole district as the office words name it (安岳县政府办 → 全县,
    简阳市政府办 → 全市); 全区 for the words of a city of one district (区政府办) and at the
    city level, as the reports always said."""
    name = office.removesuffix("政府办")
    if office in (SOLE_OFFICE, CITY_OFFICE) or not name or name == office:
        return "全区"
    return f"全{name[-1]}"


def office_words(session: Session, district_id: int | None) -> str:
    """The district office as running text names it (待安岳县政府办审批): the district's short
    office name; the role in general (区县政府办) at the city level; and in a city of one
    district the words it always had (区政府办), so a single-district install reads as before."""
    if single(session):
        return SOLE_OFFICE
    found = session.get(District, district_id) if district_id is not None else None
    return short_office(found) if found else CITY_OFFICE


def offices(session: Session, district_ids: Iterable[int | None]) -> dict[int | None, str]:
    """`office_words` of several districts at once (a report of several campaigns, a list):
    two queries whatever their number."""
    wanted = {d for d in district_ids if d is not None}
    if single(session):
        return {d: SOLE_OFFICE for d in (*wanted, None)}
    rows = session.exec(select(District).where(col(District.id).in_(sorted(wanted)))).all()
    found = {d.id: short_office(d) for d in rows}
    return {None: CITY_OFFICE, **{d: found.get(d, CITY_OFFICE) for d in wanted}}


def office_for(session: Session, actor: Actor, district_id: int | None) -> str:
    """`office_words` of a district, without a query when the caller's own office, read with
    its token (`Actor.office`), already says it: a city of one district, or the caller's own
    district."""
    return actor.office_of_district(district_id) or office_words(session, district_id)


def unit_office_for(session: Session, actor: Actor, unit_id: int | None) -> str:
    """`office_for` the district of a unit (an event's, an opinion's): no query when the unit is
    the caller's own or one of its district's."""
    if unit_id is None:
        return office_for(session, actor, None)
    return actor.office_of_unit(unit_id) or unit_office_words(session, unit_id)


def unit_office_words(session: Session, unit_id: int) -> str:
    """`office_words` of a unit's district (the page or message is about the unit's event)."""
    unit = session.get(Unit, unit_id)
    return office_words(session, unit.district_id if unit else None)


def campaign_office_words(session: Session, campaign_id: int | None, reader: int | None) -> str:
    """`office_words` of a campaign's district (a page about one campaign), else of the reader's
    district `reader` (no campaign chosen)."""
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    return office_words(session, campaign.district_id if campaign else reader)


def names_for(session: Session, district_id: int | None) -> dict[int, str]:
    """District names by id for a reader who picks among units of several districts (a
    city-level account of a city with more than one): {} for everyone else, whose units'
    names are unique."""
    if district_id is not None or single(session):
        return {}
    return {d.id: d.name for d in every(session)}  # type: ignore[misc]


def names_of(session: Session, district_ids: Iterable[int | None]) -> dict[int, str]:
    """The names of the districts given, by id, in one query (the rows of a list)."""
    wanted = sorted({d for d in district_ids if d is not None})
    if not wanted:
        return {}
    rows = session.exec(select(District.id, District.name).where(col(District.id).in_(wanted)))
    return {int(i): name for i, name in rows.all() if i is not None}


def of_unit(session: Session, unit_id: int) -> District | None:
    """The district a unit belongs to (every unit has one)."""
    unit = session.get(Unit, unit_id)
    return session.get(District, unit.district_id) if unit else None


def of_campaign(session: Session, campaign_id: int) -> District | None:
    """The district running a campaign."""
    campaign = session.get(Campaign, campaign_id)
    return session.get(District, campaign.district_id) if campaign else None


def campaign_footer(session: Session, campaign_id: int) -> str:
    """The footer of a page about one campaign's event: its district's office."""
    found = of_campaign(session, campaign_id)
    return office_of(found) if found else ""


def footer(session: Session, district_id: int | None) -> str:
    """Whose pages these are, for the footer: a district's office, or at the city level the
    city's name (a city with one district: that district's office, as before districts)."""
    if district_id is not None:
        found = session.get(District, district_id)
        return office_of(found) if found else ""
    every_one = every(session)
    if len(every_one) == 1:
        return office_of(every_one[0])
    return next((d.city_name for d in every_one if d.city_name), "")


def every(session: Session) -> list[District]:
    """Every district of the city, in the order they were added (the public pages' picker)."""
    return list(session.exec(select(District).order_by(col(District.id))).all())


def add(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    now: datetime,
    city_name: str = "",
    office_name: str = "",
    contact_name: str | None = None,
    contact_phone: str | None = None,
    contact_email: str | None = None,
) -> District:
    """Add a district of the city. Only at the city level (a district's own accounts manage
    nothing above it: 403 `city_level_required`), by the system administrator or the console
    (三员分立: organisation structure is the system administrator's, as units are)."""
    _require_city_admin(actor, "新增区县", "add a district")
    code = code.strip()
    values = _checked(code, name, city_name, office_name, contact_name, contact_phone,
                      contact_email)  # fmt: skip
    _refuse_clash(session, code, values["name"])
    district = District(code=code, created_at=now, **values)  # type: ignore[arg-type]
    session.add(district)
    session.flush()
    audit.record(
        session,
        actor,
        entity="district",
        entity_id=district.id,
        action="create",
        now=now,
        after={f: getattr(district, f) for f in FIELDS},
    )
    return district


def _checked(code: str, name: str, *texts: str | None) -> dict[str, str | None]:
    """The new district's fields, trimmed and sized, or 422 naming the one that is wrong."""
    if not CODE.fullmatch(code):
        raise InvalidData(
            "district_code_invalid",
            f"区县代码“{code[:40]}”无效：须为 2–32 位小写字母、数字或连字符，以字母开头",
            f"district code '{code[:40]}' is invalid: 2-32 lowercase letters, digits or "
            "hyphens, starting with a letter",
        )
    city_name, office_name, contact_name, contact_phone, contact_email = texts
    values = {
        "name": name.strip(),
        "city_name": (city_name or "").strip(),
        "office_name": (office_name or "").strip(),
        "contact_name": (contact_name or "").strip() or None,
        "contact_phone": (contact_phone or "").strip() or None,
        "contact_email": (contact_email or "").strip() or None,
    }
    if not values["name"]:
        raise InvalidData("district_name_required", "请填写区县名称", "the district needs a name")
    for field, limit in LIMITS.items():
        value = values[field]
        if value is not None and len(value) > limit:
            raise InvalidData(
                "field_too_long",
                f"{field} 超过 {limit} 个字符",
                f"{field} is longer than {limit} characters",
                details={"field": field, "max": limit},
            )
    return values


def _refuse_clash(session: Session, code: str, name: str | None) -> None:
    """409 `district_exists` when the code or the name is taken."""
    clash = session.exec(
        select(District).where((District.code == code) | (District.name == name))
    ).first()
    if clash is not None:
        same_code = clash.code == code
        which, label, given = ("code", "代码", code) if same_code else ("name", "名称", name)
        raise Conflict(
            "district_exists",
            f"区县{label}“{given}”已存在",
            f"a district with this {which} exists",
            details={"field": which},
        )


EDITABLE = ("name", "city_name", "office_name", "contact_name", "contact_phone", "contact_email")
"""What an edit may change: the code is the district's stable name in URLs and imports."""


def _require_city_admin(actor: Actor, what_zh: str, what_en: str) -> None:
    """Districts are the city's: added and edited at the city level only (403
    `city_level_required`), by the system administrator or the console (三员分立: organisation
    structure is the system administrator's, as units are)."""
    if actor.district_id is not None:
        raise Forbidden(
            "city_level_required",
            f"只有市级管理员可以{what_zh}",
            f"only a city-level administrator may {what_en}",
        )
    duties.require(None, actor, duties.Duty.units)


def get(session: Session, actor: Actor, district_id: int) -> District:
    """One district, or 404 `district_not_found` (also one the actor does not see)."""
    found = session.get(District, district_id) if 0 < district_id < 2**31 else None
    require_district(
        actor,
        None if found is None else found.id,
        NotFound("district_not_found", f"区县 {district_id} 不存在",
                 f"district {district_id} not found"),
    )  # fmt: skip
    assert found is not None
    return found


def update(
    session: Session, actor: Actor, district_id: int, changes: dict[str, str | None], now: datetime
) -> District:
    """Change a district's name, office or contacts (city-level system administrator or the
    console), with an audit line of what changed; nothing is written on a refusal."""
    _require_city_admin(actor, "修改区县", "edit a district")
    district = get(session, actor, district_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidData(
            "field_not_editable",
            f"不能修改区县的 {unknown[0]}",
            f"a district's {unknown[0]} cannot be changed",
            details={"field": unknown[0]},
        )
    before = {f: getattr(district, f) for f in FIELDS}
    merged = {f: changes.get(f, before[f]) for f in EDITABLE}
    values = _checked(
        district.code, merged["name"] or "", merged["city_name"], merged["office_name"],
        merged["contact_name"], merged["contact_phone"], merged["contact_email"],
    )  # fmt: skip
    if values["name"] != district.name:
        clash = session.exec(
            select(District).where(District.name == values["name"], District.id != district.id)
        ).first()
        if clash is not None:
            raise Conflict(
                "district_exists",
                f"区县名称“{values['name']}”已存在",
                "a district with this name exists",
                details={"field": "name"},
            )
    for field, value in values.items():
        setattr(district, field, value)
    session.add(district)
    session.flush()
    audit.record(
        session,
        actor,
        entity="district",
        entity_id=district.id,
        action="update",
        now=now,
        before=before,
        after={f: getattr(district, f) for f in FIELDS},
    )
    return district


def counts(session: Session, district_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per district: how many units, campaigns and accounts it holds (the districts page)."""
    out = {d: {"units": 0, "campaigns": 0, "accounts": 0} for d in district_ids}
    columns = (("units", Unit.district_id), ("campaigns", Campaign.district_id),
               ("accounts", User.district_id))  # fmt: skip
    for key, attribute in columns:
        column = col(attribute)
        rows = session.exec(
            select(column, func.count()).where(column.in_(district_ids)).group_by(column)
        ).all()
        for district_id, n in rows:
            if district_id is not None:
                out[district_id][key] = int(n)
    return out


CITY = "city"
"""The account form's choice of the city level (district None) at the city level."""


def chosen_level(session: Session, actor: Actor, role: str, choice: str) -> int | None:
    """The district a new account's form names: a district-level creator's own (whatever the
    form says); at the city level a district's id or `city`, and nothing chosen is refused
    (422 `district_required`) unless a staff account's unit decides it."""
    if actor.district_id is not None:
        return actor.district_id
    choice = choice.strip()
    if choice == CITY:
        return None
    if not choice:
        if role == Role.unit_staff:
            return None  # the unit's district (workflows/accounts/service._level_of_new)
        raise InvalidData(
            "district_required",
            "请选择账号所属的区县（或市级）",
            "choose the account's district (or the city level)",
            details={"field": "district_id"},
        )
    district_id = int(choice) if choice.isdigit() and len(choice) < 10 else 0
    return get(session, actor, district_id).id


def require_reader(actor: Actor) -> None:
    """Who opens 管理 › 区县: the system and security administrators (the city's: every
    district; a district's: its own, with its grants) and supervisors (reading)."""
    if not (actor.is_console or actor.role in (Role.system_admin, Role.security_admin,
                                               Role.supervisor)):  # fmt: skip
        raise Forbidden(
            "districts_forbidden",
            "仅系统管理员、安全管理员和督查人员可以查看区县",
            "only administrators and supervisors see the districts",
        )


def may_edit(actor: Actor) -> bool:
    """Whether the districts page offers adding and editing districts (the rule: add/update)."""
    return actor.district_id is None and (actor.is_console or actor.role == Role.system_admin)
