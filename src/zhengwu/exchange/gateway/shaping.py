"""Shaping a provider's JSON answer to a grant: keep only granted data elements, mask sensitive ones.

A *record* is a JSON object with at least one key that is a data element of the resource; from a
record only the granted elements are kept (every other key goes, element or not: an unknown key could
carry anything). An object with no element key is an *envelope* (``{"items": [...], "total": 3}``,
``{"data": {...}}``): its values are shaped in turn, its own scalar keys (paging, counts) kept. Lists
are shaped item by item. So front-node pages and plain single records both come out right.

Masking uses :mod:`zhengwu.identifiers.masking`; which helper applies is decided by the element's
English name (``*resident_id*``/``*id_card*``/``*id_number*`` → resident ID, ``*phone*``/``*mobile*``/
``*tel*`` → phone, ``*name*`` → name); anything else sensitive is replaced by ``*`` of the same length.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from zhengwu.identifiers import mask_name, mask_phone, mask_resident_id

#: Nesting deeper than this is refused rather than walked (a hostile upstream could send 10^5 levels).
MAX_DEPTH = 64


class ShapeError(Exception):
    """The answer cannot be shaped safely (too deep)."""


def mask_value(element: str, value: Any) -> Any:
    """The masked form of ``value`` of the element named ``element``; None and booleans stay as they are."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [mask_value(element, v) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(element, v) for k, v in value.items()}
    name = element.lower()
    if "resident_id" in name or "id_card" in name or "id_number" in name:
        return mask_resident_id(value)
    if "phone" in name or "mobile" in name or "tel" in name:
        return mask_phone(value)
    if "name" in name and isinstance(value, str):
        return mask_name(value)
    text = str(value)
    return "*" * len(text)


def shape(
    data: Any,
    *,
    known: Collection[str],
    granted: Collection[str],
    masked: Collection[str],
    depth: int = 0,
) -> Any:
    """``data`` with only ``granted`` elements in each record and ``masked`` elements masked.

    ``known`` are all data elements of the resource (what makes an object a record).
    """
    if depth > MAX_DEPTH:
        raise ShapeError("JSON nested too deeply")
    if isinstance(data, list):
        return [shape(v, known=known, granted=granted, masked=masked, depth=depth + 1) for v in data]
    if not isinstance(data, dict):
        return data
    if any(k in known for k in data):
        return {k: (mask_value(k, v) if k in masked else v) for k, v in data.items() if k in granted}
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict | list):
            out[k] = shape(v, known=known, granted=granted, masked=masked, depth=depth + 1)
        else:
            out[k] = v
    return out
