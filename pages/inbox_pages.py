"""站内信: the signed-in person's inbox, unread first, by kind; marking read one or all."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col

from models import InboxMessage
from pages.auth import FormDep, UserDep
from pages.render import PageRoute, redirect, render
from web.deps import ClockDep, SessionDep
from workflows.feedback import lamps
from workflows.inbox import service as inbox
from workflows.inbox.kinds import kind_label
from workflows.kernel.clock import local_date

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE = 20
SHOWS = {"unread": "未读", "all": "全部"}


@router.get("/inbox")
def inbox_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    show: Annotated[str, Query(max_length=10)] = "unread",
    kind: Annotated[str, Query(max_length=16)] = "",
    after: Annotated[str, Query(max_length=19)] = "",
) -> HTMLResponse:
    """The messages, newest first, a page at a time (`after`: the last id shown)."""
    show = show if show in SHOWS else "unread"
    kinds = {k: kind_label(k) for k in inbox.kinds_held(session, user.actor)}
    kind = kind if kind in kinds else ""
    stmt = inbox.listing(user.actor, show, kind or None)  # type: ignore[arg-type]
    if after.isdigit():
        stmt = stmt.where(col(InboxMessage.id) < int(after))
    rows = list(session.exec(stmt.limit(PAGE + 1)).all())
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render(
        request,
        "inbox.html",
        rows=rows,
        kinds=kinds,
        kind=kind,
        show=show,
        shows=SHOWS,
        after=after,
        query=urlencode({"show": show, "kind": kind}),
        next_after=rows[-1].id if more and rows else None,
        kind_label=kind_label,
        lamps=lamps.of_messages(session, rows, local_date(clock.now())),
    )


@router.post("/inbox/{message_id}/read")
def read_one(
    message_id: int, form: FormDep, user: UserDep, session: SessionDep, clock: ClockDep
) -> Response:
    """Mark one message read, back to the list as it was."""
    inbox.mark_read(session, user.actor, message_id, clock.now())
    session.commit()
    return redirect(_back(form), "已标为已读")


@router.post("/inbox/read-all")
def read_all(form: FormDep, user: UserDep, session: SessionDep, clock: ClockDep) -> Response:
    """Mark every unread message (of the kind shown) read."""
    kind = str(form.get("kind", ""))[:16]
    marked = inbox.mark_all_read(session, user.actor, clock.now(), kind or None)
    session.commit()
    return redirect(_back(form), f"已将 {marked} 条站内信标为已读")


def _back(form: object) -> str:
    """The list the form was on (only the inbox's own filters)."""
    get = getattr(form, "get", lambda *_: "")
    show = str(get("show", "unread"))
    kind = str(get("kind", ""))[:16]
    return "/inbox?" + urlencode({"show": show if show in SHOWS else "unread", "kind": kind})
