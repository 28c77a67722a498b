"""Reproducible spot-check sampling (抽查抽样) of a campaign's units.

Method `sha256-rank-v1`, written down so anyone can redo a draw by hand or in another language:

1. The population is every unit with at least one event of the campaign that is not cancelled,
   in unit id order; excluded units (each with a reason) are taken out.
2. Each remaining unit gets the key SHA-256("<seed>:<unit id>") as lowercase hex.
3. Without strata, the units with the smallest keys are chosen: `count` of them, or
   ceil(share × remaining) for a share. With strata by unit kind, each kind is a stratum: a share
   takes ceil(share × stratum size) from each; a count is split across strata in proportion to
   their sizes by largest remainders (ties: larger remainder, then kind name).
4. The sample is the chosen unit ids in ascending order.

The seed, the method, the size, the strata, the population snapshot (with its SHA-256) and the
exclusions are stored with the result in `sample_draw`, which refuses UPDATE and DELETE: drawing
again makes a new record. `verify` re-draws from the record and compares.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections import defaultdict
from datetime import datetime
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import Campaign, Event, EventState, SampleDraw, Unit
from workflows.campaign import service as campaigns
from workflows.kernel import tenancy
from workflows.kernel.errors import InvalidData, NotFound
from workflows.kernel.visibility import Actor, require_district

METHOD = "sha256-rank-v1"


def population(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Units with events in the campaign that are not cancelled, in unit id order."""
    live = sa.select(col(Event.unit_id)).where(
        col(Event.campaign_id) == campaign_id, col(Event.state) != EventState.cancelled
    )
    rows = session.execute(
        sa.select(col(Unit.id), col(Unit.name), col(Unit.kind))
        .where(col(Unit.id).in_(live))
        .order_by(col(Unit.id))
    ).all()
    return [{"unit_id": r.id, "name": r.name, "kind": r.kind} for r in rows]


def fingerprint(people: list[dict[str, Any]]) -> str:
    """SHA-256 of the population snapshot as canonical JSON."""
    text = json.dumps(people, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(seed: str, unit_id: int) -> str:
    return hashlib.sha256(f"{seed}:{unit_id}".encode()).hexdigest()


def _allocate(sizes: dict[str, int], mode: str, value: Fraction) -> dict[str, int]:
    """How many to take from each stratum."""
    if mode == "share":
        return {k: min(n, math.ceil(value * n)) for k, n in sizes.items()}
    total = sum(sizes.values())
    quotas = {k: Fraction(int(value) * n, total) for k, n in sizes.items()}
    taken = {k: int(q) for k, q in quotas.items()}
    left = int(value) - sum(taken.values())
    order = sorted(sizes, key=lambda k: (-(quotas[k] - taken[k]), k))
    for k in order[:left]:
        taken[k] += 1
    return taken


def draw_units(
    people: list[dict[str, Any]],
    excluded: list[dict[str, Any]],
    seed: str,
    mode: str,
    value: Fraction,
    strata: str | None,
) -> list[int]:
    """The chosen unit ids (pure: the same inputs always give the same list)."""
    out_ids = {int(e["unit_id"]) for e in excluded}
    eligible = [p for p in people if p["unit_id"] not in out_ids]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in eligible:
        groups[p["kind"] if strata == "unit_kind" else ""].append(p)
    quotas = _allocate({k: len(v) for k, v in groups.items()}, mode, value)
    chosen: list[int] = []
    for kind, members in groups.items():
        ranked = sorted(members, key=lambda p: _key(seed, p["unit_id"]))
        chosen.extend(p["unit_id"] for p in ranked[: quotas[kind]])
    return sorted(chosen)


def _refuse(code: str, zh: str, en: str, **details: Any) -> InvalidData:
    return InvalidData(code, zh, en, details=details)


def _size(count: int | None, share: str | None) -> tuple[str, Fraction]:
    if (count is None) == (share is None):
        raise _refuse(
            "sample_size_required",
            "请给出抽取数量或抽取比例（二者选一）",
            "give either a count or a share, not both",
        )
    if count is not None:
        if count < 1:
            raise _refuse("sample_size_invalid", "抽取数量至少为 1", "count must be at least 1")
        return "count", Fraction(count)
    try:
        text = str(share).strip()
        value = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
    except (ValueError, ZeroDivisionError):
        value = Fraction(-1)
    if not 0 < value <= 1:
        raise _refuse(
            "sample_size_invalid",
            f"抽取比例“{share}”无效，应为大于 0、不超过 1 的数（如 0.2 或 20%）",
            f"share '{share}' must be above 0 and at most 1 (e.g. 0.2 or 20%)",
        )
    return "share", value


def _check_exclusions(people: list[dict[str, Any]], excluded: list[dict[str, Any]]) -> None:
    known = {p["unit_id"] for p in people}
    for e in excluded:
        if e["unit_id"] not in known:
            raise _refuse(
                "sample_exclusion_unknown",
                f"排除的单位 {e['unit_id']} 不在本次抽样范围内",
                f"excluded unit {e['unit_id']} is not in the population",
                unit_id=e["unit_id"],
            )
        if not str(e.get("reason") or "").strip():
            raise _refuse(
                "sample_exclusion_reason_required",
                f"排除单位 {e['unit_id']} 须说明理由",
                f"excluding unit {e['unit_id']} needs a reason",
                unit_id=e["unit_id"],
            )


def draw(
    session: Session,
    actor: Actor,
    campaign_id: int,
    now: datetime,
    *,
    count: int | None = None,
    share: str | None = None,
    strata: str | None = None,
    excluded: list[dict[str, Any]] | None = None,
    seed: str | None = None,
    note: str = "",
) -> SampleDraw:
    """Draw and record a sample (supervisors); always a new record."""
    actor.require_supervisor()
    campaign = campaigns.get(session, campaign_id, actor)
    actor = tenancy.act_in_district(session, actor, campaign.district_id)  # a city supervisor
    actor.require_acting_supervisor()
    mode, value = _size(count, share)
    people = population(session, campaign_id)
    excluded = [{"unit_id": int(e["unit_id"]), "reason": str(e.get("reason") or "").strip()}
                for e in (excluded or [])]  # fmt: skip
    _check_exclusions(people, excluded)
    if len(people) - len(excluded) <= 0:
        raise _refuse(
            "sample_population_empty",
            "没有可抽取的单位：本活动尚无未取消的开放活动，或单位已全部排除",
            "nothing to draw from: no unit has a live event in this campaign, or all are excluded",
        )
    if mode == "count" and value > len(people) - len(excluded):
        raise _refuse(
            "sample_too_large",
            f"抽取数量 {value} 超过可抽取单位数 {len(people) - len(excluded)}",
            f"count {value} exceeds the {len(people) - len(excluded)} units that can be drawn",
        )
    seed = seed or secrets.token_hex(16)
    record = SampleDraw(
        campaign_id=campaign_id, method=METHOD, size_mode=mode, size_value=str(value),
        strata=strata, seed=seed, population=people, population_sha256=fingerprint(people),
        excluded=excluded, selected=draw_units(people, excluded, seed, mode, value, strata),
        note=note, drawn_by=actor.id, drawn_by_name=actor.name, drawn_at=now,
    )  # fmt: skip
    session.add(record)
    session.flush()
    return record


def get(session: Session, draw_id: int, actor: Actor) -> SampleDraw:
    """A recorded draw of a campaign of the actor's district, or 404."""
    record = session.get(SampleDraw, draw_id)
    campaign = None if record is None else session.get(Campaign, record.campaign_id)
    require_district(
        actor,
        None if campaign is None else campaign.district_id,
        NotFound(
            "sample_not_found", f"抽样记录 {draw_id} 不存在", f"sample draw {draw_id} not found"
        ),
    )
    assert record is not None
    return record


def verify(session: Session, draw_id: int, actor: Actor) -> dict[str, Any]:
    """Re-draw from the record's seed, snapshot and method; compare with what was recorded."""
    record = get(session, draw_id, actor)
    redrawn = draw_units(
        record.population, record.excluded, record.seed, record.size_mode,
        Fraction(record.size_value), record.strata,
    )  # fmt: skip
    snapshot_ok = fingerprint(record.population) == record.population_sha256
    current = population(session, record.campaign_id)
    return {
        "id": record.id,
        "method": record.method,
        "seed": record.seed,
        "matches": redrawn == list(record.selected) and snapshot_ok,
        "snapshot_intact": snapshot_ok,
        "recorded": list(record.selected),
        "redrawn": redrawn,
        "population_changed_since": fingerprint(current) != record.population_sha256,
    }
