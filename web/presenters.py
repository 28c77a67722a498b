"""Presenters shared by routes and pages: domain rows as the API's response models.

Public registrations as their holder sees them and as the unit's staff see them (phone and ID
masked), and events as citizens see them.
"""

from __future__ import annotations

from sqlmodel import Session

from models import Event, Registration
from models.codes import grouped
from schemas.public import PublicEventOut, RegistrationOut, StaffRegistrationOut
from workflows.public import privacy
from workflows.public import registration as flow
from workflows.public.privacy import Keys


def event_out(event: Event, unit_name: str, left: int, *, passed: bool = False) -> PublicEventOut:
    """An event as citizens see it; one whose day has passed is closed, with no places left."""
    status = "报名已截止（活动日期已过）" if passed else ("可报名" if left else "名额已满，可候补")
    return PublicEventOut(
        **event.model_dump(
            include={
                "id", "campaign_id", "theme", "date_earliest", "date_latest", "date_text",
                "start_time", "end_time", "location", "forms", "public_places",
            }
        ),
        unit_name=unit_name,
        forms_zh=[flow.FORMS_ZH.get(f, f) for f in event.forms],
        places_left=0 if passed else left,
        registration_open=not passed,
        registration_status_zh=status,
    )  # fmt: skip


def registration_out(session: Session, reg: Registration, theme: str, k: Keys) -> RegistrationOut:
    """A registration as its holder sees it."""
    return RegistrationOut(
        code=grouped(reg.code),
        event_id=reg.event_id,
        event_theme=theme,
        state=reg.state,
        state_label=flow.STATE_LABELS_ZH[reg.state],
        waitlist_position=flow.waitlist_position(session, reg),
        name=reg.name,
        phone_masked=privacy.mask_phone(k.decrypt(reg.phone_enc)),
        decline_reason=reg.decline_reason,
        registered_at=reg.created_at,
        offer_until=reg.offer_until if reg.state == "offered" else None,
    )


def staff_out(session: Session, reg: Registration, k: Keys) -> StaffRegistrationOut:
    """A registration as the unit sees it: phone and ID masked."""
    return StaffRegistrationOut(
        id=reg.id,  # type: ignore[arg-type]
        code=grouped(reg.code),
        state=reg.state,
        state_label=flow.state_label(reg),
        waitlist_position=flow.waitlist_position(session, reg),
        name=reg.name,
        phone_masked=privacy.mask_phone(k.decrypt(reg.phone_enc)),
        id_number_masked=privacy.mask_id(k.decrypt(reg.id_enc)),
        district=reg.district,
        decline_reason=reg.decline_reason,
        decline_lifted_at=reg.decline_lifted_at,
        offer_until=reg.offer_until if reg.state == "offered" else None,
        invitee_id=reg.invitee_id,
        registered_at=reg.created_at,
    )
