"""The credit registry through the GovStack data API: published only, by subject, read-only, audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import make_token, make_user, organ_uscc
from registries.credit.credit_helpers import TODAY, Credit
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.registries.credit.models import CreditRecord
from zhengwu.registries.credit.schemas import RepairIn
from zhengwu.registries.credit.services import repair_apply

BASE = "/govstack/data/credit/1.0"
CLIENT = "eGovStack/GOV/90000009/shebao"
INVALID_USCC = "91330100MA2H3K4L5X"  # wrong check character


def _headers(credit: Credit, role: Role, *, client: str | None = CLIENT, **extra: str) -> dict[str, str]:
    department_id = None if role is Role.PUBLIC_USER else credit.world.department_id
    user = make_user(credit.db, roles=[role], department_id=department_id)
    headers = {"Authorization": f"Bearer {make_token(credit.db, user)}", **extra}
    if client is not None:
        headers["Information-Mediator-Client"] = client
    return headers


def _read(client: TestClient, headers: dict[str, str], content: dict[str, Any]) -> Any:
    return client.post(f"{BASE}/read", json={"query": {"content": content}}, headers=headers)


def _exists(client: TestClient, headers: dict[str, str], content: dict[str, Any]) -> Any:
    return client.post(f"{BASE}/exists", json={"query": {"content": content}}, headers=headers)


def _repair_record(credit: Credit, decision_number: str) -> None:
    record = credit.db.scalars(
        select(CreditRecord).where(CreditRecord.decision_number == decision_number)
    ).one()
    repair_apply(
        credit.db,
        actor=credit.admin,
        data=RepairIn(
            target_type="record",
            target_id=record.id,
            decision_number="修〔2026〕1号",
            decision_date=TODAY,
            rectification="已缴清罚款并补报年报，整改到位",
        ),
    )


def _loaded(credit: Credit) -> None:
    credit.black_list()
    credit.put_on("BLK-1", credit.entities[0])
    rows = [
        credit.record_row(0),
        credit.record_row(1),
        credit.record_row(2, subject_id=credit.entities[0].uscc, subject_name=credit.entities[0].name),
        credit.record_row(3, subject_id=credit.entities[0].uscc, subject_name=credit.entities[0].name),
    ]
    assert credit.ingest(credit.records_file("r.csv", rows)).status == "applied"


def test_read_answers_the_published_profile_with_measures(credit: Credit, client: TestClient) -> None:
    _loaded(credit)
    _repair_record(credit, credit.record_row(2)["decision_number"])
    uscc = credit.entities[0].uscc
    headers = _headers(credit, Role.DEVELOPER)
    read = _read(client, headers, {"ID": uscc})
    assert read.status_code == 200, read.text
    content = read.json()["content"]
    assert content["ID"] == uscc and content["subject_name"] == credit.entities[0].name
    assert content["public_view"] is True and content["repairs"] == []
    # Staff see the repaired record on the registry's own API; here it has left publication.
    assert [r["decision_number"] for r in content["records"]] == [
        credit.record_row(n)["decision_number"] for n in (0, 3)
    ]
    (entry,) = content["entries"]
    assert entry["list_code"] == "BLK-1" and entry["in_force"] is True
    assert [m["code"] for m in entry["measures"]] == ["BLK-1-M0", "BLK-1-M1"]
    assert entry["measures"][1]["items"][0]["code"] == "*"
    assert _read(client, headers, {"subject_id": uscc}).json()["content"]["ID"] == uscc


def test_read_and_exists_bad_input(credit: Credit, client: TestClient) -> None:
    _loaded(credit)
    headers = _headers(credit, Role.DEVELOPER)
    invalid = _read(client, headers, {"ID": INVALID_USCC})
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "credit.subject.invalid" and invalid.json()["message"]
    assert _read(client, headers, {"ID": "110105194912310021"}).status_code == 400  # bad check digit
    unknown = _read(client, headers, {"ID": organ_uscc("330100", 66_666)})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no record found"})
    probe = _read(client, headers, {"ID": credit.entities[0].uscc, "subject_name": "x"})
    assert probe.status_code == 400 and probe.json()["code"] == "govstack.query.field"
    assert _read(client, headers, {"name": "x"}).status_code == 400
    assert _read(client, headers, {}).json()["code"] == "govstack.query.id"
    bad_body = client.post(f"{BASE}/read", json={"query": {"nope": 1}}, headers=headers)
    assert bad_body.status_code == 400 and bad_body.json()["code"] == "govstack.body"
    assert _exists(client, headers, {"ID": credit.entities[0].uscc}).json() == {
        "answer": {"status": True, "message": "Object found from database"}
    }
    # Registered without any record: a clean profile exists.
    assert _exists(client, headers, {"ID": credit.entities[5].uscc}).json()["answer"]["status"] is True
    assert _read(client, headers, {"ID": credit.entities[5].uscc}).json()["content"]["records"] == []
    assert _exists(client, headers, {"ID": organ_uscc("330100", 66_666)}).json()["answer"]["status"] is False
    assert _exists(client, headers, {"ID": INVALID_USCC}).status_code == 400


def test_header_roles_registry_and_version(credit: Credit, client: TestClient) -> None:
    _loaded(credit)
    body = {"query": {"content": {"ID": credit.entities[0].uscc}}}
    for value in (None, "not an id", "A/B"):
        answer = client.post(
            f"{BASE}/read", json=body, headers=_headers(credit, Role.DEVELOPER, client=value)
        )
        assert answer.status_code == 400 and "Information-Mediator-Client" in answer.json()["detail"]
    missing = client.get(
        BASE,
        params={"search": credit.entities[0].uscc},
        headers=_headers(credit, Role.DEVELOPER, client=None),
    )
    assert missing.status_code == 400
    assert (
        client.post(f"{BASE}/read", json=body, headers={"Information-Mediator-Client": CLIENT}).status_code
        == 401
    )
    public = _headers(credit, Role.PUBLIC_USER)
    assert client.post(f"{BASE}/read", json=body, headers=public).status_code == 403
    assert client.post(f"{BASE}/exists", json=body, headers=public).status_code == 403
    assert client.get(BASE, params={"search": credit.entities[0].uscc}, headers=public).status_code == 403
    staff = _headers(credit, Role.DEVELOPER)
    for path in ("/govstack/data/credit/2.0/read", "/govstack/data/credits/1.0/read"):
        answer = client.post(path, json=body, headers=staff)
        assert answer.status_code == 404 and answer.json()["code"] in {
            "govstack.version",
            "govstack.registry",
        }


def test_writes_answer_read_only(credit: Credit, client: TestClient) -> None:
    _loaded(credit)
    uscc = credit.entities[0].uscc
    manager = _headers(credit, Role.PLATFORM_ADMIN)
    write = {"query": {"content": {"ID": uscc}}, "write": {"content": {"ID": uscc, "status": "repaired"}}}
    answers = [
        client.post(f"{BASE}/create", json=write, headers=manager),
        client.put(f"{BASE}/update", json=write, headers=manager),
        client.post(f"{BASE}/update-or-create", json=write, headers=manager),
        client.delete(f"{BASE}/{uscc}/delete", headers=manager),
    ]
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "govstack.read_only" and "read-only" in answer.json()["detail"]
    assert (
        client.delete(f"{BASE}/{uscc}/delete", headers={"Information-Mediator-Client": CLIENT}).status_code
        == 401
    )
    # Nothing changed.
    assert credit.db.scalars(select(CreditRecord).where(CreditRecord.subject_id == uscc)).all()


def test_list_search_filter_and_pages_published_only(credit: Credit, client: TestClient) -> None:
    _loaded(credit)
    _repair_record(credit, credit.record_row(2)["decision_number"])
    headers = _headers(credit, Role.DEVELOPER)
    uscc = credit.entities[0].uscc
    by_id = client.get(BASE, params={"search": uscc}, headers=headers).json()
    assert set(by_id) == {"count", "next", "previous", "results"}
    # Two published records; the repaired one has left publication (staff see it on the registry's API).
    assert by_id["count"] == 2 and {r["ID"] for r in by_id["results"]} == {uscc}
    assert all(r["published"] and r["status"] == "active" for r in by_id["results"])

    def count(params: dict[str, Any]) -> int:
        answer = client.get(BASE, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["count"])

    assert count({"query.ID": uscc}) == 2 and count({"filter": "subject_id", "search": uscc}) == 2
    assert count({"search": uscc, "query.kind": "licensing"}) == 0
    assert count({"search": uscc, "query.kind": "penalty", "ordering": "descending"}) == 2
    first = client.get(BASE, params={"search": uscc, "page_size": 1}, headers=headers).json()
    assert len(first["results"]) == 1 and "page=2" in first["next"] and first["previous"] is None
    second = client.get(BASE, params={"search": uscc, "page_size": 1, "page": 2}, headers=headers).json()
    assert second["next"] is None and second["results"][0]["id"] != first["results"][0]["id"]
    name = client.get(BASE, params={"query.subject_name": credit.entities[1].name}, headers=headers).json()
    assert name["count"] == 1 and name["results"][0]["subject_name"] == credit.entities[1].name
    for params, code in (
        ({"query.ID": INVALID_USCC}, "credit.subject.invalid"),
        ({"search": INVALID_USCC}, "credit.subject.invalid"),
        ({"search": "110105194912310021"}, "credit.subject.invalid"),
        ({}, "credit.search.empty"),
        ({"search": uscc, "query.amount_yuan": "1000"}, "govstack.filter"),
        ({"search": uscc, "query.kind": "fine"}, "govstack.filter.kind"),
        ({"search": uscc, "ordering": "ascending"}, "govstack.ordering"),
    ):
        answer = client.get(BASE, params=params, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == code, (params, answer.text)
    assert (
        client.get("/govstack/data/credit/9.9", params={"search": uscc}, headers=headers).status_code == 404
    )


def test_a_person_learns_who_read_their_credit_data(credit: Credit, client: TestClient) -> None:
    person = credit.persons[0]
    key = person.resident_id
    row = credit.record_row(0, subject_id=key, subject_name=person.name)
    assert credit.ingest(credit.records_file("p.csv", [row])).status == "applied"
    reader = _headers(credit, Role.DEVELOPER, **{"X-Road-Issue": quote("社会救助资格审核")})
    read = _read(client, reader, {"ID": key})
    assert read.status_code == 200
    content = read.json()["content"]
    assert content["masked"] is True and "*" in content["ID"] and content["subject_name"] != person.name
    assert content["records"][0]["masked"] is True and content["records"][0]["subject_id"] != key
    clear = _read(client, _headers(credit, Role.PLATFORM_ADMIN), {"ID": key}).json()["content"]
    assert clear["ID"] == key and clear["subject_name"] == person.name
    assert _exists(client, reader, {"ID": key}).json()["answer"]["status"] is True
    listed = client.get(BASE, params={"search": key}, headers=reader).json()
    assert listed["count"] == 1 and listed["results"][0]["masked"] is True
    # Persons are never found by name through the published view.
    assert client.get(BASE, params={"search": person.name}, headers=reader).json()["count"] == 0
    usage = client.get(
        "/govstack/data/MyPersonalDataUsage/1.0",
        params={"userID": key, "DatabaseID": "credit"},
        headers=reader,
    )
    assert usage.status_code == 200
    rows = usage.json()
    # read by the developer, read by the admin, exists, search by the person's ID
    assert sorted(u["Action"] for u in rows) == ["exists", "search", "view", "view"]
    assert all(u["DatabaseID"] == "credit" and u["ReaderApplicationName"] == CLIENT for u in rows)
    assert {u["Purpose"] for u in rows} == {"社会救助资格审核", None}
    both = client.get("/govstack/data/myPersonalDataUsage", params={"userID": key}, headers=reader).json()
    assert len(both) == 4
    population = client.get(
        "/govstack/data/myPersonalDataUsage",
        params={"userID": key, "DatabaseID": "population"},
        headers=reader,
    ).json()
    assert population == []
    bad = client.get(
        "/govstack/data/myPersonalDataUsage",
        params={"userID": key, "DatabaseID": "addresses"},
        headers=reader,
    )
    assert bad.status_code == 400
    events = credit.db.scalars(
        select(AuditEvent).where(AuditEvent.action == "credit.subject.view", AuditEvent.target_id == key)
    ).all()
    assert len(events) == 2 and all((e.details or {}).get("via") == "govstack" for e in events)


def test_reading_a_record_history_is_a_read_the_person_learns_of(credit: Credit, client: TestClient) -> None:
    person = credit.persons[0]
    key = person.resident_id
    row = credit.record_row(0, subject_id=key, subject_name=person.name)
    assert credit.ingest(credit.records_file("p.csv", [row])).status == "applied"
    record = credit.db.scalars(select(CreditRecord).where(CreditRecord.subject_id == key)).one()
    staff = _headers(credit, Role.DEVELOPER)
    history = client.get(f"/api/v1/registries/credit/records/{record.id}/history", headers=staff)
    assert history.status_code == 200 and len(history.json()) == 1
    params = {"userID": key, "DatabaseID": "credit"}
    usage = client.get("/govstack/data/MyPersonalDataUsage/1.0", params=params, headers=staff).json()
    assert [u["Action"] for u in usage] == ["history"]
    event = credit.db.scalars(select(AuditEvent).where(AuditEvent.action == "credit.record.history")).one()
    assert (event.target_type, event.target_id, (event.details or {})["record_id"]) == (
        "credit_subject",
        key,
        record.id,
    )
