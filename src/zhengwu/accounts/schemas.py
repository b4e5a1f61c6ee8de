"""Plain data in and out of the accounts use cases."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from zhengwu.accounts.models import DepartmentLevel, Role


class DepartmentIn(BaseModel):
    """A new department."""

    code: str = Field(
        min_length=2,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Short stable code, e.g. 'GA' or '990100-GA'.",
    )
    name: str = Field(min_length=2, max_length=200, description="Full name, e.g. 某省公安厅.")
    short_name: str | None = Field(None, max_length=64)
    level: DepartmentLevel
    region_code: str = Field(min_length=6, max_length=6, description="GB/T 2260 code of its region.")
    uscc: str | None = Field(None, description="The organ's unified social credit code (GB 32100).")
    parent_id: int | None = None


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    short_name: str | None
    level: DepartmentLevel
    region_code: str
    uscc: str | None
    parent_id: int | None
    is_active: bool


class UserIn(BaseModel):
    """A new account."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.@-]*$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=256)
    department_id: int | None = None
    roles: list[Role] = Field(default_factory=list)
    email: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=32)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    department_id: int | None
    department_name: str | None
    roles: list[Role]
    is_active: bool
    locked: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    active: bool


class TokenCreated(TokenOut):
    """Returned once, at creation: the only time the secret is ever shown."""

    token: str


class RolesIn(BaseModel):
    roles: list[Role]


class PasswordChangeIn(BaseModel):
    old_password: str
    new_password: str
