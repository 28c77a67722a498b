"""统一身份认证关联: an administrator links an account to a person's identity at the unified
identity service, or unlinks it (workflows.accounts.identity.links; the same people who may
manage the account, each step audited)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from pages.accounts import record_read
from pages.auth import FormDep, PageUser, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from web.deps import ClockDep, SessionDep, SettingsDep
from workflows.accounts import service as accounts
from workflows.accounts.identity import links
from workflows.kernel.errors import DomainError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FIELDS = {"identity_subject_invalid": "subject", "identity_taken": "subject"}


def _page(
    request: Request,
    session: Session,
    user: PageUser,
    account_id: int,
    issuer: str | None,
    errors: list[FieldError] | None = None,
    subject: str = "",
) -> HTMLResponse:
    rows = links.links_of(session, user.actor, account_id)
    return render(
        request,
        "identity_links.html",
        account=accounts.load_account(session, account_id),
        links=rows,
        issuer=issuer,
        errors=errors or [],
        subject=subject,
    )


@router.get("/admin/identities/{account_id}")
def identity_links_page(
    request: Request,
    account_id: int,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The identities linked to one account, and the form to link another (the security
    administrator's read is an audit line)."""
    page = _page(request, session, user, account_id, settings.oidc_issuer)
    record_read(session, user, clock.now(), "identities", account_id)
    return page


@router.post("/admin/identities/{account_id}")
def link_identity(
    request: Request,
    account_id: int,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Link the identity typed in the form to the account."""
    subject = str(form.get("subject", ""))[:300]
    try:
        links.link(session, user.actor, account_id, settings.oidc_issuer, subject, clock.now())
        session.commit()
    except DomainError as exc:
        session.rollback()
        errors = errors_of(exc, FIELDS)
        return _page(request, session, user, account_id, settings.oidc_issuer, errors, subject)
    return redirect(f"/admin/identities/{account_id}", "已关联统一身份认证账号")


@router.post("/admin/identities/{account_id}/{link_id}/unlink")
def unlink_identity(
    request: Request,
    account_id: int,
    link_id: int,
    _: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Remove one linked identity from the account."""
    try:
        links.unlink(session, user.actor, account_id, link_id, clock.now())
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(request, session, user, account_id, settings.oidc_issuer, errors_of(exc))
    return redirect(f"/admin/identities/{account_id}", "已解除关联")
