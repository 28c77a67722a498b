"""One after-commit hook for every workflow move, whichever door it came through (API or page).

A move that committed is counted in `openday_moves_total{outcome="ok"}` and logged as
`event_moved`; a refused move (`MoveRefused`, after the rollback) is counted with
`outcome="refused"` and logged as `move_refused`. The `trigger` label is the trigger as the
caller named it: an opinion's answer, audited as `feedback.answer`, counts as `answer`, as its
refusal does (event and opinion triggers do not share names). `door` says "api" or "page".
"""

from __future__ import annotations

import structlog

from models import TransitionLog
from workers.metrics import MOVES
from workflows.kernel.errors import MoveRefused

log = structlog.get_logger("openday.api")


def moved(entry: TransitionLog, *, door: str) -> None:
    """A move committed: count it and log it (call after `session.commit()`)."""
    MOVES.labels(entry.trigger.rpartition(".")[2], "ok").inc()
    extra = {"feedback_item_id": entry.feedback_item_id} if entry.feedback_item_id else {}
    log.info(
        "event_moved",
        event_id=entry.event_id,
        **extra,
        trigger=entry.trigger,
        from_state=entry.from_state,
        to_state=entry.to_state,
        version=entry.version,
        door=door,
    )


def refused(exc: Exception, *, door: str) -> None:
    """A move was refused and nothing was written: count it and log it (call after the
    rollback). Any other refusal (a form error, a missing row) is not a move's: ignored."""
    if not isinstance(exc, MoveRefused):
        return
    trigger = exc.details.get("trigger", "unknown")
    MOVES.labels(trigger, "refused").inc()
    log.info(
        "move_refused",
        trigger=trigger,
        state=exc.details.get("state", ""),
        code=exc.code,
        status=exc.status,
        door=door,
    )
