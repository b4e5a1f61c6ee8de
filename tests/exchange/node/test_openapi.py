"""The OpenAPI 3 document generated from the reflected schema, and the directory accepting it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import SYSTEM, make_department
from factories_node import Legacy
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_register, subsystem_register


def test_openapi_shape(node: TestClient, legacy: Legacy) -> None:
    doc = node.get("/services/persons/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "户籍人口"
    assert doc["servers"][0]["url"].endswith("/services/persons")
    assert set(doc["paths"]) == {"/rows", "/changes"}
    row = doc["components"]["schemas"]["Row"]["properties"]
    assert set(row) == {"id", "name", "note", "amount", "birth", "updated_at"}
    assert row["id"]["type"] == "integer" and "nullable" not in row["id"]
    assert row["name"] == {"type": "string", "maxLength": 40}
    assert row["note"]["nullable"] is True
    assert row["amount"]["format"] == "decimal"
    assert row["birth"]["format"] == "date"
    assert row["updated_at"]["format"] == "date-time"
    params = {p["name"] for p in doc["paths"]["/rows"]["get"]["parameters"]}
    assert {"limit", "offset", "after", "fields", "id__gt", "name__startswith", "note__isnull"} <= params
    assert "id__startswith" not in params
    assert not any("password" in p for p in params)
    assert doc["components"]["securitySchemes"]["nodeToken"]["scheme"] == "bearer"
    view = node.get("/services/young/openapi.json").json()
    assert set(view["paths"]) == {"/rows"}


def test_the_directory_accepts_the_generated_document(node: TestClient, db: Session) -> None:
    doc = node.get("/services/persons/openapi.json").json()
    dept = make_department(db)
    sub = subsystem_register(
        db,
        actor=SYSTEM,
        data=SubsystemIn(department_id=dept.id, code="HUJI", name="户籍系统"),
        instance="CN-DEV",
    )
    svc = service_register(
        db,
        actor=SYSTEM,
        instance="CN-DEV",
        data=ServiceIn(
            subsystem_id=sub.id,
            service_code="persons",
            name="户籍人口",
            upstream_url=doc["servers"][0]["url"].replace("testserver", "10.0.0.5:8700"),
            openapi=doc,
        ),
    )
    assert svc.has_openapi and svc.xroad_id.endswith("/HUJI/persons")
