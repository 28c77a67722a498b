"""The JSON API under /api/v1, one module per resource; `ROUTERS` lists them for api.py."""

from __future__ import annotations

from routes import (
    accounts,
    audit,
    calendar_days,
    campaigns,
    cancellations,
    corrections,
    events,
    extensions,
    feedback,
    inbox,
    invitees,
    notifications,
    ops,
    overdue,
    public,
    rectifications,
    registrations,
    reports,
    spot_checks,
    summaries,
    units,
    visits,
)

ROUTERS = [
    accounts.router,
    audit.router,
    campaigns.router,
    units.router,
    events.router,
    cancellations.router,
    invitees.router,
    registrations.router,
    feedback.router,
    extensions.router,
    corrections.router,
    summaries.router,
    spot_checks.router,
    rectifications.router,
    overdue.router,
    notifications.router,
    inbox.router,
    calendar_days.router,
    reports.router,
    visits.router,
    public.router,
]
OPS_ROUTERS = [ops.router]
