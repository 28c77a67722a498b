"""Invitee: a person invited to an event (开放对象)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.codes import new_code
from models.types import UTCDateTime


class InviteeCategory(StrEnum):
    """The three groups the notice invites (section 四)."""

    npc_deputy = "npc_deputy"  # 人大代表
    cppcc_member = "cppcc_member"  # 政协委员
    citizen = "citizen"  # 市民代表


class InvitationMode(StrEnum):
    """How a citizen representative was chosen."""

    targeted = "targeted"  # 定向邀请
    public = "public"  # 公开邀请


class TargetedKind(StrEnum):
    """Who a targeted invitation may pick, per the notice."""

    expert = "expert"  # 专家学者
    conduct_supervisor = "conduct_supervisor"  # 政风行风监督员
    service_recipient = "service_recipient"  # 重点服务对象
    netizen = "netizen"  # 热心“网民”
    resident = "resident"  # 社区居民


class Invitee(SQLModel, table=True):
    """One invitee of one event; `attended` is None until attendance is recorded."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    name: str = Field(sa_type=sa.String(50))
    category: str = Field(sa_type=sa.String(32))
    invitation: str | None = Field(default=None, sa_type=sa.String(32))
    targeted_kind: str | None = Field(default=None, sa_type=sa.String(32))
    organization: str | None = Field(default=None, sa_type=sa.String(200))
    phone: str | None = Field(default=None, sa_type=sa.String(32))
    email: str | None = Field(default=None, sa_type=sa.String(200))
    invited: bool = True
    attended: bool | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Invitations (issue 27): the short code shown at the door (and in the QR code), the answer
    # to the invitation (yes | no; by the signed link or taken by phone) and the check-in.
    code: str | None = Field(
        default_factory=new_code, sa_type=sa.String(12), unique=True, index=True, nullable=True
    )
    answer: str | None = Field(default=None, sa_type=sa.String(8))
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answer_via: str | None = Field(default=None, sa_type=sa.String(8))  # link | phone
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
