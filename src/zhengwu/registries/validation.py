"""Validation of delivered rows: identifiers with the kernel, codes, dates, cross-field consistency.

A validator turns the raw values of one row (strings from CSV, typed values from Excel, Parquet or SQL)
into the canonical tuple that is staged, or into a list of ``(column, reason)`` problems in Chinese.
Nothing here touches the database; references between registries are checked set-wise in
:mod:`zhengwu.registries.ingest` once the batch is staged.

Speed matters (tens of millions of rows): resident IDs already in canonical form take a fast path
that applies exactly the kernel's acceptance rules (birth date exists, not before 1880, not after
today; region code known to GB/T 2260; check digit) with caches; anything else, and every rejection,
goes through :func:`zhengwu.identifiers.parse_resident_id` so that the reason is the kernel's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import mul
from typing import Any, Final

from zhengwu.identifiers import InvalidIdentifier, parse_resident_id, parse_uscc, region_get
from zhengwu.identifiers.uscc import AUTHORITIES
from zhengwu.registries.models import ENTITY_FIELDS, ENTITY_STATUSES, PERSON_FIELDS
from zhengwu.synthetic.names import ETHNICITIES

Problem = tuple[str, str]
_ID_RE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_ID_OFFSET: Final = 48 * sum(_ID_WEIGHTS)
MIN_BIRTH_YEAR: Final = 1880
#: Excel counts days from 1899-12-30 (the 1900 leap-year bug included).
_EXCEL_EPOCH: Final = dt.date(1899, 12, 30)
_DATE_RE: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?"
)
_PHONE_RE: Final = re.compile(r"\+?[0-9][0-9\-]{4,19}")
ETHNICITY_CODES: Final = {code: name for code, name, _ in ETHNICITIES} | {
    "97": "其他",
    "98": "外国血统中国籍人士",
}
_ETHNICITY_BY_NAME: Final = {name: code for code, name in ETHNICITY_CODES.items()}
_SEXES: Final = {"M": "M", "F": "F", "男": "M", "女": "F", "1": "M", "2": "F"}
_PERSON_STATUSES: Final = {
    "living": "living",
    "在世": "living",
    "正常": "living",
    "deceased": "deceased",
    "死亡": "deceased",
    "emigrated": "emigrated",
    "迁出": "emigrated",
    "迁出境外": "emigrated",
}
_ENTITY_STATUSES: Final = {s: s for s in ENTITY_STATUSES} | {"在业": "存续", "开业": "存续"}


def clean(value: Any) -> Any:
    """Strip text, fold full-width characters (NFKC), turn empty text into None; other types pass."""
    if isinstance(value, str):
        if not value.isascii():
            value = unicodedata.normalize("NFKC", value)
        value = value.strip()
        return value or None
    return value


@lru_cache(maxsize=65_536)
def _date_from_text(text: str) -> dt.date | None:
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    match = _DATE_RE.fullmatch(text)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_date(value: Any) -> dt.date | str:
    """A date from ISO text, 2024/3/1, 2024年3月1日, 20240301, an Excel serial or a date; or the reason."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A number in a date column is an Excel serial day when the cell lost its date format.
        if 1 <= value < 2_958_466 and float(value).is_integer():
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        return f"“{value}”不是有效日期"
    text = str(value)
    parsed = _date_from_text(text)
    if parsed is None:
        return f"“{text}”不是有效日期（应为 YYYY-MM-DD）"
    return parsed


@lru_cache(maxsize=8192)
def region_known(code: str) -> bool:
    """True when ``code`` is a GB/T 2260 code, current or historical."""
    return len(code) == 6 and code.isdigit() and region_get(code) is not None


@lru_cache(maxsize=65_536)
def _birth(text: str) -> dt.date | None:
    try:
        born = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
    return born if born.year >= MIN_BIRTH_YEAR else None


def check_resident_id(value: Any, today: dt.date) -> tuple[str, dt.date, str] | str:
    """``(id, birth date, sex)`` of a valid resident ID, or the kernel's reason why it is invalid."""
    if isinstance(value, str) and _ID_RE.fullmatch(value):
        born = _birth(value[6:14])
        if born is not None and born <= today and region_known(value[:6]):
            # ASCII codes minus 48 are the digits: subtract the constant once instead of per digit.
            total = sum(map(mul, value.encode()[:17], _ID_WEIGHTS)) - _ID_OFFSET
            if _ID_CHECK[total % 11] == value[17]:
                return value, born, "M" if int(value[16]) % 2 else "F"
    try:
        parsed = parse_resident_id(value if isinstance(value, str) else str(value), today=today)
    except InvalidIdentifier as exc:
        return exc.message
    return parsed.value, parsed.birth_date, "M" if parsed.sex == "male" else "F"


def row_hash(values: Sequence[Any]) -> str:
    """A short digest of the canonical values: equal hashes mean an unchanged record."""
    text = "\x1f".join(["\x00" if v is None else str(v) for v in values])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Spec:
    """The columns of one registry's deliveries and the validator of its rows."""

    key: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    staged: tuple[str, ...]  # canonical columns, key first, in staging-table order
    aliases: dict[str, str]
    validate: Callable[[dict[str, Any], dt.date], tuple[Any, ...] | list[Problem]]

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.required + self.optional


def _text(
    row: dict[str, Any], column: str, problems: list[Problem], *, required: bool, limit: int
) -> str | None:
    value = row.get(column)
    if value is None:
        if required:
            problems.append((column, "必填项为空"))
        return None
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        problems.append((column, f"长度 {len(text)} 超过上限 {limit}"))
    return text


def _date(
    row: dict[str, Any], column: str, problems: list[Problem], today: dt.date, *, required: bool
) -> dt.date | None:
    value = row.get(column)
    if value is None:
        if required:
            problems.append((column, "必填项为空"))
        return None
    parsed = parse_date(value)
    if isinstance(parsed, str):
        problems.append((column, parsed))
        return None
    if parsed > today:
        problems.append((column, f"日期 {parsed.isoformat()} 晚于今天"))
    return parsed


def _region(row: dict[str, Any], column: str, problems: list[Problem], *, required: bool) -> str | None:
    value = row.get(column)
    if value is None:
        if required:
            problems.append((column, "必填项为空"))
        return None
    code = str(value)
    if not region_known(code):
        problems.append((column, f"“{code}”不是有效的行政区划代码（GB/T 2260）"))
    return code


def validate_person(row: dict[str, Any], today: dt.date) -> tuple[Any, ...] | list[Problem]:
    """Validate one delivered person; see :data:`PERSON_SPEC` for the columns."""
    problems: list[Problem] = []
    checked = check_resident_id(row.get("resident_id"), today) if row.get("resident_id") else "必填项为空"
    if isinstance(checked, str):
        problems.append(("resident_id", checked))
        resident_id, id_birth, id_sex = None, None, None
    else:
        resident_id, id_birth, id_sex = checked
    name = _text(row, "name", problems, required=True, limit=100)
    raw_sex = row.get("sex")
    sex = _SEXES.get(str(raw_sex)) if raw_sex is not None else id_sex
    if sex is None:
        problems.append(("sex", f"性别“{raw_sex}”无效，应为 M/F（男/女）"))
    elif id_sex is not None and sex != id_sex:
        problems.append(("sex", "性别与公民身份号码第17位不符"))
    birth = _date(row, "birth_date", problems, today, required=True)
    if birth is not None and id_birth is not None and birth != id_birth:
        problems.append(
            ("birth_date", f"出生日期 {birth.isoformat()} 与公民身份号码中的 {id_birth.isoformat()} 不符")
        )
    raw_eth = row.get("ethnicity")
    ethnicity = None
    if raw_eth is None:
        problems.append(("ethnicity", "必填项为空"))
    else:
        eth = str(raw_eth)
        eth = eth.zfill(2) if eth.isdigit() else _ETHNICITY_BY_NAME.get(eth, eth)
        if eth not in ETHNICITY_CODES:
            problems.append(("ethnicity", f"民族“{raw_eth}”不是 GB/T 3304 代码"))
        ethnicity = eth
    nationality = str(row.get("nationality") or "CHN").upper()
    if len(nationality) != 3 or not nationality.isalpha():
        problems.append(("nationality", f"国籍“{nationality}”应为 GB/T 2659 三位字母代码，如 CHN"))
    household_region = _region(row, "household_region_code", problems, required=True)
    household_address = _text(row, "household_address", problems, required=True, limit=300)
    current_region = _region(row, "current_region_code", problems, required=False)
    current_address = _text(row, "current_address", problems, required=False, limit=300)
    phone = row.get("phone")
    if phone is not None:
        phone = str(phone)
        if not _PHONE_RE.fullmatch(phone):
            problems.append(("phone", "电话号码格式无效"))
    raw_status = row.get("status")
    status = _PERSON_STATUSES.get(str(raw_status)) if raw_status is not None else None
    if status is None:
        problems.append(("status", f"状态“{raw_status}”无效，应为 living / deceased / emigrated"))
    date_column = "status_date" if row.get("status_date") is not None else "death_date"
    status_date = _date(row, date_column, problems, today, required=False)
    if (
        status in ("deceased", "emigrated")
        and status_date is None
        and not any(c == date_column for c, _ in problems)
    ):
        problems.append((date_column, "死亡或迁出的人员必须有状态日期"))
    if status == "living" and status_date is not None:
        problems.append((date_column, "在世人员不应有死亡或迁出日期"))
    if status_date is not None and birth is not None and status_date < birth:
        problems.append((date_column, "状态日期早于出生日期"))
    former = _text(row, "former_names", problems, required=False, limit=500)
    if problems:
        return problems
    values = (
        resident_id,
        name,
        former,
        sex,
        birth,
        ethnicity,
        nationality,
        household_region,
        household_address,
        current_region,
        current_address,
        phone,
        status,
        status_date,
    )
    return values


def _capital(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "注册资本应为数字"
    if isinstance(value, int):
        amount: float = value
    elif isinstance(value, float):
        amount = value
    else:
        text = str(value).replace(",", "").replace("元", "")
        scale = 10_000 if text.endswith("万") else 1
        try:
            amount = float(text.rstrip("万")) * scale
        except ValueError:
            return f"注册资本“{value}”不是数字"
    if amount < 0 or amount != amount or amount > 1e17:
        return f"注册资本“{value}”超出合理范围"
    return round(amount)


def validate_entity(row: dict[str, Any], today: dt.date) -> tuple[Any, ...] | list[Problem]:
    """Validate one delivered legal entity; see :data:`ENTITY_SPEC` for the columns."""
    problems: list[Problem] = []
    uscc = type_name = authority = org = None
    raw = row.get("uscc")
    if raw is None:
        problems.append(("uscc", "必填项为空"))
    else:
        try:
            parsed = parse_uscc(str(raw))
        except InvalidIdentifier as exc:
            problems.append(("uscc", exc.message))
        else:
            uscc, authority, org = parsed.value, parsed.registration_authority_code, parsed.org_code
            type_name = AUTHORITIES.get(authority, ("", {}))[1].get(parsed.entity_type_code, "其他")
    name = _text(row, "name", problems, required=True, limit=200)
    given_type = row.get("entity_type")
    if given_type is not None and type_name is not None and str(given_type) != type_name:
        problems.append(
            ("entity_type", f"单位类型“{given_type}”与统一社会信用代码第2位所示的“{type_name}”不符")
        )
    given_auth = row.get("registration_authority_code")
    if given_auth is not None and authority is not None and str(given_auth) != authority:
        problems.append(
            ("registration_authority_code", f"登记管理部门代码应为“{authority}”（统一社会信用代码第1位）")
        )
    given_org = row.get("org_code")
    if given_org is not None and org is not None and str(given_org).replace("-", "") != org:
        problems.append(("org_code", "组织机构代码与统一社会信用代码第9–17位不符"))
    representative = None
    raw_rep = row.get("legal_representative_id")
    if raw_rep is None:
        problems.append(("legal_representative_id", "必填项为空"))
    else:
        checked = check_resident_id(raw_rep if isinstance(raw_rep, str) else str(raw_rep), today)
        if isinstance(checked, str):
            problems.append(("legal_representative_id", checked))
        else:
            representative = checked[0]
    capital = _capital(row.get("registered_capital"))
    if isinstance(capital, str):
        problems.append(("registered_capital", capital))
        capital = None
    currency = row.get("currency")
    currency = str(currency).upper() if currency is not None else ("CNY" if capital is not None else None)
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        problems.append(("currency", f"币种“{currency}”应为 ISO 4217 三位字母代码"))
    established = _date(row, "established_date", problems, today, required=True)
    scope = _text(row, "business_scope", problems, required=False, limit=4000)
    region = _region(row, "region_code", problems, required=True)
    address = _text(row, "address", problems, required=True, limit=300)
    raw_status = row.get("status")
    status = _ENTITY_STATUSES.get(str(raw_status)) if raw_status is not None else None
    if status is None:
        problems.append(("status", f"登记状态“{raw_status}”无效，应为 存续（在业）、吊销、注销 或 迁出"))
    status_date = _date(row, "status_date", problems, today, required=False)
    if (
        status is not None
        and status != "存续"
        and status_date is None
        and not any(c == "status_date" for c, _ in problems)
    ):
        problems.append(("status_date", f"状态为“{status}”时必须填写状态日期"))
    if status_date is not None and established is not None and status_date < established:
        problems.append(("status_date", "状态日期早于成立日期"))
    registrar = _text(row, "registration_authority", problems, required=False, limit=200)
    former = _text(row, "former_names", problems, required=False, limit=1000)
    if problems:
        return problems
    values = (
        uscc,
        name,
        former,
        type_name,
        authority,
        registrar,
        org,
        representative,
        capital,
        currency,
        established,
        scope,
        region,
        address,
        status,
        status_date,
    )
    return values


PERSON_SPEC: Final = Spec(
    key="resident_id",
    required=(
        "resident_id",
        "name",
        "sex",
        "birth_date",
        "ethnicity",
        "household_region_code",
        "household_address",
        "status",
    ),
    optional=(
        "former_names",
        "nationality",
        "current_region_code",
        "current_address",
        "phone",
        "status_date",
        "death_date",
    ),
    staged=("resident_id", *PERSON_FIELDS),
    aliases={
        "公民身份号码": "resident_id",
        "身份证号": "resident_id",
        "姓名": "name",
        "曾用名": "former_names",
        "性别": "sex",
        "出生日期": "birth_date",
        "民族": "ethnicity",
        "国籍": "nationality",
        "户籍地区划代码": "household_region_code",
        "户籍地址": "household_address",
        "现住地区划代码": "current_region_code",
        "现住址": "current_address",
        "联系电话": "phone",
        "状态": "status",
        "状态日期": "status_date",
        "死亡日期": "death_date",
    },
    validate=validate_person,
)

ENTITY_SPEC: Final = Spec(
    key="uscc",
    required=(
        "uscc",
        "name",
        "legal_representative_id",
        "established_date",
        "region_code",
        "address",
        "status",
    ),
    optional=(
        "former_names",
        "entity_type",
        "registration_authority_code",
        "registration_authority",
        "org_code",
        "registered_capital",
        "currency",
        "business_scope",
        "status_date",
    ),
    staged=("uscc", *ENTITY_FIELDS),
    aliases={
        "统一社会信用代码": "uscc",
        "名称": "name",
        "单位名称": "name",
        "曾用名": "former_names",
        "单位类型": "entity_type",
        "登记管理部门代码": "registration_authority_code",
        "登记机关": "registration_authority",
        "组织机构代码": "org_code",
        "法定代表人公民身份号码": "legal_representative_id",
        "注册资本": "registered_capital",
        "币种": "currency",
        "成立日期": "established_date",
        "经营范围": "business_scope",
        "住所区划代码": "region_code",
        "住所": "address",
        "登记状态": "status",
        "状态日期": "status_date",
    },
    validate=validate_entity,
)
