"""The interface of a unified sign-in protocol, the identity it yields, and its refusals.

A sign-in is two requests: `begin` sends the browser to the provider with a fresh `state`
(and whatever else the protocol must check on the way back, kept server-side as `secrets`);
`finish` turns the provider's answer (the callback's query) into an `Identity`, checking it
against those secrets, or raises `IdentityRefused`. Accounts are matched by `signin`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from workflows.kernel.errors import DomainError


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: `subject` is the configured claim's value."""

    provider: str
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Redirect:
    """Where to send the browser, the `state` it carries, and what `finish` needs back."""

    url: str
    state: str
    secrets: dict[str, str]


class IdentityAdapter(Protocol):
    """One unified sign-in protocol (OpenID Connect here; CAS 3.0, a ticket exchange…)."""

    provider: str  # a stable name of the provider (the issuer URL), the links' key
    label: str  # the sign-in page's button

    def begin(self, redirect_uri: str) -> Redirect:
        """A new sign-in: the provider's address for the browser, with a fresh state."""
        ...

    def finish(
        self,
        params: Mapping[str, str],
        secrets: Mapping[str, str],
        redirect_uri: str,
        now: datetime,
    ) -> Identity:
        """The identity the provider's answer proves, or IdentityRefused."""
        ...

    def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where single logout goes (the provider's end-session address), or None."""
        ...


# Refusals: code -> (Chinese, English). Each is audited and shown on a page of its own.
REFUSALS: dict[str, tuple[str, str]] = {
    "sso_state_mismatch": (
        "登录请求与本浏览器发起的不一致（state 不匹配），请重新登录",
        "the answer does not belong to a sign-in started in this browser (state mismatch)",
    ),
    "sso_state_spent": (
        "该登录请求已使用或已过期，请重新登录",
        "this sign-in was already used or has expired (replayed answer)",
    ),
    "sso_provider_error": (
        "统一身份认证平台拒绝了本次登录",
        "the identity provider refused the sign-in",
    ),
    "sso_code_refused": (
        "统一身份认证平台不接受该授权码（可能已被使用）",
        "the provider refused the authorization code (it may have been used already)",
    ),
    "sso_unavailable": (
        "暂时无法连接统一身份认证平台，请稍后再试",
        "the identity provider cannot be reached; try again shortly",
    ),
    "sso_bad_signature": (
        "身份令牌签名无效",
        "the ID token's signature is not valid",
    ),
    "sso_unknown_key": (
        "身份令牌使用了平台未公布的密钥",
        "the ID token is signed with a key the provider does not publish",
    ),
    "sso_bad_algorithm": (
        "身份令牌的签名算法不被接受",
        "the ID token's signing algorithm is not accepted",
    ),
    "sso_wrong_issuer": (
        "身份令牌不是由配置的统一身份认证平台签发的",
        "the ID token was issued by another issuer",
    ),
    "sso_wrong_audience": (
        "身份令牌不是签发给本系统的",
        "the ID token was issued to another client (audience)",
    ),
    "sso_expired": ("身份令牌已过期", "the ID token has expired"),
    "sso_bad_nonce": (
        "身份令牌与本次登录不匹配（nonce）",
        "the ID token does not belong to this sign-in (nonce)",
    ),
    "sso_bad_token": ("身份令牌无效", "the ID token is not valid"),
    "sso_claim_missing": (
        "身份令牌中没有用于关联账号的字段",
        "the ID token lacks the claim accounts are linked by",
    ),
    "sso_not_linked": (
        "该统一身份认证账号尚未关联本系统账号，请联系管理员关联",
        "this identity is not linked to an account here; ask an administrator to link it",
    ),
    "sso_account_inactive": ("关联的账号已停用", "the linked account is disabled"),
}


class IdentityRefused(DomainError):
    """A unified sign-in refused; `code` is one of REFUSALS."""

    def __init__(self, code: str, detail: str = "", status: int = 400) -> None:
        zh, en = REFUSALS[code]
        super().__init__(code, zh, en, status=status, details={"detail": detail[:300]})
