"""One page POST's write: commit what the block did, or roll it back and keep the error lines.

    with attempt(session, {"reason_required": "reason"}) as tried:
        tried.moved(flow.fire(session, ev.event, "hold", ...))
    if tried.errors:
        return hold_page(request, session, kit.view(session, user, event_id), tried.errors)
    return redirect(...)

The block runs in the request's transaction. When it finishes, the session commits and each
move it reported goes through web.moves (counted and logged after the commit). When it raises a
refusal (a domain error, or a model refusing the data), the session rolls back, a refused move
is counted and logged, and `errors` holds the error summary in the API's words (`errors_of`,
with `fields` linking codes and fields to inputs). Anything else propagates, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from pydantic import ValidationError
from sqlmodel import Session

from models import TransitionLog
from pages.render import FieldError, errors_of
from web import moves
from workflows.kernel.errors import DomainError

REFUSALS: tuple[type[Exception], ...] = (DomainError, ValidationError)


@dataclass
class Attempt:
    """The state of one attempted write (see the module's docstring)."""

    session: Session
    explain: Callable[[Exception], list[FieldError]]
    errors: list[FieldError] = field(default_factory=list)
    entries: list[TransitionLog] = field(default_factory=list)

    def moved(self, entry: TransitionLog) -> TransitionLog:
        """Report a move the block fired, to be counted and logged once it commits."""
        self.entries.append(entry)
        return entry

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            self.session.commit()
            for entry in self.entries:
                moves.moved(entry, door="page")
            return False
        if not isinstance(exc, REFUSALS):
            return False
        self.session.rollback()
        moves.refused(exc, door="page")
        self.errors = self.explain(exc)
        return True


def attempt(
    session: Session,
    fields: Mapping[str, str] | None = None,
    *,
    explain: Callable[[Exception], list[FieldError]] | None = None,
) -> Attempt:
    """A write to commit, or to refuse with an error summary (`fields` for `errors_of`, or an
    `explain` of the page's own)."""
    return Attempt(session, explain or (lambda exc: errors_of(exc, dict(fields or {}))))
