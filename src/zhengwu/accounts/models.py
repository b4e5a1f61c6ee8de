"""Tables of departments, users, roles, web sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class DepartmentLevel(enum.StrEnum):
    """Administrative level of a department; mirrors the national → province → city → county cascade."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"
    COUNTY = "county"


LEVEL_LABELS_ZH = {
    DepartmentLevel.NATIONAL: "国家级",
    DepartmentLevel.PROVINCIAL: "省级",
    DepartmentLevel.CITY: "市级",
    DepartmentLevel.COUNTY: "县级",
}


class Role(enum.StrEnum):
    """What a person may do. A person may hold several roles."""

    PLATFORM_ADMIN = "platform_admin"
    DATA_ADMIN = "data_admin"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    DEVELOPER = "developer"
    PUBLIC_USER = "public_user"


ROLE_LABELS_ZH = {
    Role.PLATFORM_ADMIN: "平台管理员",
    Role.DATA_ADMIN: "部门数据管理员",
    Role.REVIEWER: "平台审核员",
    Role.AUDITOR: "安全审计员",
    Role.DEVELOPER: "开发者",
    Role.PUBLIC_USER: "公众/企业用户",
}

# Roles that only staff of a department may hold; a public user belongs to no department.
DEPARTMENT_ROLES = frozenset({Role.DATA_ADMIN, Role.DEVELOPER})


class Department(Base):
    """A government department (部门): one member of the exchange, one provider of catalog resources."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[DepartmentLevel] = mapped_column(
        Enum(DepartmentLevel, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    region_code: Mapped[str] = mapped_column(String(6))
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side="Department.id", back_populates="children")
    children: Mapped[list[Department]] = relationship(back_populates="parent", order_by="Department.code")

    __table_args__ = (Index("ix_departments_parent_id", "parent_id"),)


class User(Base):
    """A person who signs in: staff of a department, or a citizen or business user."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship()
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (Index("ix_users_department_id", "department_id"),)

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)


class UserRole(Base):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """An API token for programs. Only a keyed SM3 hash of the secret is stored; it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # The public prefix lets a person recognise a token in lists and logs without its secret.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its keyed hash is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)


class PlatformState(Base):
    """Small key/value facts about this installation (e.g. when the demo data was seeded)."""

    __tablename__ = "platform_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


__all__ = [
    "DEPARTMENT_ROLES",
    "LEVEL_LABELS_ZH",
    "ROLE_LABELS_ZH",
    "ApiToken",
    "Department",
    "DepartmentLevel",
    "PlatformState",
    "Role",
    "User",
    "UserRole",
    "WebSession",
]
