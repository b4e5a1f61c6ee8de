"""The in-memory copy of the index (memory.py): never older than the index a search sees."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from factories import make_department
from factories_catalog import make_resource
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.search import memory
from zhengwu.catalog.search.services import (
    resource_search,
    search_filters,
    search_index_rebuild,
    search_index_remove,
    search_index_update,
)

READER = Actor(user_id=1, username="reader", display_name="读者")


def _token(db: Session) -> str:
    return str(db.execute(text("SELECT token FROM catalog_search_state WHERE id = 1")).scalar_one())


def _names(db: Session, q: str) -> set[str]:
    return {hit.name for hit in resource_search(db, actor=READER, q=q, page_size=100).results}


def test_every_index_change_replaces_the_token(db: Session) -> None:
    dept = make_department(db, name="省民政厅").id
    seen = {_token(db)}
    one = make_resource(db, provider_id=dept, name="婚姻登记信息")
    seen.add(_token(db))
    search_index_remove(db, resource_id=one.id)
    seen.add(_token(db))
    search_index_update(db, resource_id=one.id)
    seen.add(_token(db))
    search_index_rebuild(db)
    seen.add(_token(db))
    assert len(seen) == 5


def test_a_rolled_back_publication_is_not_served_from_memory(db: Session) -> None:
    dept = make_department(db, name="省民政厅").id
    make_resource(db, provider_id=dept, name="婚姻登记信息")
    assert _names(db, "登记") == {"婚姻登记信息"}
    savepoint = db.begin_nested()
    make_resource(db, provider_id=dept, name="收养登记信息")
    assert _names(db, "登记") == {"婚姻登记信息", "收养登记信息"}  # held in memory under the new token
    savepoint.rollback()
    assert _names(db, "登记") == {"婚姻登记信息"}
    assert resource_search(db, actor=READER).count == 1


def test_results_and_counts_stay_exact_when_nothing_fits_the_posting_budget(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.clear_cache()
    monkeypatch.setattr(memory, "POSTING_BUDGET", 1)
    dept = make_department(db, name="省公安厅").id
    for i in range(6):
        make_resource(db, provider_id=dept, name=f"户籍人口信息{i}", open_type="open" if i % 2 else "closed")
    result = resource_search(db, actor=READER, q="户籍 人口", filters=search_filters(open_type="open"))
    assert result.count == 3
    assert {(f.value, f.count) for f in result.facets["open_type"]} == {("open", 3)}
    assert [f.count for f in result.facets["provider"]] == [3]
    memory.clear_cache()
