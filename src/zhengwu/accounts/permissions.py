"""Who is acting, and the checks every service runs first.

Services receive an :class:`Actor` as an explicit keyword argument and call one of the ``require_*``
functions before doing anything; routes only translate the caller (cookie or token) into an Actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zhengwu.accounts.models import ROLE_LABELS_ZH, Role
from zhengwu.errors import NotAuthenticated, PermissionDenied


@dataclass(frozen=True)
class Actor:
    """The person or program on whose behalf a use case runs."""

    user_id: int | None
    username: str
    display_name: str = ""
    roles: frozenset[Role] = field(default_factory=frozenset)
    department_id: int | None = None
    token_id: int | None = None
    ip: str | None = None
    is_system: bool = False
    # A credential limited to one thing (a conditional dataset's access key: ``opendata_key:<id>``):
    # such an actor holds no roles and is not signed in; the part that issued it checks the scope.
    scope: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The platform itself (CLI, seeding, schedulers): may do everything, still audited."""
        return cls(user_id=None, username=name, display_name="系统", is_system=True)

    @classmethod
    def anonymous(cls, ip: str | None = None) -> Actor:
        return cls(user_id=None, username="anonymous", display_name="访客", ip=ip)

    @property
    def is_authenticated(self) -> bool:
        return self.is_system or self.user_id is not None

    def has(self, *roles: Role) -> bool:
        """True when the actor holds any of ``roles`` (the system actor holds them all)."""
        return self.is_system or any(r in self.roles for r in roles)


def require_authenticated(actor: Actor) -> None:
    """Refuse anonymous callers."""
    if not actor.is_authenticated:
        raise NotAuthenticated("请先登录", message_en="authentication required")


def require_roles(actor: Actor, *roles: Role) -> None:
    """Refuse callers that hold none of ``roles``; the message names the roles needed."""
    require_authenticated(actor)
    if not actor.has(*roles):
        needed = "、".join(ROLE_LABELS_ZH[r] for r in roles)
        raise PermissionDenied(
            f"需要以下角色之一：{needed}",
            message_en="requires one of the roles: " + ", ".join(r.value for r in roles),
            details={"required_roles": [r.value for r in roles]},
        )


def require_department_admin(actor: Actor, department_id: int) -> None:
    """Allow the platform admin, or a data administrator of that very department."""
    require_authenticated(actor)
    if actor.has(Role.PLATFORM_ADMIN):
        return
    if actor.has(Role.DATA_ADMIN) and actor.department_id == department_id:
        return
    raise PermissionDenied(
        "只能管理本部门的数据",
        message_en="only the department's own data administrators may do this",
        details={"department_id": department_id},
    )
