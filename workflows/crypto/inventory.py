"""The algorithm inventory for the 密评 file (GB/T 39786-2021; issue 29): which data is
protected, by which algorithm, under which key, and how many stored values are under each
algorithm today (counted from what each stored value says of itself: "sm3:" and "sm4gcm:"
tags, Fernet tokens, argon2 hashes). A key is named by where it comes from — a setting or a
key file's path — never by its value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from models import ApiToken, IdentitySignIn, PasswordHistory, RecoveryCode, Registration, User
from settings import Settings
from workflows.crypto import reseal
from workflows.kernel import audit
from workflows.public.privacy import SM4_TAG, dev_key_path, keys_from_settings

FERNET = "Fernet (AES-128-CBC + HMAC-SHA256)"
SM4 = "SM4-GCM"
HMAC_SHA256 = "HMAC-SHA256"
SHA256 = "SHA-256"
NAMES = {audit.SHA256: "HMAC-SHA256", audit.SM3: "HMAC-SM3"}
FIELDS = ("data", "stored_in", "purpose", "algorithm", "stored", "key")


@dataclass(frozen=True)
class Item:
    """One kind of protected data."""

    data: str
    stored_in: str
    purpose: str
    algorithm: str  # what new values get under the configured profile
    key: str  # where the key comes from (never the key)
    stored: dict[str, int] = field(default_factory=dict)  # stored values per algorithm

    def row(self) -> dict[str, str]:
        """A flat row (CSV): stored as `algorithm=count; …`."""
        plain = asdict(self)
        plain["stored"] = "; ".join(f"{k}={n}" for k, n in self.stored.items()) or "0"
        return {name: str(plain[name]) for name in FIELDS}


def _key_sources(settings: Settings) -> tuple[str, str]:
    """Where the audit key and the personal-data key come from."""
    audit_key = (
        "setting OPENDAY_AUDIT_KEY"
        if settings.audit_key and settings.audit_key.get_secret_value()
        else f"key file {settings.var_dir / audit.KEY_FILE}"
    )
    privacy_key = (
        "setting OPENDAY_PRIVACY_KEY"
        if settings.privacy_key and settings.privacy_key.get_secret_value()
        else f"key file {dev_key_path(settings.var_dir)}"
    )
    return audit_key, privacy_key


def _count(connection: Connection, column: Any, tags: dict[str, str], other: str) -> dict[str, int]:
    """Stored (non-null) values of a column per algorithm: `tags` maps a LIKE prefix to its
    algorithm, the rest are `other`."""
    counts = [sa.func.count().filter(column.like(prefix + "%")) for prefix in tags]
    total, *tagged = connection.execute(
        sa.select(sa.func.count(), *counts).where(column.is_not(None))
    ).one()
    found = dict(zip(tags.values(), (int(n or 0) for n in tagged), strict=True))
    found[other] = int(total) - sum(found.values())
    return {k: n for k, n in found.items() if n}


def _c(model: type[Any], name: str) -> Any:
    return model.__table__.c[name]


def _audit_items(connection: Connection, audit_key: str) -> list[Item]:
    """The audit chains, their archive anchors and archives: MAC'd under the audit key."""
    chain = NAMES[audit.chain_algorithm()]
    macs = reseal.census(connection)
    found = {table: {NAMES[k]: n for k, n in counts.items()} for table, counts in macs.items()}
    return [
        Item("操作记录 audit change log", "change_log.row_hash", "integrity (hash chain)",
             chain, audit_key, found["change_log"]),
        Item("活动流转记录 event histories", "transition_log.row_hash",
             "integrity (a hash chain per event)", chain, audit_key, found["transition_log"]),
        Item("审计归档锚点 archive anchors", "audit_anchor.anchor_hash", "integrity", chain,
             audit_key, found["audit_anchor"]),
        Item("审计归档 audit archives", "var_dir/audit-archives/*.zip manifest", "integrity",
             chain, audit_key),
        Item("邀请链接 invitation links", "not stored (in the link)", "authenticity",
             HMAC_SHA256, f"derived from {audit_key}"),
    ]  # fmt: skip


def _personal_items(connection: Connection, cipher: str, privacy_key: str) -> list[Item]:
    """Personal data: encrypted under the profile's cipher, looked up by keyed hashes."""
    sm4 = {SM4_TAG: SM4}
    derived = f"derived from {privacy_key}"
    items = [
        Item(what, f"public_registration.{column}", "confidentiality", cipher, privacy_key,
             _count(connection, _c(Registration, column), sm4, FERNET))
        for column, what in (("phone_enc", "报名人手机号 phone numbers"),
                             ("id_enc", "报名人身份证号 ID numbers"),
                             ("email_enc", "报名人电子邮箱 e-mail addresses"))
    ]  # fmt: skip
    items += [
        Item(what, f"public_registration.{column}", "look-up without decrypting", HMAC_SHA256,
             derived, _count(connection, _c(Registration, column), {}, HMAC_SHA256))
        for column, what in (("phone_hash", "手机号检索值 phone look-up hashes"),
                             ("id_hash", "身份证号检索值 ID look-up hashes"))
    ]  # fmt: skip
    items += [
        Item("两步验证密钥 TOTP secrets", "account.totp_secret_enc", "confidentiality", cipher,
             privacy_key, _count(connection, _c(User, "totp_secret_enc"), sm4, FERNET)),
        Item("公开页算术验证 public arithmetic check", "not stored (in the form)",
             "authenticity", HMAC_SHA256, derived),
    ]  # fmt: skip
    return items


def _one_way_items(connection: Connection) -> list[Item]:
    """What is kept only as a one-way hash (no key), and the backups."""
    argon2 = {"$argon2id$": "argon2id"}
    return [
        Item("登录密码 passwords", "account.password_hash", "verification (one-way, salted)",
             "argon2id", "none (a salt per password)",
             _count(connection, _c(User, "password_hash"), argon2, "other")),
        Item("历史密码 previous passwords", "password_history.password_hash",
             "no reuse of the last five", "argon2id", "none (a salt per password)",
             _count(connection, _c(PasswordHistory, "password_hash"), argon2, "other")),
        Item("恢复码 recovery codes", "recovery_code.code_hash", "verification (one-way)",
             SHA256, "none (random codes)",
             _count(connection, _c(RecoveryCode, "code_hash"), {}, SHA256)),
        Item("会话与接口令牌 session and API tokens", "api_token.token_hash",
             "verification (one-way)", SHA256, "none (256-bit random tokens)",
             _count(connection, _c(ApiToken, "token_hash"), {}, SHA256)),
        Item("统一身份认证状态 sign-in state", "identity_sign_in.state_hash",
             "verification (one-way)", SHA256, "none (random state)",
             _count(connection, _c(IdentitySignIn, "state_hash"), {}, SHA256)),
        Item("备份 backups", "backup_dir/*", "integrity (checksums, key fingerprints)", SHA256,
             "none (keys are not in backups: encrypt the backup store)"),
    ]  # fmt: skip


def inventory(connection: Connection, settings: Settings) -> list[Item]:
    """Every kind of protected data with its algorithm, key source and stored counts."""
    audit_key, privacy_key = _key_sources(settings)
    cipher = keys_from_settings(settings).algorithm
    return (
        _audit_items(connection, audit_key)
        + _personal_items(connection, cipher, privacy_key)
        + _one_way_items(connection)
    )
