"""`openday privacy …`: registrants' personal data (PIPL)."""

from __future__ import annotations

import typer

from cli.shared import console, open_engine, operator
from settings import get_settings

privacy_app = typer.Typer(help="Registrants' personal data (PIPL).", no_args_is_help=True)


@privacy_app.command("purge")
def privacy_purge(
    retention_days: int | None = typer.Option(
        None, help="days after a campaign ends (default: OPENDAY_PUBLIC_RETENTION_DAYS)"
    ),
) -> None:
    """Erase registrants' personal data of campaigns that ended longer ago than the retention."""
    from models.db import session_scope
    from workflows.kernel.clock import LOCAL_TZ, SystemClock
    from workflows.public import privacy

    days = get_settings().public_retention_days if retention_days is None else retention_days
    now = SystemClock().now()
    with session_scope(open_engine(), tenant=operator()) as session:
        count = privacy.purge(
            session, retention_days=days, today=now.astimezone(LOCAL_TZ).date(), now=now
        )
    console.print(f"已清除 {count} 条报名的个人信息 / purged {count} registration(s)")


@privacy_app.command("reencrypt")
def privacy_reencrypt() -> None:
    """Re-encrypt stored personal data (registrants' phone, ID number, e-mail; TOTP secrets)
    under the configured profile (OPENDAY_CRYPTO: standard = Fernet, sm = SM4-GCM), after a
    switch; one audit line. Values already under it are left alone."""
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.public import privacy
    from workflows.public.reencrypt import reencrypt

    keys = privacy.keys_from_settings(get_settings())
    with session_scope(open_engine(), tenant=operator()) as session:
        counts = reencrypt(session, keys, now=SystemClock().now())
    console.print(
        f"已重新加密 / re-encrypted under {keys.algorithm}: {counts['values']} value(s) of "
        f"{counts['registrations']} registration(s) and {counts['accounts']} account(s); "
        f"{counts['unreadable']} unreadable with this key (left as they were)",
        soft_wrap=True,
        highlight=False,
    )
