"""The exchange layout of the catalog: the sheets, columns and value labels departments already use.

One sheet of resources (“信息资源”) and one of data elements (“信息项”), with Chinese headers named after
the core metadata of 《政务信息资源目录编制指南（试行）》. Headers are matched leniently (full-width
characters, spaces, ``*`` marks and a few common variants), values by their Chinese label, a common
variant, or the English value of the API.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from zhengwu.catalog.models import (
    Delivery,
    ElementType,
    OpenType,
    ResourceCategory,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.schemas import ENUM_LABELS_ZH, FORMAT_LABELS_ZH

RESOURCES_SHEET = "信息资源"
ELEMENTS_SHEET = "信息项"
GUIDE_SHEET = "填写说明"
RESOURCES_SHEET_ALIASES = ("信息资源", "资源", "信息资源目录", "资源目录", "目录")
ELEMENTS_SHEET_ALIASES = ("信息项", "数据项", "信息项目录", "字段", "数据元")
LIST_SEPARATORS = re.compile(r"[;；,，、\n\r|]+")

YES = ("是", "y", "yes", "true", "1", "√", "有")
NO = ("否", "n", "no", "false", "0", "×", "无", "")


def _labels(enum_cls: type, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Chinese label (and English value, and variants) → value, keys normalised."""
    out = {key_of(label): value for value, label in ENUM_LABELS_ZH[enum_cls].items()}
    out.update({key_of(value): value for value in ENUM_LABELS_ZH[enum_cls]})
    out.update({key_of(k): v for k, v in (extra or {}).items()})
    return out


def key_of(text: str) -> str:
    """Normalised form for matching headers and labels: NFKC, no spaces or marks, lower case."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[\s*＊:：()（）\[\]【】]|必填|选填|可选", "", text)
    return text


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: there is one of each
class Column:
    """One column of a sheet: its header, the field it fills, how its cells are read."""

    header: str
    key: str
    kind: str = "text"  # text | enum | int | bool | list | key (row key) | export
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)
    width: int = 14
    note: str = ""

    def matches(self, header_key: str) -> bool:
        return header_key in {key_of(self.header), *(key_of(a) for a in self.aliases)}


CATEGORY = _labels(ResourceCategory, {"基础": "base", "主题": "thematic", "部门": "departmental"})
SHARE = _labels(
    ShareType, {"无条件": "unconditional", "有条件": "conditional", "不予": "none", "不共享": "none"}
)
OPEN = _labels(OpenType, {"开放": "open", "不开放": "closed", "有条件": "conditional", "无条件": "open"})
DELIVERY = _labels(
    Delivery,
    {"数据接口": "api", "服务接口": "api", "数据库": "table", "数据库表": "table", "表": "table",
     "文件下载": "file", "数据文件": "file"},
)  # fmt: skip
FREQUENCY = _labels(
    UpdateFrequency,
    {"每天": "daily", "日": "daily", "周": "weekly", "月": "monthly", "季度": "quarterly", "季": "quarterly",
     "半年": "semiannual", "年": "yearly", "年度": "yearly", "不定时": "irregular", "按需": "irregular"},
)  # fmt: skip
SECRECY = _labels(Secrecy, {"否": "unclassified", "是": "classified", "": "unclassified"})
SENSITIVITY = _labels(Sensitivity, {"一般": "internal"})
DATA_TYPE = _labels(
    ElementType,
    {"字符串": "string", "文本": "string", "字符": "string", "varchar": "string", "char": "string",
     "整型": "integer", "整数": "integer", "int": "integer", "数值": "decimal", "数字": "decimal",
     "小数": "decimal", "浮点": "decimal", "number": "decimal", "日期": "date", "日期时间": "datetime",
     "时间": "datetime", "时间戳": "datetime", "布尔": "boolean", "逻辑": "boolean", "二进制": "binary"},
)  # fmt: skip
FORMAT = (
    {key_of(label): value for value, label in FORMAT_LABELS_ZH.items()}
    | {key_of(v): v for v in FORMAT_LABELS_ZH}
    | {key_of("接口"): "api", key_of("电子文档"): "document", key_of("表格"): "spreadsheet"}
)


def _choice_note(enum_cls: type) -> str:
    return "、".join(ENUM_LABELS_ZH[enum_cls].values())


RESOURCE_COLUMNS: tuple[Column, ...] = (
    Column("序号", "row_key", "key", aliases=("资源序号", "编号"), width=6,
           note="可选。信息项表用“资源序号”指向本行。"),
    Column("信息资源名称", "name", required=True, aliases=("资源名称", "名称"), width=28),
    Column("信息资源代码", "code", aliases=("资源代码", "代码"), width=30,
           note="新建时留空，系统分配；填写已有草稿的代码则更新该草稿。"),
    Column("信息资源提供方", "provider_name", aliases=("提供方", "提供部门", "资源提供方"), width=20,
           note="可省略；填写时须与导入部门一致。"),
    Column("信息资源提供方代码", "provider_code", aliases=("提供方代码", "提供部门代码"), width=12),
    Column("目录类别", "category", "enum", required=True, aliases=("资源类别", "目录分类"),
           choices=CATEGORY, note=_choice_note(ResourceCategory)),
    Column("信息资源分类", "classification", required=True, aliases=("资源分类", "分类代码", "资源分类代码"),
           note="类-项-目-细目，如 3-01-002-001；类：1 基础、2 主题、3 部门。"),
    Column("主题分类", "topic_code", aliases=("主题分类代码", "主题"), note="主题分类的代码或名称，可留空。"),
    Column("信息资源摘要", "summary", aliases=("资源摘要", "摘要"), width=40),
    Column("信息资源格式", "format", "enum", required=True, aliases=("资源格式", "格式"), choices=FORMAT,
           note="、".join(FORMAT_LABELS_ZH.values())),
    Column("共享类型", "share_type", "enum", required=True, choices=SHARE, note=_choice_note(ShareType)),
    Column("共享条件", "share_conditions", width=24, note="有条件共享时必填。"),
    Column("不予共享依据", "share_basis", aliases=("共享依据", "不共享依据", "不予共享理由"), width=24,
           note="不予共享时必填：法律、行政法规或党中央、国务院政策依据。"),
    Column("共享方式", "delivery", "enum", required=True, aliases=("共享方式类型",), choices=DELIVERY,
           note=_choice_note(Delivery)),
    Column("是否向社会开放", "open_flag", "bool", aliases=("是否开放",), note="是、否"),
    Column("开放类型", "open_type", "enum", aliases=("开放属性",), choices=OPEN,
           note=_choice_note(OpenType) + "；与“是否向社会开放”至少填一项。"),
    Column("开放条件", "open_conditions", width=20),
    Column("更新周期", "update_frequency", "enum", required=True, aliases=("更新频率", "更新频度"),
           choices=FREQUENCY, note=_choice_note(UpdateFrequency)),
    Column("涉密属性", "secrecy", "enum", aliases=("是否涉密",), choices=SECRECY,
           note="非涉密、涉密（默认非涉密）"),
    Column("来源系统", "source_system", aliases=("来源业务系统", "所属系统", "来源信息系统"), width=20),
    Column("关联资源代码", "related_codes", "list", aliases=("关联资源",), width=24, note="多个用分号隔开。"),
    Column("关键词", "keywords", "list", aliases=("关键字",), note="多个用分号或顿号隔开。"),
    Column("状态", "status", "export", width=8, note="导出时填写，导入时忽略。"),
    Column("版本", "version", "export", width=6, note="导出时填写，导入时忽略。"),
    Column("发布日期", "published_at", "export", aliases=("发布时间",), width=12,
           note="导出时填写，导入时忽略。"),
)  # fmt: skip

ELEMENT_COLUMNS: tuple[Column, ...] = (
    Column("资源序号", "row_key", "key", aliases=("序号",), width=8, note="对应“信息资源”表的序号。"),
    Column("信息资源代码", "resource_code", aliases=("资源代码",), width=30),
    Column("信息资源名称", "resource_name", aliases=("资源名称",), width=28,
           note="资源序号、信息资源代码、信息资源名称三者至少填一项，用于对应到资源。"),
    Column("信息项名称", "name", required=True, aliases=("数据项名称", "字段中文名", "中文名称"), width=20),
    Column("英文标识", "name_en", required=True,
           aliases=("信息项英文名称", "英文名称", "字段名", "字段英文名", "英文名"), width=20,
           note="小写字母开头，只含小写字母、数字和下划线，如 resident_id。"),
    Column("数据类型", "data_type", "enum", required=True, aliases=("信息项数据类型", "类型"),
           choices=DATA_TYPE, note=_choice_note(ElementType)),
    Column("数据长度", "length", "int", aliases=("长度", "字段长度"), width=8),
    Column("是否可识别个人", "identifies_person", "bool", aliases=("可识别个人", "是否个人信息"), width=10,
           note="是、否"),
    Column("敏感级别", "sensitivity", "enum", aliases=("敏感等级", "数据分级", "分级"), choices=SENSITIVITY,
           note=_choice_note(Sensitivity) + "（默认内部）"),
    Column("说明", "description", aliases=("信息项说明", "备注", "描述"), width=30),
)  # fmt: skip


def find_column(columns: tuple[Column, ...], header: str) -> Column | None:
    """The column a header names, or None for an unknown header."""
    k = key_of(header)
    if not k:
        return None
    return next((c for c in columns if c.matches(k)), None)


def column_letter(index: int) -> str:
    """Excel letter of a 0-based column index: 0 → A, 27 → AB."""
    out = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def label_of(choices: dict[str, str], enum_cls: type | None, value: str) -> str:
    """The Chinese label written on export for an enum value."""
    if enum_cls is not None:
        return ENUM_LABELS_ZH[enum_cls].get(value, value)
    return FORMAT_LABELS_ZH.get(value, value)


ELEMENT_LINK_KEYS = ("row_key", "resource_code", "resource_name")
# The flat CSV layout: resource columns, then the element columns (keys prefixed ``el_``) on each row.
FLAT_ELEMENT_COLUMNS: tuple[Column, ...] = tuple(
    Column(c.header, "el_" + c.key, c.kind, False, c.aliases, c.choices, c.width, c.note)
    for c in ELEMENT_COLUMNS
    if c.key not in ELEMENT_LINK_KEYS
)
FLAT_COLUMNS: tuple[Column, ...] = RESOURCE_COLUMNS + FLAT_ELEMENT_COLUMNS
