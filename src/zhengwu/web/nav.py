"""Navigation entries that domains contribute to the main menu."""

from __future__ import annotations

from dataclasses import dataclass, field

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor


@dataclass(frozen=True)
class NavItem:
    """One entry of the main menu. ``roles`` empty: everyone; ``signed_in``: any signed-in user."""

    label: str
    path: str
    order: int = 100
    roles: frozenset[Role] = field(default_factory=frozenset)
    signed_in: bool = False

    def visible(self, actor: Actor) -> bool:
        if self.roles:
            return actor.is_authenticated and actor.has(*self.roles)
        if self.signed_in:
            return actor.is_authenticated
        return True
