"""Builders of import files for the transfer tests (XLSX with openpyxl, CSV in any encoding), as fixtures.

Test modules here are imported by path (importlib mode): they get these helpers through the ``files``
fixture rather than by importing this module."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from factories import actor_of, make_department, make_user
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor

RESOURCE_HEADERS = [
    "序号",
    "信息资源名称",
    "目录类别",
    "信息资源分类",
    "信息资源摘要",
    "信息资源格式",
    "共享类型",
    "共享条件",
    "不予共享依据",
    "共享方式",
    "是否向社会开放",
    "开放条件",
    "更新周期",
    "来源系统",
    "关键词",
]
ELEMENT_HEADERS = [
    "资源序号",
    "信息项名称",
    "英文标识",
    "数据类型",
    "数据长度",
    "是否可识别个人",
    "敏感级别",
    "说明",
]


def resource_row(n: int, name: str, **changes: Any) -> list[Any]:
    """A valid resources-sheet row (Chinese labels, as departments fill them in)."""
    values: dict[str, Any] = {
        "序号": n,
        "信息资源名称": name,
        "目录类别": "部门信息资源",
        "信息资源分类": "3-01-001-001",
        "信息资源摘要": f"{name}的摘要。",
        "信息资源格式": "数据库",
        "共享类型": "有条件共享",
        "共享条件": "仅限履行法定职责使用",
        "不予共享依据": "",
        "共享方式": "接口",
        "是否向社会开放": "否",
        "开放条件": "",
        "更新周期": "每日",
        "来源系统": "人口管理系统",
        "关键词": "户籍；人口",
    }
    values.update(changes)
    return [values[h] for h in RESOURCE_HEADERS]


def element_row(n: int, name: str, name_en: str, **changes: Any) -> list[Any]:
    values: dict[str, Any] = {
        "资源序号": n,
        "信息项名称": name,
        "英文标识": name_en,
        "数据类型": "字符型",
        "数据长度": 18,
        "是否可识别个人": "否",
        "敏感级别": "内部",
        "说明": "",
    }
    values.update(changes)
    return [values[h] for h in ELEMENT_HEADERS]


def xlsx(
    resources: list[list[Any]],
    elements: list[list[Any]],
    *,
    resource_headers: list[str] | None = None,
    element_headers: list[str] | None = None,
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "信息资源"
    sheet.append(resource_headers or RESOURCE_HEADERS)
    for row in resources:
        sheet.append(row)
    el = book.create_sheet("信息项")
    el.append(element_headers or ELEMENT_HEADERS)
    for row in elements:
        el.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def flat_csv(rows: list[list[Any]], headers: list[str], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)


def data_admin(db: Session, *, name: str = "省公安厅") -> tuple[Actor, int]:
    dept = make_department(db, name=name)
    user = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    return actor_of(db, user), dept.id


@pytest.fixture
def files() -> SimpleNamespace:
    """The builders above."""
    return SimpleNamespace(
        resource_row=resource_row,
        element_row=element_row,
        xlsx=xlsx,
        flat_csv=flat_csv,
        RESOURCE_HEADERS=RESOURCE_HEADERS,
        ELEMENT_HEADERS=ELEMENT_HEADERS,
    )


@pytest.fixture
def admin(db: Session) -> tuple[Actor, int]:
    """A data administrator of a new department, and that department's id."""
    return data_admin(db)
