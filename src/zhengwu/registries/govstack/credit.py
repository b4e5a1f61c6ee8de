"""The social credit registry through the GovStack data API: ``/data/credit/1.0``, read-only.

What is served is the **published** registry, whoever asks (staff included), by the rules of
:mod:`zhengwu.registries.credit.services`: 双公示 records whose status is ``active`` and whose
publication period covers the day, list entries in force; repaired or revoked items have left
publication and are not served, and repair decisions are not either. The full registry (statuses,
repairs, "as of") stays on the credit registry's own API and pages.

* list: 双公示 records as :func:`~zhengwu.registries.credit.services.record_search` finds them (published
  only, persons never by name). ``search`` (or ``query.ID`` / ``query.subject_id``) is a resident ID
  or USCC (an invalid one answers 400 with the reason), or the beginning of an entity's name
  (``query.subject_name``); ``query.kind`` is ``licensing`` or ``penalty``. A search is needed, as on
  the registry's own search. Newest decision first (``ordering`` may say ``descending`` or
  ``-decision_date``). A result's ``ID`` is the subject's key (masked for persons unless the caller
  sees personal data in clear), the one ``read`` takes; the record's own number is ``id``.
* ``exists`` / ``read``: by subject, ``{"ID": <USCC or resident ID>}`` (``subject_id`` is the same;
  no other field: querying by other fields would let a caller probe what it may not see). ``read``
  answers the subject's published profile as
  :func:`~zhengwu.registries.credit.services.subject_credit` gives it, each list entry with the joint
  measures of its list (``measures``), masked by default. A subject neither base registry holds and with
  nothing published is unknown: ``read`` answers 404 ``no record found``, ``exists`` false. An invalid
  USCC or resident ID answers 400 with the reason (code ``credit.subject.invalid``).
* writes answer 403 ``govstack.read_only`` (see :mod:`.services`).

Who may call: the registries' read roles (``READ_ROLES``), checked first, as for the population and the
entities: this API is for other systems, and the credit check, the system-to-system use of the credit
registry, is for those roles too. Every read is in the audit trail with the calling system and the
purpose; reads of a person's credit data (profile, ``exists``, search by the person's ID) are what
``MyPersonalDataUsage`` answers with ``DatabaseID=credit``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.errors import NotFound, ValidationError
from zhengwu.registries.credit.lists import list_measures
from zhengwu.registries.credit.models import (
    CreditList,
    CreditListEntry,
    CreditRecord,
    RecordKind,
    Status,
    SubjectType,
)
from zhengwu.registries.credit.services import record_search, subject_credit, subject_key, today_cn
from zhengwu.registries.govstack.services import Caller, filters_check, not_found, query_id
from zhengwu.registries.models import Entity, Person
from zhengwu.registries.services import READ_ROLES

#: The fields ``exists`` and ``read`` may be asked by.
QUERY_FIELDS: Final = {"ID", "subject_id"}
#: The fields a list may filter by.
FILTER_FIELDS: Final = {"ID", "subject_id", "subject_name", "kind"}
ORDERINGS: Final = (None, "", "descending", "-decision_date")
# 18 letters and digits: meant as a USCC or resident ID (entity names are Chinese), so checked as one.
_CODE_LIKE: Final = re.compile(r"[0-9A-Za-z]{18}")


def _subject_of(query: dict[str, Any]) -> str:
    key = query_id(
        query,
        allowed=QUERY_FIELDS,
        key_field="subject_id",
        zh="信用信息库只能按主体标识（ID，统一社会信用代码或公民身份号码）查询：",
        en="query the credit registry by ID (USCC or resident ID) only, not: ",
        id_hint_zh="（统一社会信用代码或公民身份号码）",
        id_hint_en=" (USCC or resident ID)",
    )
    return subject_key(key).subject_id


def credit_read(db: Session, *, actor: Actor, query: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """``read``: the subject's published credit profile, entries with their measures; 404 when unknown."""
    require_roles(actor, *READ_ROLES)
    key = _subject_of(query)
    try:
        profile = subject_credit(db, actor=actor, subject_id=key, public_view=True, context=caller.context())
    except NotFound:
        raise not_found() from None
    out = profile.model_dump(mode="json")
    codes = {e.list_code for e in profile.entries}
    lists = list(db.scalars(select(CreditList).where(CreditList.code.in_(codes)))) if codes else []
    measures = list_measures(db, lists)
    by_code = {c.code: [m.model_dump(mode="json") for m in measures.get(c.id, [])] for c in lists}
    for entry in out["entries"]:
        entry["measures"] = by_code.get(entry["list_code"], [])
    return {"ID": profile.subject_id, **out}


def credit_exists(db: Session, *, actor: Actor, query: dict[str, Any], caller: Caller) -> bool:
    """``exists``: does ``read`` find this subject (registered, or with something published)?"""
    require_roles(actor, *READ_ROLES)
    subject = subject_key(_subject_of(query))
    key = subject.subject_id
    model: type[Person] | type[Entity] = Person if subject.subject_type is SubjectType.PERSON else Entity
    found = db.get(model, key) is not None
    if not found:
        day = today_cn()
        found = (
            db.scalar(
                select(CreditRecord.id)
                .where(
                    CreditRecord.subject_id == key,
                    CreditRecord.status == Status.ACTIVE.value,
                    CreditRecord.decision_date <= day,
                    or_(CreditRecord.publication_to.is_(None), CreditRecord.publication_to >= day),
                )
                .limit(1)
            )
            is not None
            or db.scalar(
                select(CreditListEntry.id)
                .where(
                    CreditListEntry.subject_id == key,
                    CreditListEntry.status == Status.ACTIVE.value,
                    CreditListEntry.period_from <= day,
                    or_(CreditListEntry.period_to.is_(None), CreditListEntry.period_to >= day),
                )
                .limit(1)
            )
            is not None
        )
    audit_record(
        db,
        actor=actor,
        action="credit.subject.exists",
        target_type="credit_subject",
        target_id=key,
        details={"match": found, **caller.context()},
    )
    return found


def credit_list(
    db: Session,
    *,
    actor: Actor,
    search: str | None,
    filters: dict[str, str],
    ordering: str | None,
    page: int,
    page_size: int,
    caller: Caller,
) -> tuple[int, list[dict[str, Any]], int, int]:
    """The list call over the published 双公示 records. Returns ``(count, results, page, page_size)``."""
    require_roles(actor, *READ_ROLES)
    filters_check(filters, FILTER_FIELDS)
    if ordering not in ORDERINGS:
        raise ValidationError(
            "排序只支持按决定日期降序（descending）",
            message_en="ordering: only descending by decision date is supported",
            code="govstack.ordering",
            field="ordering",
        )
    kind = filters.get("kind")
    if kind is not None and kind not in {k.value for k in RecordKind}:
        raise ValidationError(
            f"记录类别“{kind}”无效，应为 licensing（行政许可）或 penalty（行政处罚）",
            message_en="kind is licensing or penalty",
            code="govstack.filter.kind",
            field="query.kind",
        )
    key = filters.get("ID") or filters.get("subject_id")
    if not key and search and _CODE_LIKE.fullmatch(search.strip()):
        key = search
    # An ID filter must be a valid code (400 with the reason), not fall back to a name prefix.
    q = subject_key(key).subject_id if key else filters.get("subject_name") or search
    found = record_search(
        db,
        actor=actor,
        q=q,
        kind=kind or None,
        page=page,
        per_page=page_size,
        public_view=True,
        context=caller.context(),
    )
    results = [{"ID": item["subject_id"], **item} for item in found.items]
    return found.total, results, found.page, found.per_page
