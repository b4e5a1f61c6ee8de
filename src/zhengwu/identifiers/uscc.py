"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Eighteen characters from the 31 symbols ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, Z, S, V):

====== ==========================================================
1      registration authority (登记管理部门), e.g. 9 = 工商 (market regulation)
2      entity type (机构类别) within that authority, e.g. 1 = 企业
3-8    region code of the registering authority (GB/T 2260; 100000 = national level)
9-17   organisation code (GB 11714), with its own check character at position 17
18     check character, mod 31 over the 31-symbol alphabet
====== ==========================================================

python-stdnum's ``cn.uscc`` checks only the charset and position 18; this module also checks the
authority/type pair and the embedded organisation code, and decodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zhengwu.identifiers._text import normalise
from zhengwu.identifiers.errors import InvalidIdentifier, combine, invalid, show_en, show_zh
from zhengwu.identifiers.org_code import org_code_check_digit
from zhengwu.identifiers.regions import NATIONAL_CODE, Region, region_get, region_path

KIND: Final = "uscc"
ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES: Final[dict[str, int]] = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, ...

#: GB 32100-2015 Appendix A: registration authority -> (name, {entity type -> name}).
AUTHORITIES: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}

#: English glosses for logs and API consumers who do not read Chinese.
AUTHORITIES_EN: Final[dict[str, str]] = {
    "1": "institutional establishment",
    "2": "foreign affairs",
    "3": "justice",
    "4": "culture",
    "5": "civil affairs",
    "6": "tourism",
    "7": "religious affairs",
    "8": "trade unions",
    "9": "market regulation (industry and commerce)",
    "A": "Central Military Commission establishment office",
    "N": "agriculture",
    "Y": "other",
}


@dataclass(frozen=True, slots=True)
class Uscc:
    """A valid unified social credit code, decoded."""

    value: str
    registration_authority: str
    entity_type: str
    region: Region | None
    org_code: str
    check_char: str

    @property
    def registration_authority_code(self) -> str:
        """Position 1."""
        return self.value[0]

    @property
    def entity_type_code(self) -> str:
        """Position 2."""
        return self.value[1]

    @property
    def region_code(self) -> str:
        """Positions 3-8; ``100000`` for registrants at national level."""
        return self.value[2:8]

    @property
    def org_code_formatted(self) -> str:
        """Positions 9-17 in certificate form ``XXXXXXXX-X``."""
        return f"{self.org_code[:8]}-{self.org_code[8]}"

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for JSON."""
        national = self.region_code == NATIONAL_CODE
        return {
            "value": self.value,
            "kind": KIND,
            "valid": True,
            "registration_authority_code": self.registration_authority_code,
            "registration_authority": self.registration_authority,
            "registration_authority_en": AUTHORITIES_EN[self.registration_authority_code],
            "entity_type_code": self.entity_type_code,
            "entity_type": self.entity_type,
            "region_code": self.region_code,
            "region_name": "全国（中央）" if national else self.region.name if self.region else None,
            "region_full_name": self.region.full_name if self.region else None,
            "region_path": [r.name for r in region_path(self.region.code)] if self.region else [],
            "org_code": self.org_code,
            "org_code_formatted": self.org_code_formatted,
            "check_char": self.check_char,
        }


def uscc_check_char(body17: str) -> str:
    """Check character (position 18) for the first 17 characters, from the 31-symbol alphabet."""
    try:
        if len(body17) != 17:
            raise KeyError(body17)
        total = sum(_VALUES[c] * w for c, w in zip(body17, WEIGHTS, strict=True))
    except (KeyError, TypeError):
        raise invalid(
            KIND,
            "body",
            f"本体应为17位，字符取自“{ALPHABET}”",
            f"the body must be 17 characters from '{ALPHABET}'",
            actual=body17 if isinstance(body17, str) else type(body17).__name__,
        ) from None
    return ALPHABET[-total % 31]


def _charset_problems(text: str) -> list[InvalidIdentifier]:
    problems = []
    for i, ch in enumerate(text, start=1):
        if 3 <= i <= 8 and not ("0" <= ch <= "9"):
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第{i}位{show_zh(ch)}不是数字（第3–8位为行政区划码）",
                    f"character {show_en(ch)} at position {i} is not a digit"
                    " (positions 3-8 are a region code)",
                    position=i,
                    actual=ch,
                )
            )
        elif ch not in _VALUES:
            excluded = ch in "IOZSV"
            hint = "（不使用 I、O、Z、S、V）" if excluded else "（只用数字和除 I、O、Z、S、V 外的大写字母）"
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第{i}位{show_zh(ch)}不在统一社会信用代码字符集中{hint}",
                    f"character {show_en(ch)} at position {i} is not in the USCC alphabet {ALPHABET}"
                    + (" (I, O, Z, S and V are never used)" if excluded else ""),
                    position=i,
                    actual=ch,
                )
            )
    return problems


def _structure_problems(text: str) -> tuple[str, str, list[InvalidIdentifier]]:
    problems = []
    authority, entity = "", ""
    entry = AUTHORITIES.get(text[0])
    if entry is None:
        problems.append(
            invalid(
                KIND,
                "registration_authority",
                f"第1位登记管理部门代码“{text[0]}”不存在（应为 {'、'.join(AUTHORITIES)} 之一）",
                f"registration authority '{text[0]}' at position 1 does not exist"
                f" (expected one of {', '.join(AUTHORITIES)})",
                position=1,
                actual=text[0],
                expected=list(AUTHORITIES),
            )
        )
    else:
        authority = entry[0]
        types = entry[1]
        if text[1] in types:
            entity = types[text[1]]
        else:
            problems.append(
                invalid(
                    KIND,
                    "entity_type",
                    f"第2位机构类别代码“{text[1]}”在登记管理部门“{authority}”下不存在"
                    f"（应为 {'、'.join(types)} 之一）",
                    f"entity type '{text[1]}' at position 2 does not exist for registration authority"
                    f" '{text[0]}' ({AUTHORITIES_EN[text[0]]}); expected one of {', '.join(types)}",
                    position=2,
                    actual=text[1],
                    expected=list(types),
                )
            )
    return authority, entity, problems


def parse_uscc(value: object, *, strict: bool = False) -> Uscc:
    """Parse and validate a USCC; raise :class:`InvalidIdentifier` on any defect.

    Checks: length, alphabet (digits in 3-8), registration authority and entity type, the check
    character (position 18), then the embedded organisation code's own check (position 17). The
    region code is decoded when known; an unknown one is not an error, because registering
    authorities (development zones, new areas) have used codes that are not in GB/T 2260.
    """
    text = normalise(value, KIND, strict=strict, case="all")
    if len(text) != 18:
        raise invalid(
            KIND,
            "length",
            f"长度应为18位，实际为{len(text)}位",
            f"length must be 18 characters, got {len(text)}",
            expected=18,
            actual=len(text),
        )
    problems = _charset_problems(text)
    if problems:
        raise combine(problems)
    authority, entity, problems = _structure_problems(text)
    expected = uscc_check_char(text[:17])
    if text[17] != expected:
        problems.append(
            invalid(
                KIND,
                "check_char",
                f"第18位校验码应为“{expected}”，实际为“{text[17]}”",
                f"check character at position 18 should be '{expected}', got '{text[17]}'",
                position=18,
                expected=expected,
                actual=text[17],
            )
        )
    org_expected = org_code_check_digit(text[8:16])
    if text[16] != org_expected:
        problems.append(
            invalid(
                KIND,
                "org_code_check",
                f"第9–17位组织机构代码的校验码（第17位）应为“{org_expected}”，实际为“{text[16]}”",
                f"the organisation code in positions 9-17 has check character '{text[16]}' at position 17,"
                f" GB 11714 requires '{org_expected}'",
                position=17,
                expected=org_expected,
                actual=text[16],
            )
        )
    if problems:
        raise combine(problems)
    return Uscc(
        value=text,
        registration_authority=authority,
        entity_type=entity,
        region=region_get(text[2:8]),
        org_code=text[8:17],
        check_char=text[17],
    )


def validate_uscc(value: object, *, strict: bool = False) -> str:
    """Return the normalised 18-character code, or raise :class:`InvalidIdentifier`."""
    return parse_uscc(value, strict=strict).value
