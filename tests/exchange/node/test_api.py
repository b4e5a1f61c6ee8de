"""The front node over HTTP, on PostgreSQL and MariaDB: filters, paging, the change feed, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from factories_node import NAMES, TOKEN, Legacy, legacy_rows


def _get(node: TestClient, path: str, **params: Any) -> Any:
    response = node.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _error(node: TestClient, path: str, status: int = 400, **params: Any) -> dict[str, Any]:
    response = node.get(path, params=params)
    assert response.status_code == status, response.text
    return response.json()["error"]  # type: ignore[no-any-return]


def test_list_shows_only_published_columns_with_chinese_nulls_and_decimals(node: TestClient) -> None:
    page = _get(node, "/services/persons/rows", limit=5)
    assert [r["id"] for r in page["items"]] == [1, 2, 3, 4, 5]
    first, fourth = page["items"][0], page["items"][3]
    assert set(first) == {"id", "name", "note", "amount", "birth", "updated_at"}
    assert first["name"] == NAMES[1]
    assert first["note"] == "（备注）第１２３号·1"
    assert fourth["note"] is None
    assert first["amount"] == "100.01"
    assert first["birth"] == "1981-02-02"
    assert "password_hash" not in str(page)


def test_fields_selects_columns_and_refuses_unpublished_ones(node: TestClient) -> None:
    page = _get(node, "/services/persons/rows", fields="name,id", limit=2)
    assert page["items"] == [{"name": NAMES[1], "id": 1}, {"name": NAMES[2], "id": 2}]
    err = _error(node, "/services/persons/rows", fields="name,password_hash")
    assert err["code"] == "node.fields.unknown_column"


@pytest.mark.parametrize(
    ("params", "expected_ids"),
    [
        ({"name": NAMES[3]}, [3]),
        ({"id__gt": "22"}, [23, 24, 25]),
        ({"id__lte": "２"}, [1, 2]),  # full-width digits are read as digits
        ({"amount__gte": "2400", "amount__lt": "2500.10"}, [24]),
        ({"id__in": "3,5,7"}, [3, 5, 7]),
        ({"note__isnull": "true", "id__lt": "13"}, [4, 8, 12]),
        ({"name__startswith": "郑十一"}, [8, 18]),
        ({"birth": "2000-09-21"}, [20]),
        ({"updated_at__gte": "2026-11-01T08:07:00", "id__ne": "25"}, [22, 23, 24]),
        ({"id__eq": "1"}, [1]),
    ],
)
def test_filters(node: TestClient, params: dict[str, str], expected_ids: list[int]) -> None:
    page = _get(node, "/services/persons/rows", **params)
    assert [r["id"] for r in page["items"]] == expected_ids


def test_startswith_escapes_wildcards(node: TestClient) -> None:
    assert _get(node, "/services/persons/rows", name__startswith="%")["items"] == []
    assert _get(node, "/services/persons/rows", name__startswith="_")["items"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"id": "1 OR 1=1"}, "node.filter.bad_value"),
        ({"id": "1; DROP TABLE legacy_person"}, "node.filter.bad_value"),
        ({"name' OR '1'='1": "x"}, "node.filter.unknown_column"),
        ({"id) OR (1=1": "1"}, "node.filter.unknown_column"),
        ({"password_hash": "secret-1"}, "node.filter.unknown_column"),
        ({"password_hash__startswith": "s"}, "node.filter.unknown_column"),
        ({"salary": "1"}, "node.filter.unknown_column"),
        ({"amount": "NaN"}, "node.filter.bad_value"),
        ({"amount__gt": "1e999999"}, "node.filter.bad_value"),
        ({"birth": "2000-02-30"}, "node.filter.bad_value"),
        ({"id__startswith": "1"}, "node.filter.unsupported"),
        ({"id__isnull": "maybe"}, "node.filter.bad_value"),
        ({"id__in": ",".join(["1"] * 101)}, "node.filter.too_many"),
        ({"name": "张" * 1001}, "node.filter.too_long"),
        ({"name__startswith": "张" * 1001}, "node.filter.too_long"),
        ({"limit": "0"}, "node.page.bad_limit"),
        ({"limit": "51"}, "node.page.bad_limit"),
        ({"limit": "1; select 1"}, "node.page.bad_limit"),
        ({"offset": "-1"}, "node.page.bad_offset"),
        ({"after": "not-a-cursor!!"}, "node.cursor.invalid"),
        ({"after": "WzEsMl0"}, "node.cursor.invalid"),  # [1,2]: wrong arity for the key
        ({"since": "WzFd"}, "node.param.misplaced"),
    ],
)
def test_bad_input_is_400_and_the_table_survives(
    node: TestClient, legacy: Legacy, params: dict[str, str], code: str
) -> None:
    assert _error(node, "/services/persons/rows", **params)["code"] == code
    with legacy.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM legacy_person")).scalar() == 25


def test_injection_in_a_text_value_is_just_text(node: TestClient) -> None:
    assert _get(node, "/services/persons/rows", name="' OR '1'='1")["items"] == []
    assert _get(node, "/services/persons/rows", name="张三'; DROP TABLE legacy_person; --")["items"] == []


def test_repeated_parameter_is_refused(node: TestClient) -> None:
    response = node.get("/services/persons/rows?limit=1&limit=2")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "node.param.repeated"


def test_offset_pages_are_stable_and_complete(node: TestClient) -> None:
    seen: list[int] = []
    for offset in range(0, 30, 7):
        seen += [r["id"] for r in _get(node, "/services/persons/rows", limit=7, offset=offset)["items"]]
    assert seen == list(range(1, 26))


def test_keyset_pages_walk_the_table_once(node: TestClient) -> None:
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 6, "fields": "name"}
        if after:
            params["after"] = after
        page = _get(node, "/services/persons/rows", **params)
        seen += [r["name"] for r in page["items"]]
        pages += 1
        after = page["next_after"]
        if after is None:
            break
    assert pages == 5
    assert seen == [r["name"] for r in legacy_rows()]


def test_keyset_and_filters_combine(node: TestClient) -> None:
    first = _get(node, "/services/persons/rows", limit=2, note__isnull="false")
    second = _get(node, "/services/persons/rows", limit=2, note__isnull="false", after=first["next_after"])
    assert [r["id"] for r in first["items"] + second["items"]] == [1, 2, 3, 5]


def _drain(node: TestClient, since: str | None, limit: int = 4) -> tuple[list[int], str | None]:
    ids: list[int] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        page = _get(node, "/services/persons/changes", **params)
        ids += [r["id"] for r in page["items"]]
        since = page["next_since"]
        if not page["has_more"]:
            return ids, since


def test_change_feed_cursor_semantics(node: TestClient, legacy: Legacy) -> None:
    # Pages of 4 cut through groups of 3 rows sharing a time: nothing is lost or repeated.
    ids, since = _drain(node, None)
    assert ids == list(range(1, 26))
    # Nothing new: the cursor stays where it was.
    page = _get(node, "/services/persons/changes", since=since)
    assert page == {"items": [], "next_since": since, "has_more": False}
    later = dt.datetime(2026, 11, 2, 9, 0, 0)
    try:
        with legacy.engine.begin() as conn:
            conn.execute(
                text("UPDATE legacy_person SET name = :n, updated_at = :t WHERE id IN (7, 3)"),
                {"n": "改名", "t": later},
            )
            conn.execute(text("DELETE FROM legacy_person WHERE id = 25"))
        ids, since2 = _drain(node, since, limit=1)
        # Changed rows come back in (time, key) order; the deleted row is invisible to the feed.
        assert ids == [3, 7]
        assert _get(node, "/services/persons/changes", since=since2)["items"] == []
        only_seven = _get(node, "/services/persons/changes", since=since, id=7)
        assert [r["name"] for r in only_seven["items"]] == ["改名"]
    finally:
        with legacy.engine.begin() as conn:
            conn.execute(text("DELETE FROM legacy_person WHERE id IN (3, 7)"))
            conn.execute(
                text(
                    "INSERT INTO legacy_person (id, name, note, amount, birth, updated_at, password_hash) "
                    "VALUES (:id, :name, :note, :amount, :birth, :updated_at, :password_hash)"
                ),
                [r for r in legacy_rows() if r["id"] in (3, 7, 25)],
            )


def test_change_feed_refuses_page_parameters_and_forged_cursors(node: TestClient) -> None:
    assert _error(node, "/services/persons/changes", offset="3")["code"] == "node.param.misplaced"
    assert _error(node, "/services/persons/changes", since="WyJ4Il0")["code"] == "node.cursor.invalid"
    # A well-formed cursor whose time is not a time.
    assert _error(node, "/services/persons/changes", since="WyJ4IiwxXQ")["code"] == "node.filter.bad_value"


def test_view_is_published_with_its_configured_key(node: TestClient) -> None:
    page = _get(node, "/services/young/rows", limit=50)
    assert [r["id"] for r in page["items"]] == list(range(10, 26))
    assert _error(node, "/services/young/changes", status=404)["code"] == "node.no_change_feed"


def test_unpublished_tables_are_not_found(node: TestClient) -> None:
    for code in ("secret_salary", "legacy_person", "..%2Fsecret_salary"):
        assert node.get(f"/services/{code}/rows").status_code == 404


def test_tokens(node: TestClient) -> None:
    bare = {"Authorization": ""}
    assert node.get("/services/persons/rows", headers=bare).status_code == 401
    assert (
        node.get(
            "/services/persons/rows", headers={"Authorization": "Bearer wrong-token-xxxxxxxxxx"}
        ).status_code
        == 401
    )
    assert node.get("/services", headers=bare).status_code == 401
    ok = node.get("/services/persons/rows", headers={"Authorization": "", "X-Zhengwu-Node-Token": TOKEN})
    assert ok.status_code == 200
    assert node.get("/healthz", headers=bare).json()["status"] == "ok"


def test_services_index(node: TestClient) -> None:
    index = _get(node, "/services")
    assert [s["code"] for s in index] == ["persons", "young"]
    assert index[0]["change_feed"] is True and index[0]["key"] == ["id"]
    assert "password_hash" not in index[0]["columns"]
