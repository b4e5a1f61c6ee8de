"""The credit API and pages: 400 invalid, 404 unknown, public vs staff, the check, the report, the forms."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import csrf_of, login, make_token, make_user, organ_uscc
from registries.credit.credit_helpers import TODAY, Credit
from zhengwu.accounts.models import Role
from zhengwu.registries.credit.models import CreditListEntry, CreditRecord
from zhengwu.registries.credit.report import credit_report_verify

API = "/api/v1/registries/credit"


def _bearer(credit: Credit, role: Role, department_id: int | None = None) -> dict[str, str]:
    user = make_user(credit.db, roles=[role], department_id=department_id)
    return {"Authorization": f"Bearer {make_token(credit.db, user)}"}


def test_api_search_subject_check_and_report(credit: Credit, client: TestClient) -> None:
    credit.black_list()
    credit.put_on("BLK-1", credit.entities[0])
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    uscc = credit.entities[0].uscc
    found = client.get(f"{API}/records", params={"q": uscc})
    assert found.status_code == 200 and found.json()["total"] == 1
    assert client.get(f"{API}/subjects/{uscc}").json()["entries"][0]["list_code"] == "BLK-1"
    invalid = client.get(f"{API}/subjects/91330100MA2H3K4L5X")
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "credit.subject.invalid"
    assert client.get(f"{API}/subjects/{organ_uscc('330100', 66_666)}").status_code == 404
    body = {"subject_id": uscc, "item_code": "FGW-001"}
    assert client.post(f"{API}/check", json=body).status_code == 401
    staff = _bearer(credit, Role.DEVELOPER, credit.world.department_id)
    check = client.post(f"{API}/check", json=body, headers=staff)
    assert check.status_code == 200 and check.json()["punishment"] is True
    assert len(check.json()["measures"]) == 2
    public = _bearer(credit, Role.PUBLIC_USER)
    assert client.post(f"{API}/check", json=body, headers=public).status_code == 403
    report = client.get(f"{API}/entities/{uscc}/report", headers=public)
    assert report.status_code == 200
    envelope = report.json()
    assert credit_report_verify(envelope["report"], envelope["signature"]).valid
    key = client.get(f"{API}/platform-key").json()
    assert key["key_fingerprint"] == envelope["signature"]["key_fingerprint"]
    assert client.get(f"{API}/entities/91330100MA2H3K4L5X/report", headers=public).status_code == 400
    assert client.get(f"{API}/lists").json()[0]["measures"][1]["items"][0]["code"] == "*"


def test_api_repair_and_list_management(credit: Credit, client: TestClient) -> None:
    credit.black_list()
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    record = credit.db.scalars(select(CreditRecord)).one()
    admin = _bearer(credit, Role.DATA_ADMIN, credit.world.department_id)
    other = _bearer(credit, Role.DATA_ADMIN, credit.other_id)
    repair = {
        "target_type": "record",
        "target_id": record.id,
        "decision_number": "修-1",
        "decision_date": TODAY.isoformat(),
        "rectification": "整改到位",
    }
    assert client.post(f"{API}/repairs", json=repair, headers=other).status_code == 403
    assert (
        client.post(f"{API}/repairs", json={**repair, "target_type": "x"}, headers=admin).status_code == 400
    )
    done = client.post(f"{API}/repairs", json=repair, headers=admin)
    assert done.status_code == 201 and done.json()["decision_number"] == "修-1"
    assert client.post(f"{API}/repairs", json=repair, headers=admin).status_code == 409
    assert client.get(f"{API}/records", params={"q": record.subject_id}).json()["total"] == 0
    history = client.get(f"{API}/records/{record.id}/history", headers=admin).json()
    assert [v["status"] for v in history] == ["repaired", "active"]
    entity = credit.entities[1]
    entry = {
        "decision_number": "认定-9",
        "subject_id": entity.uscc,
        "subject_name": entity.name,
        "reason": "虚假材料",
        "basis": "办法",
        "period_from": (TODAY - dt.timedelta(days=1)).isoformat(),
    }
    assert client.post(f"{API}/lists/BLK-1/entries", json=entry, headers=other).status_code == 403
    added = client.post(f"{API}/lists/BLK-1/entries", json=entry, headers=admin)
    assert added.status_code == 201
    assert client.post(
        f"{API}/lists/BLK-1/entries", json={**entry, "subject_name": "别名"}, headers=admin
    ).status_code in (
        400,
        409,
    )
    listed = client.get(f"{API}/lists/BLK-1/entries", headers=admin).json()
    assert listed["total"] == 1
    removed = client.post(
        f"{API}/entries/{added.json()['id']}/remove", json={"reason": "误列"}, headers=admin
    )
    assert removed.status_code == 200 and removed.json()["status"] == "revoked"


def test_pages_search_subject_lists_check_report_and_forms(credit: Credit, client: TestClient) -> None:
    credit.black_list()
    entry_id = credit.put_on("BLK-1", credit.entities[0])
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    uscc = credit.entities[0].uscc
    assert "双公示记录查询" in client.get("/registries/credit").text
    page = client.get("/registries/credit", params={"q": uscc})
    assert page.status_code == 200 and credit.entities[0].name in page.text
    subject = client.get(f"/registries/credit/subjects/{uscc}")
    assert (
        subject.status_code == 200
        and "严重违法失信主体名单" in subject.text
        and "信用修复记录" not in subject.text
    )
    assert client.get("/registries/credit/subjects/123").status_code == 400
    assert "限制措施0" in client.get("/registries/credit/lists").text
    assert client.get("/registries/credit/check").status_code in (303, 401)
    # The department's own administrator: list management, repair form, check, report.
    user = make_user(credit.db, roles=[Role.DATA_ADMIN], department_id=credit.world.department_id)
    login(client, user.username)
    manage = client.get("/registries/credit/lists/BLK-1")
    assert manage.status_code == 200 and "列入名单" in manage.text
    other = credit.entities[1]
    added = client.post(
        "/registries/credit/lists/BLK-1/entries",
        data={
            "csrf_token": csrf_of(manage.text),
            "decision_number": "认定-2",
            "subject_id": other.uscc,
            "subject_name": other.name,
            "reason": "虚假材料",
            "basis": "办法",
            "period_from": TODAY.isoformat(),
        },
    )
    assert added.status_code == 303
    bad = client.post(
        "/registries/credit/lists/BLK-1/entries",
        data={
            "csrf_token": csrf_of(manage.text),
            "decision_number": "认定-3",
            "subject_id": "123",
            "subject_name": "x",
        },
    )
    assert bad.status_code == 400 and "认定-2" in bad.text
    form = client.get(
        "/registries/credit/repair", params={"target_type": "list_entry", "target_id": entry_id}
    )
    assert form.status_code == 200 and "作出修复决定" in form.text
    repaired = client.post(
        "/registries/credit/repair",
        data={
            "csrf_token": csrf_of(form.text),
            "target_type": "list_entry",
            "target_id": str(entry_id),
            "decision_number": "修-1",
            "decision_date": TODAY.isoformat(),
            "rectification": "整改到位",
        },
    )
    assert repaired.status_code == 303
    entry = credit.db.get(CreditListEntry, entry_id)
    assert entry is not None and entry.status == "repaired"
    check = client.get("/registries/credit/check", params={"subject_id": other.uscc, "item_code": "FGW-001"})
    assert check.status_code == 200 and "适用联合惩戒措施" in check.text
    staff_view = client.get(f"/registries/credit/subjects/{uscc}")
    assert "信用修复记录" in staff_view.text and "修-1" in staff_view.text
    report = client.get(f"/registries/credit/entities/{uscc}/report")
    assert report.status_code == 200 and "签名密钥指纹" in report.text
    download = client.get(f"/registries/credit/entities/{uscc}/report.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    envelope = download.json()
    assert credit_report_verify(envelope["report"], envelope["signature"]).valid


def test_a_subject_with_only_repaired_records_is_unknown_to_the_public(
    credit: Credit, client: TestClient
) -> None:
    # A subject no base registry holds, whose one record left publication by credit repair: the public
    # get 404, as for a subject never heard of (an empty profile would tell that something was hidden);
    # staff see the repaired record.
    stranger = organ_uscc("330100", 77_777)
    row = credit.record_row(0, subject_id=stranger, subject_name="登记外的单位")
    result = credit.ingest(credit.records_file("r.csv", [row]), allow_unregistered=True)
    assert result.status == "applied"
    assert client.get(f"{API}/subjects/{stranger}").status_code == 200
    record = credit.db.scalars(select(CreditRecord).where(CreditRecord.subject_id == stranger)).one()
    staff = _bearer(credit, Role.PLATFORM_ADMIN)
    repaired = client.post(
        f"{API}/repairs",
        json={
            "target_type": "record",
            "target_id": record.id,
            "decision_number": "修〔2026〕9号",
            "decision_date": TODAY.isoformat(),
            "rectification": "已整改到位",
        },
        headers=staff,
    )
    assert repaired.status_code == 201, repaired.text
    hidden = client.get(f"{API}/subjects/{stranger}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "credit.subject.not_found"
    assert hidden.json() == client.get(f"{API}/subjects/{organ_uscc('330100', 66_666)}").json()
    seen = client.get(f"{API}/subjects/{stranger}", headers=staff)
    assert seen.status_code == 200 and [r["status"] for r in seen.json()["records"]] == ["repaired"]
