"""The credit report (信用报告) of one legal entity: a JSON document signed with SM2 by the platform key.

Format
------
The report is a JSON object (``format`` = :data:`REPORT_FORMAT`) with the entity as the legal entity
registry holds it, its *published* 双公示 records, the lists it is on with the measures attached, and
a summary. It carries no personal data beyond what is published (the legal representative's name is
masked). The **signed bytes** are the canonical JSON of the report: UTF-8, keys sorted, no spaces
(:func:`canonical_bytes`); the signature is **detached**: the envelope the API returns is

    {"report": {...}, "signature": {"algorithm": "SM2-SM3", "value": "<hex DER>",
     "key_fingerprint": "<hex SM3 of the public point>", "public_pem": "..."}}

so the report can be stored or printed alone and still be verified with the signature. Anyone can
verify offline with ``zhengwu credit report-verify FILE`` (and ``--public-key`` to pin the platform key
instead of trusting the one in the envelope); changing any byte of the report breaks the signature.

The platform key is an SM2 key pair kept at ``<data_dir>/keys/platform-sm2.pem`` (created on first use,
mode 0600). A PDF rendering is not produced: no PDF library with CJK font support is installed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.audit.services import audit_record
from zhengwu.crypto import (
    CryptoError,
    sm2_generate_keypair,
    sm2_key_to_hex,
    sm2_public_key_from_private,
    sm2_sign,
    sm2_verify,
    sm3_hash,
)
from zhengwu.db import utcnow
from zhengwu.errors import NotFound
from zhengwu.identifiers import mask_name, validate_uscc
from zhengwu.registries.credit.lists import list_catalog
from zhengwu.registries.credit.models import CreditListEntry, CreditRecord
from zhengwu.registries.credit.services import (
    department_names,
    entry_in_force,
    lists_by_id,
    record_published,
    today_cn,
)
from zhengwu.registries.models import Entity, Person

REPORT_FORMAT: Final = "zhengwu-credit-report/1"
ALGORITHM: Final = "SM2-SM3"
KEY_FILE: Final = Path("keys") / "platform-sm2.pem"


def platform_key(data_dir: Path) -> bytes:
    """The platform's SM2 private key (PEM), created at ``<data_dir>/keys/platform-sm2.pem`` if missing."""
    path = data_dir / KEY_FILE
    if path.is_file():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    private_pem, _ = sm2_generate_keypair()
    # O_EXCL: two workers starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    return private_pem


def key_fingerprint(public_pem: bytes) -> str:
    """SM3 of the public key point (x||y), hex: names a key independently of its PEM layout."""
    return sm3_hash(bytes.fromhex(sm2_key_to_hex(public_pem))).hex()


def canonical_bytes(report: dict[str, Any]) -> bytes:
    """The exact bytes a report signature covers."""
    return json.dumps(report, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value


def credit_report_build(db: Session, *, actor: Actor, uscc: str) -> dict[str, Any]:
    """The (unsigned) credit report of the entity ``uscc``: published facts only. Any signed-in caller."""
    require_authenticated(actor)
    key = validate_uscc(uscc)
    entity = db.get(Entity, key)
    if entity is None:
        raise NotFound(
            "法人单位基础库中没有该统一社会信用代码",
            message_en="no such entity in the registry",
            code="credit.report.not_found",
            field="uscc",
        )
    day = today_cn()
    records = [
        r
        for r in db.scalars(select(CreditRecord).where(CreditRecord.subject_id == key))
        if record_published(r, day)
    ]
    entries = [
        e
        for e in db.scalars(select(CreditListEntry).where(CreditListEntry.subject_id == key))
        if entry_in_force(e, day)
    ]
    names = department_names(db, (r.issuing_department for r in records))
    lists = lists_by_id(db, (e.list_id for e in entries))
    measures = {
        c.code: c.measures
        for c in list_catalog(db, actor=actor)
        if c.code in {x.code for x in lists.values()}
    }
    representative = db.get(Person, entity.legal_representative_id)
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "as_of_date": day.isoformat(),
        "subject": {
            "uscc": entity.uscc,
            "name": entity.name,
            "entity_type": entity.entity_type,
            "status": entity.status,
            "established_date": _iso(entity.established_date),
            "region_code": entity.region_code,
            "address": entity.address,
            "legal_representative": mask_name(representative.name) if representative else None,
        },
        "records": [
            {
                "kind": r.kind,
                "decision_number": r.decision_number,
                "issuing_department": r.issuing_department,
                "issuing_department_name": names.get(r.issuing_department),
                "category": r.category,
                "content": r.content,
                "basis": r.basis,
                "amount_yuan": r.amount_yuan,
                "decision_date": _iso(r.decision_date),
                "validity_from": _iso(r.validity_from),
                "validity_to": _iso(r.validity_to),
                "publication_to": _iso(r.publication_to),
            }
            for r in sorted(records, key=lambda r: (r.decision_date, r.id), reverse=True)
        ],
        "lists": [
            {
                "list_code": lists[e.list_id].code,
                "list_name": lists[e.list_id].name,
                "list_type": lists[e.list_id].list_type,
                "issuing_department": lists[e.list_id].issuing_department,
                "decision_number": e.decision_number,
                "reason": e.reason,
                "basis": e.basis,
                "period_from": _iso(e.period_from),
                "period_to": _iso(e.period_to),
                "measures": [m.model_dump(mode="json") for m in measures.get(lists[e.list_id].code, [])],
            }
            for e in sorted(entries, key=lambda e: (e.period_from, e.id), reverse=True)
        ],
    }
    report["summary"] = {
        "licensing": sum(1 for r in records if r.kind == "licensing"),
        "penalty": sum(1 for r in records if r.kind == "penalty"),
        "red_lists": sum(1 for e in entries if lists[e.list_id].list_type == "red"),
        "black_lists": sum(1 for e in entries if lists[e.list_id].list_type == "black"),
    }
    audit_record(db, actor=actor, action="credit.report", target_type="credit_subject", target_id=key)
    return report


def credit_report_sign(report: dict[str, Any], private_pem: bytes) -> dict[str, Any]:
    """The envelope: the report and its detached SM2 signature with the key's fingerprint."""
    public_pem = sm2_public_key_from_private(private_pem)
    return {
        "report": report,
        "signature": {
            "algorithm": ALGORITHM,
            "value": sm2_sign(private_pem, canonical_bytes(report)).hex(),
            "key_fingerprint": key_fingerprint(public_pem),
            "public_pem": public_pem.decode("ascii"),
        },
    }


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying a report: valid or not, which key, and why not."""

    valid: bool
    key_fingerprint: str | None
    reason: str


def credit_report_verify(
    report: dict[str, Any] | bytes, signature: dict[str, Any], *, public_pem: bytes | None = None
) -> Verification:
    """Verify a report (object or its exact canonical bytes) against a detached signature.

    With ``public_pem`` the signature must be by that key (pinning); otherwise the envelope's key is
    used and its fingerprint reported, to be compared with the platform's published fingerprint.
    """
    data = report if isinstance(report, bytes) else canonical_bytes(report)
    if signature.get("algorithm") != ALGORITHM:
        return Verification(False, None, f"unsupported algorithm {signature.get('algorithm')!r}")
    key = public_pem or str(signature.get("public_pem") or "").encode("ascii")
    try:
        fingerprint = key_fingerprint(key)
        value = bytes.fromhex(str(signature.get("value") or ""))
        if fingerprint != signature.get("key_fingerprint"):
            return Verification(False, fingerprint, "the signature names another key")
        ok = sm2_verify(key, data, value)
    except (CryptoError, ValueError) as exc:
        return Verification(False, None, f"malformed signature or key: {exc}")
    return Verification(ok, fingerprint, "valid" if ok else "the signature does not match the report")
