"""The invitee quota as numbers: what the invite guard checks, for a live count on pages.

Pure: no database. `quota(rules, total, citizens)` applies the same CampaignRules the guards in
workflows/event.py read (invitees_min/max and citizens_needed), so the pages' meter and the
`invite` move agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.rules import CampaignRules


@dataclass(frozen=True)
class Quota:
    """How an invitee (or attendee) list stands against the campaign's rules."""

    total: int
    low: int
    high: int
    citizens: int
    citizens_needed: int

    @property
    def count_ok(self) -> bool:
        """The list size is within the campaign's range."""
        return self.low <= self.total <= self.high

    @property
    def share_ok(self) -> bool:
        """Citizen representatives reach the campaign's share."""
        return self.citizens >= self.citizens_needed

    @property
    def ok(self) -> bool:
        """Both rules of the invite move are met."""
        return self.count_ok and self.share_ok

    @property
    def count_zh(self) -> str:
        """共 12 人（应为 10–20 人）."""
        return f"共 {self.total} 人（应为 {self.low}–{self.high} 人）"

    @property
    def share_zh(self) -> str:
        """市民代表 3 人，至少需要 4 人."""
        return f"市民代表 {self.citizens} 人，至少需要 {self.citizens_needed} 人"


def quota(rules: CampaignRules, total: int, citizens: int) -> Quota:
    """The invite rules applied to a list of `total` people with `citizens` citizens."""
    return Quota(
        total=total,
        low=rules.invitees_min,
        high=rules.invitees_max,
        citizens=citizens,
        citizens_needed=rules.citizens_needed(total),
    )
