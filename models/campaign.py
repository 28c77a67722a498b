"""Campaign: one notice's open-day campaign and its rule settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Campaign(SQLModel, table=True):
    """A notice's campaign (e.g. 资雁府办发〔2022〕58号) with its window and rules."""

    id: int | None = Field(default=None, primary_key=True)
    doc_number: str = Field(sa_type=sa.String(64), unique=True)
    title: str = Field(sa_type=sa.String(200))
    issuing_office: str = Field(sa_type=sa.String(200))
    starts_on: date
    ends_on: date
    # CampaignRules (workflows/campaign/rules.py) as JSON; missing keys fall back to the notice's
    # defaults.
    rules: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
