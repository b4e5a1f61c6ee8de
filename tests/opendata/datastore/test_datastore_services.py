"""Loading and searching datastore tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from opendata.datastore.datastore_helpers import ADMIN, PUBLIC, load_csv, new_resource_id, numbers_csv, write
from zhengwu.audit.models import AuditEvent
from zhengwu.db import Database, upgrade
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from zhengwu.opendata.datastore import query
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.datastore.services import (
    datastore_create,
    datastore_delete,
    datastore_info,
    datastore_search,
    datastore_search_sql,
    datastore_set_open,
)


def tables(db: Session) -> set[str]:
    return {t for t in inspect(db.connection()).get_table_names() if t.startswith("ds_")}


def test_load_infers_types_and_search_returns_ckan_shape(db: Session, tmp_path: Path) -> None:
    info = load_csv(db, tmp_path)
    assert [(f.id, f.type) for f in info.fields] == [
        ("编号", "int"),
        ("姓名", "text"),
        ("城市", "text"),
        ("金额", "numeric"),
        ("日期", "date"),
        ("登记时间", "timestamp"),
        ("邮编", "text"),
    ]
    assert info.row_count == 5
    result = datastore_search(db, actor=PUBLIC, resource_id=info.resource_id)
    assert result["fields"][0] == {"id": "_id", "type": "int"}
    assert result["total"] == 5
    assert result["total_was_estimated"] is False
    assert result["limit"] == 100
    assert result["offset"] == 0
    assert result["_links"]["next"].endswith("&offset=100")
    first, second = result["records"][0], result["records"][1]
    assert first == {
        "_id": 1,
        "编号": 1,
        "姓名": "张三",
        "城市": "杭州",
        "金额": 12.5,
        "日期": "2024-01-05",
        "登记时间": "2024-01-05T08:30:00",
        "邮编": "0571",
    }
    assert second["金额"] == 7.25  # full-width digits
    assert second["日期"] == "2024-02-06"
    assert result["records"][4]["编号"] == 5
    assert result["records"][3]["金额"] is None


def test_filters_q_fields_sort_and_paging(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    hz = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"城市": "杭州"}, sort="编号 desc")
    assert [r["编号"] for r in hz["records"]] == [5, 3, 1]
    assert hz["total"] == 3
    several = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"城市": ["宁波", "温州"]})
    assert sorted(r["姓名"] for r in several["records"]) == ["李四", "赵六"]
    by_date = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"日期": "2024年3月7日"})
    assert [r["姓名"] for r in by_date["records"]] == ["王五"]
    by_number = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"编号": 2})
    assert [r["姓名"] for r in by_number["records"]] == ["李四"]
    text = datastore_search(db, actor=PUBLIC, resource_id=rid, q="钱")
    assert [r["姓名"] for r in text["records"]] == ["钱七"]
    per_field = datastore_search(db, actor=PUBLIC, resource_id=rid, q={"城市": "州"})
    assert per_field["total"] == 4
    picked = datastore_search(db, actor=PUBLIC, resource_id=rid, fields="姓名, 城市", limit=2, offset=1)
    assert picked["fields"] == [{"id": "姓名", "type": "text"}, {"id": "城市", "type": "text"}]
    assert picked["records"] == [{"姓名": "李四", "城市": "宁波"}, {"姓名": "王五", "城市": "杭州"}]
    assert picked["total"] == 5
    distinct = datastore_search(
        db, actor=PUBLIC, resource_id=rid, fields=["城市"], distinct=True, sort=["城市"]
    )
    assert [r["城市"] for r in distinct["records"]] == sorted({"杭州", "宁波", "温州"})
    assert distinct["total"] == 3
    nothing = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"金额": None}, include_total=False)
    assert [r["姓名"] for r in nothing["records"]] == ["赵六"]
    assert "total" not in nothing


def test_like_wildcards_in_q_are_literal(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path, "name\n100%\n100 percent\na_b\naxb\n").resource_id
    assert [r["name"] for r in datastore_search(db, actor=PUBLIC, resource_id=rid, q="0%")["records"]] == [
        "100%"
    ]
    assert [r["name"] for r in datastore_search(db, actor=PUBLIC, resource_id=rid, q="a_")["records"]] == [
        "a_b"
    ]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("filters", {'城市" = 1 OR 1=1 --': "x"}),
        ("filters", {"城市": {"$ne": 1}}),
        ("filters", "城市=杭州"),
        ("filters", {"编号": "1 OR 1=1"}),
        ("fields", ['姓名", (SELECT version()) AS "v']),
        ("fields", "*"),
        ("sort", "编号; DROP TABLE datastore_tables"),
        ("sort", '编号" desc, (SELECT 1)'),
        ("sort", "编号 sideways"),
        ("q", {"no_such": "x"}),
        ("q", 42),
        ("limit", -1),
        ("limit", "1; select"),
        ("offset", True),
    ],
)
def test_injection_and_bad_parameters_are_refused_with_the_parameter_named(
    db: Session, tmp_path: Path, param: str, value: object
) -> None:
    rid = load_csv(db, tmp_path).resource_id
    with pytest.raises(ValidationError) as err:
        datastore_search(db, actor=PUBLIC, resource_id=rid, **{param: value})  # type: ignore[arg-type]
    assert err.value.field == param
    assert db.scalar(select(DatastoreTable).where(DatastoreTable.resource_id == rid)) is not None


def test_injection_in_a_filter_value_is_only_a_value(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    result = datastore_search(db, actor=PUBLIC, resource_id=rid, filters={"城市": "杭州' OR '1'='1"})
    assert result["records"] == []
    assert result["total"] == 0


def test_limit_is_capped_like_ckan_rows_max(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    assert datastore_search(db, actor=PUBLIC, resource_id=rid, limit=10**9)["limit"] == 32_000


def test_closed_table_is_invisible_to_the_public(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path, is_open=False).resource_id
    with pytest.raises(NotFound) as err:
        datastore_search(db, actor=PUBLIC, resource_id=rid)
    assert err.value.field == "resource_id"
    assert datastore_search(db, actor=ADMIN, resource_id=rid)["total"] == 5
    datastore_set_open(db, actor=ADMIN, resource_id=rid, is_open=True)
    assert datastore_info(db, actor=PUBLIC, resource_id=rid)["meta"]["count"] == 5


def test_unknown_and_malformed_resource_ids(db: Session) -> None:
    with pytest.raises(NotFound):
        datastore_search(db, actor=PUBLIC, resource_id=new_resource_id())
    with pytest.raises(ValidationError) as err:
        datastore_search(db, actor=PUBLIC, resource_id='x"; drop table users; --')
    assert err.value.field == "resource_id"


def test_the_public_cannot_load_or_delete(db: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a\n1\n")
    with pytest.raises(NotAuthenticated):
        datastore_create(db, actor=PUBLIC, resource_id=new_resource_id(), path=path)
    rid = load_csv(db, tmp_path).resource_id
    with pytest.raises(NotAuthenticated):
        datastore_delete(db, actor=PUBLIC, resource_id=rid)


def test_gbk_file_loads_end_to_end(db: Session, tmp_path: Path) -> None:
    info = load_csv(db, tmp_path, "城市,人口\n杭州,1237\n宁波,９６１\n", encoding="gbk")
    assert info.source_encoding == "gb18030"
    assert info.notes
    result = datastore_search(db, actor=PUBLIC, resource_id=info.resource_id, sort="人口")
    assert [(r["城市"], r["人口"]) for r in result["records"]] == [("宁波", 961), ("杭州", 1237)]


def test_malformed_reload_keeps_the_old_table_and_good_reload_replaces_it(
    db: Session, tmp_path: Path
) -> None:
    first = load_csv(db, tmp_path)
    rid = first.resource_id
    before = tables(db)
    with pytest.raises(ValidationError) as err:
        load_csv(db, tmp_path, 'a,b\n1,2\n3,"broken\n', resource_id=rid)
    assert err.value.details["errors"][0]["row"] == 3
    assert tables(db) == before
    assert datastore_search(db, actor=PUBLIC, resource_id=rid)["total"] == 5
    second = load_csv(db, tmp_path, "a,b\n1,2\n", resource_id=rid)
    assert [f.id for f in second.fields] == ["a", "b"]
    assert datastore_search(db, actor=PUBLIC, resource_id=rid)["records"] == [{"_id": 1, "a": 1, "b": 2}]
    assert len(tables(db)) == len(before)  # the old table was dropped
    assert tables(db) != before


def test_a_failure_while_writing_leaves_no_table(db: Session, tmp_path: Path) -> None:
    rid = new_resource_id()
    before = tables(db)
    with pytest.raises(ValidationError):
        load_csv(db, tmp_path, "a,b\n1,2\n", resource_id=rid, indexes=["c"])
    assert tables(db) == before
    assert db.scalar(select(DatastoreTable).where(DatastoreTable.resource_id == rid)) is None


def test_indexes_progress_and_audit(db: Session, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    info = load_csv(
        db, tmp_path, numbers_csv(120_000), indexes=["label", "day"], progress=lambda *a: calls.append(a)
    )
    assert info.indexes == ["label", "day"]
    fields = {f["id"]: f for f in datastore_info(db, actor=PUBLIC, resource_id=info.resource_id)["fields"]}
    assert fields["label"]["schema"]["is_index"] is True
    assert fields["n"]["schema"]["is_index"] is False
    assert ("load", 120_000, 120_000) in calls
    assert ("inspect", 100_000, 0) in calls
    assert ("index", 2, 2) in calls
    event = db.scalar(
        select(AuditEvent).where(AuditEvent.action == "datastore.create").order_by(AuditEvent.id.desc())
    )
    assert event is not None
    assert event.target_id == info.resource_id
    big = datastore_search(
        db, actor=PUBLIC, resource_id=info.resource_id, filters={"label": "标签3"}, limit=5
    )
    if big["total_was_estimated"]:  # PostgreSQL estimates totals above 10,000 matches, like CKAN
        assert 9_000 < big["total"] < 15_000
    else:
        assert big["total"] == 12_000
    assert [r["n"] for r in big["records"]] == [3, 13, 23, 33, 43]


def test_xlsx_and_json_lines_and_records(db: Session, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["名称", "登记日期", "金额"])
    ws.append(["甲", 45000, 1.5])
    ws.append(["乙", 45366, 2])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    rid = new_resource_id()
    datastore_create(db, actor=ADMIN, resource_id=rid, path=path, is_open=True)
    records = datastore_search(db, actor=PUBLIC, resource_id=rid)["records"]
    assert [r["登记日期"] for r in records] == ["2023-03-15", "2024-03-15"]
    jl = write(
        tmp_path,
        "b.jsonl",
        "\n".join(json.dumps(o, ensure_ascii=False) for o in [{"k": "一"}, {"k": "二", "v": 2}]),
    )
    rid2 = new_resource_id()
    datastore_create(db, actor=ADMIN, resource_id=rid2, path=jl, is_open=True)
    assert datastore_search(db, actor=PUBLIC, resource_id=rid2)["records"][1] == {"_id": 2, "k": "二", "v": 2}
    rid3 = new_resource_id()
    info = datastore_create(
        db, actor=ADMIN, resource_id=rid3, records=[{"d": "2024-01-01"}], types={"d": "text"}, is_open=True
    )
    assert info.fields[0].type == "text"


def test_delete_drops_the_table(db: Session, tmp_path: Path) -> None:
    before = tables(db)
    rid = load_csv(db, tmp_path).resource_id
    datastore_delete(db, actor=ADMIN, resource_id=rid)
    assert tables(db) == before
    with pytest.raises(NotFound):
        datastore_info(db, actor=ADMIN, resource_id=rid)


def test_percent_signs_in_field_names_and_values(db: Session, tmp_path: Path) -> None:
    rid = load_csv(
        db, tmp_path, "地区,增长率%,备注 %s\n杭州,5.5,%d%%\n宁波,4,x\n", indexes=["增长率%"]
    ).resource_id
    result = datastore_search(
        db, actor=PUBLIC, resource_id=rid, filters={"增长率%": "5.5"}, sort="备注 %s desc"
    )
    assert result["records"] == [{"_id": 1, "地区": "杭州", "增长率%": 5.5, "备注 %s": "%d%%"}]
    assert datastore_search(db, actor=PUBLIC, resource_id=rid, q="%d")["total"] == 1
    sql = f'SELECT "地区" FROM "{rid}" WHERE "备注 %s" LIKE \'%d%\''  # noqa: S608 - the input under test
    assert datastore_search_sql(db, actor=PUBLIC, sql=sql)["records"] == [{"地区": "杭州"}]


def test_concurrent_loads_of_one_resource_leave_exactly_one_table(
    tmp_path: Path, empty_database_url: str
) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    rid = new_resource_id()
    paths = [write(tmp_path, f"{i}.csv", f"a\n{i}\n") for i in range(4)]
    outcomes: list[str] = []

    def load(path: Path) -> None:
        try:
            with database.session() as session:
                datastore_create(session, actor=ADMIN, resource_id=rid, path=path, is_open=True)
            outcomes.append("loaded")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=load, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert len(outcomes) == 4
        assert "loaded" in outcomes
        with database.session() as session:
            row = session.scalar(select(DatastoreTable).where(DatastoreTable.resource_id == rid))
            assert row is not None
            assert tables(session) == {row.table_name}
            records = datastore_search(session, actor=PUBLIC, resource_id=rid)["records"]
            assert len(records) == 1
            assert records[0]["a"] in range(4)
    finally:
        database.dispose()


def test_totals_with_the_page_in_one_statement(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = load_csv(db, tmp_path, numbers_csv(300), indexes=["label"]).resource_id

    def total(**kwargs: object) -> tuple[int, bool, int]:
        found = datastore_search(db, actor=PUBLIC, resource_id=rid, **kwargs)  # type: ignore[arg-type]
        return found["total"], found["total_was_estimated"], len(found["records"])

    assert total(filters={"label": "标签3"}) == (30, False, 30)
    assert total(filters={"label": "标签3"}, limit=0) == (30, False, 0)  # no page, still the total
    assert total(filters={"label": "标签3"}, offset=1000) == (30, False, 0)  # past the end
    assert total(filters={"label": "无此标签"}) == (0, False, 0)
    assert total(fields=["label"], distinct=True) == (10, False, 10)
    assert total() == (300, False, 100)  # no filter: the row count, no counting
    # Above the cap the total is exact on SQLite and the planner's estimate on PostgreSQL.
    monkeypatch.setattr(query, "TOTAL_EXACT_LIMIT", 10)
    for _ in range(2):  # the second time from the remembered estimate
        count, estimated, shown = total(filters={"label": "标签3"}, limit=5)
        assert shown == 5
        assert estimated is (db.get_bind().dialect.name == "postgresql")
        assert count == 30 if not estimated else 10 < count < 100
