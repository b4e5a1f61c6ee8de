"""Identifiers of the base registries: parse, validate, decode, mask.

* 公民身份号码 (GB 11643) — :func:`parse_resident_id`, :func:`validate_resident_id`,
  :func:`resident_id_15_to_18`, :func:`resident_id_check_digit`
* 统一社会信用代码 (GB 32100) — :func:`parse_uscc`, :func:`validate_uscc`, :func:`uscc_check_char`
* 组织机构代码 (GB 11714) — :func:`parse_org_code`, :func:`validate_org_code`, :func:`org_code_check_digit`
* 行政区划代码 (GB/T 2260), current and historical — :func:`region_lookup`, :func:`region_get`,
  :func:`regions_all`, :func:`counties`, :func:`region_path`
* masking for display — :func:`mask_resident_id`, :func:`mask_phone`, :func:`mask_name`
* :func:`recognise` — which kind is this value, is it valid, what does it say

Every malformed input raises :class:`InvalidIdentifier` (a :class:`zhengwu.errors.ValidationError`)
with a stable ``code`` such as ``resident_id.check_digit`` and messages in Chinese and English.
By default input is normalised (surrounding whitespace, full-width characters, a lower-case ``x``);
pass ``strict=True`` to reject anything that is not already canonical.
"""

from zhengwu.identifiers.errors import InvalidIdentifier
from zhengwu.identifiers.masking import mask_name, mask_phone, mask_resident_id
from zhengwu.identifiers.org_code import OrgCode, org_code_check_digit, parse_org_code, validate_org_code
from zhengwu.identifiers.recognise import recognise
from zhengwu.identifiers.regions import Region, counties, region_get, region_lookup, region_path, regions_all
from zhengwu.identifiers.resident_id import (
    ResidentId,
    parse_resident_id,
    resident_id_15_to_18,
    resident_id_check_digit,
    validate_resident_id,
)
from zhengwu.identifiers.uscc import Uscc, parse_uscc, uscc_check_char, validate_uscc

__all__ = [
    "InvalidIdentifier",
    "OrgCode",
    "Region",
    "ResidentId",
    "Uscc",
    "counties",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "org_code_check_digit",
    "parse_org_code",
    "parse_resident_id",
    "parse_uscc",
    "recognise",
    "region_get",
    "region_lookup",
    "region_path",
    "regions_all",
    "resident_id_15_to_18",
    "resident_id_check_digit",
    "uscc_check_char",
    "validate_org_code",
    "validate_resident_id",
    "validate_uscc",
]
