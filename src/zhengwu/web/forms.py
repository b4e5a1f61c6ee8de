"""Form helpers shared by every domain's pages."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from zhengwu.errors import ValidationError

M = TypeVar("M", bound=BaseModel)


def validate_form(model: type[M], data: dict[str, object]) -> M:
    """Validate form data with a schema; pydantic's first error becomes ours, naming the field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ValidationError(
            f"字段 {field} 无效：{err['msg']}",
            message_en=f"invalid {field}: {err['msg']}",
            field=field,
            errors=[{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()],
        ) from exc


def optional_int(value: str | None) -> int | None:
    """A form field that holds an id or nothing."""
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
