"""Waking the schedulers when timers change: PostgreSQL NOTIFY across processes, an in-memory
event within one.

Workflows only announce "timers changed in this transaction" (`deadlines.wake_schedulers`);
every process that runs moves installs this implementation at start-up with `install_wake_hook`
(the API's create_app, the CLI, the dramatiq worker module). Without it nothing is lost: a
scheduler finds new timers on its next regular pass.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from workflows.workdays import deadlines

NOTIFY_CHANNEL = "openday_timers"
# Set whenever a transaction of this process that changed timers commits: an in-process
# scheduler (LocalWaiter) notices a near timer at once.
TIMERS_CHANGED = threading.Event()


def notify_schedulers(session: Session) -> None:
    """Tell schedulers, once this transaction commits, that timers changed (once per
    transaction)."""
    if session.info.get("wakes_schedulers"):
        return
    session.info["wakes_schedulers"] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"NOTIFY {NOTIFY_CHANNEL}"))  # delivered at commit

    @sa.event.listens_for(session, "after_commit", once=True)
    def _set(_: Any) -> None:
        session.info.pop("wakes_schedulers", None)
        TIMERS_CHANGED.set()

    @sa.event.listens_for(session, "after_rollback", once=True)
    def _reset(_: Any) -> None:
        session.info.pop("wakes_schedulers", None)


def install_wake_hook() -> None:
    """Make `deadlines.wake_schedulers` wake this process's and other processes' schedulers."""
    deadlines.set_wake_hook(notify_schedulers)
