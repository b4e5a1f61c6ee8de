"""Validation of delivered 双公示 records and list entries: identifiers, codes, dates and their order.

A validator turns the raw values of one row (text from CSV, typed values from Excel or Parquet) into
the canonical values of a record or list entry, or into ``(column, reason)`` problems in Chinese.
Nothing here touches the database: references (subject in the population or entity registry, the
issuing department, the list) are checked by :mod:`zhengwu.registries.credit.ingest`.

Full-width digits and letters, stray spaces and BOMs are folded by the registries' ``clean``; dates
accept the same forms as the other registries (ISO, 2024/3/1, 2024年3月1日, Excel serials).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from zhengwu.identifiers import InvalidIdentifier, validate_resident_id, validate_uscc
from zhengwu.registries.credit.models import RecordKind, SubjectType
from zhengwu.registries.validation import Problem, Spec, parse_date, row_hash

_KINDS: Final = {
    "licensing": RecordKind.LICENSING,
    "行政许可": RecordKind.LICENSING,
    "许可": RecordKind.LICENSING,
    "penalty": RecordKind.PENALTY,
    "行政处罚": RecordKind.PENALTY,
    "处罚": RecordKind.PENALTY,
}
_SUBJECT_TYPES: Final = {
    "person": SubjectType.PERSON,
    "自然人": SubjectType.PERSON,
    "entity": SubjectType.ENTITY,
    "法人": SubjectType.ENTITY,
    "法人及非法人组织": SubjectType.ENTITY,
    "法人和非法人组织": SubjectType.ENTITY,
    "个体工商户": SubjectType.ENTITY,
}
LICENSING_CATEGORIES: Final = ("普通", "特许", "认可", "核准", "登记", "其他")
PENALTY_CATEGORIES: Final = (
    "警告",
    "通报批评",
    "罚款",
    "没收违法所得",
    "没收非法财物",
    "暂扣许可证件",
    "降低资质等级",
    "吊销许可证件",
    "限制开展生产经营活动",
    "责令停产停业",
    "责令关闭",
    "限制从业",
    "行政拘留",
    "其他",
)
#: How long a penalty stays published when the department gives no end (the longest period of the
#: national rules on publication of administrative penalty information: three years).
PENALTY_PUBLICATION_YEARS: Final = 3
TEXT_LIMIT: Final = 4000


def _blank_spec(required: tuple[str, ...], optional: tuple[str, ...], aliases: dict[str, str]) -> Spec:
    # The registries' header mapping is reused; the row validators of this module have their own shape.
    return Spec(
        key=required[0],
        required=required,
        optional=optional,
        staged=(),
        aliases=aliases,
        validate=lambda row, today: [],
    )


RECORD_SPEC: Final = _blank_spec(
    required=(
        "decision_number",
        "kind",
        "subject_id",
        "subject_name",
        "category",
        "content",
        "basis",
        "decision_date",
    ),
    optional=(
        "subject_type",
        "decision_name",
        "amount_yuan",
        "validity_from",
        "validity_to",
        "publication_to",
        "issuing_department",
    ),
    aliases={
        "决定文书号": "decision_number",
        "行政许可决定文书号": "decision_number",
        "行政处罚决定书文号": "decision_number",
        "类型": "kind",
        "公示类型": "kind",
        "行政相对人代码": "subject_id",
        "统一社会信用代码/公民身份号码": "subject_id",
        "行政相对人名称": "subject_name",
        "行政相对人类别": "subject_type",
        "许可/处罚类别": "category",
        "类别": "category",
        "内容": "content",
        "许可/处罚内容": "content",
        "依据": "basis",
        "决定日期": "decision_date",
        "决定文书名称": "decision_name",
        "罚款金额": "amount_yuan",
        "罚款金额（元）": "amount_yuan",
        "有效期自": "validity_from",
        "有效期至": "validity_to",
        "公示截止期": "publication_to",
        "决定机关代码": "issuing_department",
    },
)

ENTRY_SPEC: Final = _blank_spec(
    required=("decision_number", "list_code", "subject_id", "subject_name", "reason", "basis", "period_from"),
    optional=("subject_type", "period_to"),
    aliases={
        "认定文书号": "decision_number",
        "名单代码": "list_code",
        "主体代码": "subject_id",
        "统一社会信用代码/公民身份号码": "subject_id",
        "主体名称": "subject_name",
        "主体类别": "subject_type",
        "列入原因": "reason",
        "认定依据": "basis",
        "有效期自": "period_from",
        "列入日期": "period_from",
        "有效期至": "period_to",
    },
)


@dataclass(frozen=True)
class Subject:
    """A validated subject: its type and canonical identifier."""

    subject_type: SubjectType
    subject_id: str


def check_subject(value: Any, declared: Any) -> Subject | str:
    """The subject of a resident ID or USCC, or the reason it is invalid (cached: files repeat subjects)."""
    return _check_subject("" if value is None else str(value), None if declared is None else str(declared))


@lru_cache(maxsize=65_536)
def _check_subject(text: str, declared: str | None) -> Subject | str:
    """The subject of a resident ID or USCC, or the reason it is invalid.

    Both identifiers have 18 characters; an all-digit value may pass both checks, in which case the
    delivered subject type decides (and is then required).
    """
    wanted: SubjectType | None = None
    if declared is not None:
        wanted = _SUBJECT_TYPES.get(str(declared).lower())
        if wanted is None:
            return f"相对人类别“{declared}”无效，应为 自然人 或 法人及非法人组织"
    reasons: dict[SubjectType, str] = {}
    found: list[Subject] = []
    for kind, check in ((SubjectType.PERSON, validate_resident_id), (SubjectType.ENTITY, validate_uscc)):
        if kind is SubjectType.PERSON and wanted is None and not text[:17].isdigit():
            # A USCC with letters in its body cannot be a resident ID: skip the costlier failure.
            reasons[kind] = "不是有效的公民身份号码"
            continue
        try:
            found.append(Subject(kind, check(text)))
        except InvalidIdentifier as exc:
            reasons[kind] = exc.message
    if wanted is not None:
        match = [s for s in found if s.subject_type is wanted]
        return match[0] if match else reasons[wanted]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        return "该代码既是有效的公民身份号码又是有效的统一社会信用代码，请填写相对人类别"
    return f"既不是有效的统一社会信用代码（{reasons[SubjectType.ENTITY]}），也不是有效的公民身份号码"


def _text(
    row: dict[str, Any], column: str, problems: list[Problem], *, limit: int = TEXT_LIMIT
) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        problems.append((column, f"长度 {len(text)} 超过上限 {limit}"))
    return text


def _required(row: dict[str, Any], columns: tuple[str, ...], problems: list[Problem]) -> None:
    for column in columns:
        if row.get(column) is None:
            problems.append((column, "必填项为空"))


def _date(row: dict[str, Any], column: str, problems: list[Problem]) -> dt.date | None:
    value = row.get(column)
    if value is None:
        return None
    parsed = parse_date(value)
    if isinstance(parsed, str):
        problems.append((column, parsed))
        return None
    return parsed


def _amount(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).replace(",", "").replace("元", "").strip()
        try:
            number = float(text)
        except ValueError:
            return f"罚款金额“{value}”不是数字"
    if number < 0 or number != number or number > 1e15:
        return f"罚款金额“{value}”超出范围"
    if not number.is_integer():
        return f"罚款金额“{value}”应为整数元"
    return int(number)


def _subject(row: dict[str, Any], problems: list[Problem]) -> Subject | None:
    if row.get("subject_id") is None:
        return None
    subject = check_subject(row["subject_id"], row.get("subject_type"))
    if isinstance(subject, str):
        problems.append(("subject_id", subject))
        return None
    return subject


def validate_record(row: dict[str, Any], today: dt.date) -> dict[str, Any] | list[Problem]:
    """One delivered 双公示 record as canonical values (``row_hash`` included), or its problems."""
    problems: list[Problem] = []
    _required(row, RECORD_SPEC.required, problems)
    kind = _KINDS.get(str(row.get("kind") or "").lower()) if row.get("kind") is not None else None
    if row.get("kind") is not None and kind is None:
        problems.append(("kind", f"类型“{row['kind']}”无效，应为 行政许可 或 行政处罚"))
    subject = _subject(row, problems)
    category = _text(row, "category", problems, limit=40)
    if kind is not None and category is not None:
        allowed = LICENSING_CATEGORIES if kind is RecordKind.LICENSING else PENALTY_CATEGORIES
        if category not in allowed:
            problems.append(("category", f"“{category}”不是有效的类别，应为：" + "、".join(allowed)))
    decided = _date(row, "decision_date", problems)
    valid_from = _date(row, "validity_from", problems)
    valid_to = _date(row, "validity_to", problems)
    published_to = _date(row, "publication_to", problems)
    if decided is not None and decided > today:
        problems.append(("decision_date", f"决定日期 {decided.isoformat()} 晚于今天"))
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        problems.append(("validity_to", "有效期至早于有效期自"))
    if decided is not None and valid_from is not None and valid_from < decided:
        problems.append(("validity_from", "有效期自早于决定日期"))
    if decided is not None and published_to is not None and published_to < decided:
        problems.append(("publication_to", "公示截止期早于决定日期"))
    amount = _amount(row.get("amount_yuan"))
    if isinstance(amount, str):
        problems.append(("amount_yuan", amount))
    elif amount is not None and kind is RecordKind.LICENSING:
        problems.append(("amount_yuan", "行政许可记录不应有罚款金额"))
    values = {
        "decision_number": _text(row, "decision_number", problems, limit=128),
        "subject_name": _text(row, "subject_name", problems, limit=200),
        "decision_name": _text(row, "decision_name", problems, limit=200),
        "content": _text(row, "content", problems),
        "basis": _text(row, "basis", problems),
        "issuing_department": _text(row, "issuing_department", problems, limit=32),
    }
    if problems or kind is None or subject is None or decided is None:
        return problems or [("*", "无效的行")]
    if published_to is None and kind is RecordKind.PENALTY:
        published_to = _add_years(decided, PENALTY_PUBLICATION_YEARS)
    out: dict[str, Any] = {
        **values,
        "kind": kind.value,
        "subject_type": subject.subject_type.value,
        "subject_id": subject.subject_id,
        "category": category,
        "amount_yuan": amount,
        "decision_date": decided,
        "validity_from": valid_from,
        "validity_to": valid_to,
        "publication_to": published_to,
    }
    out["row_hash"] = row_hash([out[k] for k in sorted(out)])
    return out


def validate_entry(row: dict[str, Any], today: dt.date) -> dict[str, Any] | list[Problem]:
    """One delivered list entry as canonical values (``row_hash`` included), or its problems."""
    problems: list[Problem] = []
    _required(row, ENTRY_SPEC.required, problems)
    subject = _subject(row, problems)
    start = _date(row, "period_from", problems)
    end = _date(row, "period_to", problems)
    if start is not None and start > today:
        problems.append(("period_from", f"列入日期 {start.isoformat()} 晚于今天"))
    if start is not None and end is not None and end < start:
        problems.append(("period_to", "有效期至早于有效期自"))
    values = {
        "decision_number": _text(row, "decision_number", problems, limit=128),
        "list_code": _text(row, "list_code", problems, limit=32),
        "subject_name": _text(row, "subject_name", problems, limit=200),
        "reason": _text(row, "reason", problems),
        "basis": _text(row, "basis", problems),
    }
    if problems or subject is None or start is None:
        return problems or [("*", "无效的行")]
    out: dict[str, Any] = {
        **values,
        "subject_type": subject.subject_type.value,
        "subject_id": subject.subject_id,
        "period_from": start,
        "period_to": end,
    }
    out["row_hash"] = row_hash([out[k] for k in sorted(out)])
    return out


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
