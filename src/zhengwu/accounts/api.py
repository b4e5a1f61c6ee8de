"""JSON API of organisations and accounts under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, status

from zhengwu.accounts.schemas import (
    DepartmentIn,
    DepartmentOut,
    RolesIn,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from zhengwu.accounts.services import (
    department_create,
    department_get,
    department_list,
    token_create,
    token_list,
    token_revoke,
    user_create,
    user_get,
    user_list,
    user_set_roles,
)
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me", response_model=UserOut, summary="当前调用者 (who am I)")
def me(db: DbSession, actor: SignedInActor) -> UserOut:
    assert actor.user_id is not None
    return user_get(db, actor=actor, user_id=actor.user_id)


@router.get("/departments", response_model=list[DepartmentOut], summary="部门列表")
def departments(db: DbSession, actor: SignedInActor) -> list[DepartmentOut]:
    return department_list(db, actor=actor)


@router.post(
    "/departments",
    response_model=DepartmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="新增部门 (platform admin)",
)
def departments_create(db: DbSession, actor: SignedInActor, body: DepartmentIn) -> DepartmentOut:
    return department_create(db, actor=actor, data=body)


@router.get("/departments/{department_id}", response_model=DepartmentOut, summary="部门详情")
def departments_get(db: DbSession, actor: SignedInActor, department_id: int) -> DepartmentOut:
    return department_get(db, actor=actor, department_id=department_id)


@router.get("/users", response_model=list[UserOut], summary="用户列表 (admin, auditor)")
def users(db: DbSession, actor: SignedInActor, department_id: int | None = None) -> list[UserOut]:
    return user_list(db, actor=actor, department_id=department_id)


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="新建用户 (admin)"
)
def users_create(db: DbSession, actor: SignedInActor, settings: AppSettings, body: UserIn) -> UserOut:
    return user_create(db, actor=actor, data=body, password_min_length=settings.password_min_length)


@router.put("/users/{user_id}/roles", response_model=UserOut, summary="设置用户角色 (admin)")
def users_roles(db: DbSession, actor: SignedInActor, user_id: int, body: RolesIn) -> UserOut:
    return user_set_roles(db, actor=actor, user_id=user_id, roles=body.roles)


@router.get("/tokens", response_model=list[TokenOut], summary="我的 API 令牌")
def tokens(db: DbSession, actor: SignedInActor) -> list[TokenOut]:
    assert actor.user_id is not None
    return token_list(db, actor=actor, user_id=actor.user_id)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="创建 API 令牌（只显示一次）",
)
def tokens_create(db: DbSession, actor: SignedInActor, settings: AppSettings, body: TokenIn) -> TokenCreated:
    assert actor.user_id is not None
    return token_create(
        db,
        actor=actor,
        user_id=actor.user_id,
        name=body.name,
        expires_days=body.expires_days or settings.token_default_days,
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="撤销 API 令牌")
def tokens_revoke(db: DbSession, actor: SignedInActor, token_id: int) -> TokenOut:
    return token_revoke(db, actor=actor, token_id=token_id)
