"""Stored personal data re-encrypted under the configured profile (OPENDAY_CRYPTO, issue 29).

After a switch of profile, values written before keep their old cipher (each ciphertext names
it, so they still decrypt); `openday privacy reencrypt` rewrites them under the profile now
configured — registrants' phone, ID number and e-mail, and accounts' TOTP secrets — so a 密评
finds one algorithm protecting the data. A value this key cannot open is counted and left as it
is. The run is one audit line (what was rewritten, under which algorithm); running it again
changes nothing.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import Registration, User
from workflows.kernel import audit
from workflows.kernel.visibility import SYSTEM
from workflows.public.privacy import SM4_TAG, Keys

_REGISTRATION_FIELDS = ("phone_enc", "id_enc", "email_enc")


def _profile_of(token: str) -> str:
    """Which profile's cipher made a stored ciphertext."""
    return "sm" if token.startswith(SM4_TAG) else "standard"


def _rewrite(row: object, fields: tuple[str, ...], keys: Keys, counts: dict[str, int]) -> bool:
    """Re-encrypt the row's fields not yet under the keys' profile; whether any changed."""
    changed = False
    for name in fields:
        token = getattr(row, name)
        if not token or _profile_of(token) == keys.profile:
            continue
        value = keys.decrypt(token)
        if value is None:
            counts["unreadable"] += 1
            continue
        setattr(row, name, keys.encrypt(value))
        counts["values"] += 1
        changed = True
    return changed


def reencrypt(
    session: Session, keys: Keys, *, now: datetime, record: bool = True
) -> dict[str, int]:
    """Rewrite every stored ciphertext not under the keys' profile (caller commits); the run's
    audit line unless `record` is off (the crypto switch records one line for all it did)."""
    counts = {"registrations": 0, "accounts": 0, "values": 0, "unreadable": 0}
    stored = sa.or_(*(col(getattr(Registration, name)).is_not(None) for name in
                      _REGISTRATION_FIELDS))  # fmt: skip
    for reg in session.exec(select(Registration).where(stored)):
        counts["registrations"] += _rewrite(reg, _REGISTRATION_FIELDS, keys, counts)
    for user in session.exec(select(User).where(col(User.totp_secret_enc).is_not(None))):
        counts["accounts"] += _rewrite(user, ("totp_secret_enc",), keys, counts)
    if not record:
        session.flush()
        return counts
    audit.record(
        session, SYSTEM, entity="privacy", entity_id=None, action="personal_data_reencrypted",
        now=now, after={"algorithm": keys.algorithm, **counts},
    )  # fmt: skip
    session.flush()
    return counts
