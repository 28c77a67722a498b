"""Shapes every resource shares: pages, errors, ids."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, StringConstraints

T = TypeVar("T")

# Ids and counters are 64-bit in the database: anything outside is refused as a field error.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# Dates a campaign can reach: anything else is a typo (and 9999-12-31 + 3 days overflows).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
SaneDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]


def reject_null(cls: Any, value: Any) -> Any:
    """A PATCH field's validator (mode="before"): an explicit null for a required value is 422."""
    if value is None:
        raise ValueError("不能为 null，不修改请省略此字段 / must not be null; omit it to keep it")
    return value


# An e-mail address as escalations need it: one address, no spaces or line breaks (no header
# injection), no display name or list separators.
Email = Annotated[
    str,
    StringConstraints(
        max_length=200, pattern=r"^[^@\s<>,;:\"'()\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
    ),
]
# A robot webhook (企业微信 / 钉钉 / JSON): an http(s) address without spaces.
WebhookUrl = Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://[^\s]+$")]


class Page(BaseModel, Generic[T]):
    """One page of a list. Walk a list by passing `next_after` back as `after=` (null on the
    last page); `offset=` still works but costs more the deeper the page."""

    items: list[T]
    total: int | None = Field(
        description="rows in the whole list; null on pages asked with `after` (not counted)"
    )
    limit: int
    offset: int
    next_after: str | None = Field(
        default=None, description="cursor of the next page (pass as `after=`); null on the last"
    )


class Paging(BaseModel):
    """limit/offset or limit/after (keyset cursor) of a page; `next_after` is set by the query
    that fetched the page (web/deps.fetch_page)."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_ID)
    after: str | None = Field(default=None, max_length=512)
    next_after: str | None = None

    def page(self, items: list[T], total: int | None) -> Page[T]:
        """A page of these items."""
        return Page(
            items=items,
            total=total,
            limit=self.limit,
            offset=self.offset,
            next_after=self.next_after,
        )


class ErrorBody(BaseModel):
    """Every refusal: a stable code, a Chinese and an English message, details."""

    code: str
    message: str
    message_en: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """The error envelope."""

    error: ErrorBody
