"""Domain errors with stable codes and bilingual messages; the API maps them to HTTP answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code, a message in Chinese and English, and the numbers."""

    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)
    status: int = 409

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used in API error bodies."""
        return {
            "code": self.code,
            "message": self.message_zh,
            "message_en": self.message_en,
            "details": self.details,
        }


def stale_version(what_zh: str, what_en: str, current: int, expected: int) -> Violation:
    """The refusal of a write based on an old version of the record."""
    return Violation(
        "stale_version",
        f"{what_zh}已被他人修改（当前版本 {current}，请求基于版本 {expected}），请刷新后重试",
        f"the {what_en} changed meanwhile (version {current}, request based on {expected}); "
        "reload and retry",
        {"current_version": current, "expected_version": expected},
    )


def move_not_allowed(
    trigger: str,
    trigger_zh: str,
    state: str,
    state_zh: str,
    allowed: list[str],
    allowed_zh: list[str] | None = None,
) -> Violation:
    """The refusal of a move the state machine has no transition for (the moves still allowed
    named in Chinese by `allowed_zh`, in English by their triggers)."""
    words = allowed if allowed_zh is None else allowed_zh
    return Violation(
        "move_not_allowed",
        f"当前状态“{state_zh}”不能执行“{trigger_zh}”，可执行：{'、'.join(words) or '无'}",
        f"'{trigger}' is not allowed from state '{state}'; allowed: {', '.join(allowed) or 'none'}",
    )


class DomainError(Exception):
    """Base of every refusal the service explains to its caller."""

    status = 400

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used in API error bodies (the same as :meth:`Violation.as_dict`)."""
        return {
            "code": self.code,
            "message": self.message_zh,
            "message_en": self.message_en,
            "details": self.details,
        }


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know it exists."""

    status = 404


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status = 403


class Conflict(DomainError):
    """The request clashes with the current state of the data."""

    status = 409


class InvalidData(DomainError, ValueError):
    """A file, cell or value the caller sent that cannot be used as given (HTTP 422).

    Also a ``ValueError``, so parsers' callers that catch ``ValueError`` keep working; its text is
    "中文 / English" as the parsers' own errors always were.
    """

    status = 422

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


class MoveRefused(Conflict):
    """A workflow move was refused; carries every violated rule and the moves still allowed."""

    def __init__(
        self,
        trigger: str,
        state: str,
        violations: list[Violation],
        allowed: list[str],
    ) -> None:
        first = violations[0]
        super().__init__(
            first.code,
            "；".join(v.message_zh for v in violations),
            "; ".join(v.message_en for v in violations),
            status=max(v.status for v in violations),
            details={"trigger": trigger, "state": state},
        )
        self.violations = violations
        self.allowed = allowed
