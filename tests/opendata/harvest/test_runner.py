"""Harvest jobs against a real remote portal (CKAN API and DCAT) and against a misbehaving server."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories_harvest import FaultServer, RemotePortal
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentOut
from zhengwu.errors import Conflict
from zhengwu.opendata.harvest.models import HarvestRecord
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.schemas import JobOut
from zhengwu.opendata.harvest.services import (
    dataset_origin,
    harvest_job_get,
    harvest_source_create,
    source_validate,
)
from zhengwu.opendata.models import Dataset, DatasetState
from zhengwu.opendata.services import dataset_get, dataset_update, distribution_create

SYSTEM = Actor.system("tests")
_seq = itertools.count(1)


def _source(db: Session, target: DepartmentOut, url: str, backend: str = "ckan", **more: object) -> str:
    name = f"src-{backend}-{next(_seq)}"
    payload = {
        "name": name,
        "title": f"远端门户 {name}",
        "url": url,
        "backend": backend,
        "organization": target.code,
    }
    harvest_source_create(db, actor=SYSTEM, data=source_validate({**payload, **more}))
    return name


def _run(db: Session, source: str, timeout: float = 20.0) -> JobOut:
    return harvest_job_run(db, actor=SYSTEM, source=source, timeout=timeout)


def _remote_dataset(remote: RemotePortal, title: str) -> dict[str, object]:
    n = next(_seq)
    return remote.action(
        "package_create",
        {
            "name": f"hv-{n}-{title.encode().hex()[:12]}",
            "title": title,
            "notes": f"{title}的说明",
            "owner_org": remote.organization,
            "tags": [{"name": "交通"}, {"name": f"t{n}"}],
            "update_frequency": "monthly",
            "resources": [{"name": "CSV 下载", "url": f"https://example.org/{n}.csv", "format": "csv"}],
        },
    )


def _local(db: Session, source: str, remote_id: str) -> Dataset:
    record = db.scalar(select(HarvestRecord).where(HarvestRecord.remote_id == remote_id))
    assert record is not None
    dataset = db.get(Dataset, record.dataset_id)
    assert dataset is not None
    return dataset


def test_ckan_harvest_is_incremental_and_follows_updates_and_deletes(
    db: Session, remote: RemotePortal, target: DepartmentOut
) -> None:
    first = _remote_dataset(remote, "公交线路")
    second = _remote_dataset(remote, "停车场")
    total = remote.count()
    source = _source(db, target, remote.url)

    job = _run(db, source)
    assert (job.status, job.gathered, job.created, job.failed) == ("finished", total, total, 0)
    local = _local(db, source, str(first["id"]))
    assert local.title == "公交线路" and local.organization_id == target.id
    assert [d.url for d in local.distributions] == [first["resources"][0]["url"]]  # type: ignore[index]
    origin = dataset_origin(db, dataset_ref=local.name)
    assert origin is not None and origin.remote_id == first["id"] and origin.remote_url.startswith(remote.url)
    assert origin.remote_modified == str(first["metadata_modified"])[:23]  # UTC to the millisecond

    again = _run(db, source)
    assert (again.created, again.updated, again.deleted, again.failed, again.skipped) == (0, 0, 0, 0, total)
    assert harvest_job_get(db, actor=SYSTEM, job_id=again.id).items_total == 0

    remote.action("package_patch", {"id": first["id"], "title": "公交线路（2026 版）"})
    remote.action("package_delete", {"id": second["id"]})
    third = _run(db, source)
    assert (third.created, third.updated, third.deleted, third.failed) == (0, 1, 1, 0)
    assert _local(db, source, str(first["id"])).title == "公交线路（2026 版）"
    gone = _local(db, source, str(second["id"]))
    assert gone.state == DatasetState.DELETED
    log = harvest_job_get(db, actor=SYSTEM, job_id=third.id)
    assert {(i.action, i.remote_id) for i in log.items} == {
        ("updated", first["id"]),
        ("deleted", second["id"]),
    }
    assert "远端已删除" in next(i.message for i in log.items if i.action == "deleted")


def test_harvested_datasets_are_read_only(db: Session, remote: RemotePortal, target: DepartmentOut) -> None:
    made = _remote_dataset(remote, "学校名录")
    source = _source(db, target, remote.url)
    _run(db, source)
    local = _local(db, source, str(made["id"]))
    with pytest.raises(Conflict) as refused:
        dataset_update(db, actor=SYSTEM, ref=local.name, payload={"title": "改"}, patch=True)
    assert refused.value.code == "opendata.harvested_read_only"
    assert "只读" in refused.value.message
    with pytest.raises(Conflict):
        distribution_create(
            db, actor=SYSTEM, payload={"package_id": local.name, "url": "https://x.org/a.csv"}
        )
    extras = {e["key"]: e["value"] for e in dataset_get(db, actor=SYSTEM, ref=local.name)["extras"]}
    assert extras["harvest_source_name"] == source and extras["harvest_remote_id"] == made["id"]


def test_dcat_harvest_follows_hydra_pages(db: Session, remote: RemotePortal, target: DepartmentOut) -> None:
    made = _remote_dataset(remote, "公共厕所")
    _remote_dataset(remote, "充电桩")
    total = remote.count()
    assert total >= 3  # several pages of two
    source = _source(db, target, f"{remote.url}/catalog.ttl?page_size=2", backend="dcat")

    job = _run(db, source)
    assert (job.status, job.gathered, job.created, job.failed) == ("finished", total, total, 0)
    local = _local(db, source, str(made["id"]))
    assert local.title == "公共厕所" and local.update_frequency == "monthly"
    assert {t.name for t in local.tags} >= {"交通"}
    assert [d.format for d in local.distributions] == ["CSV"]

    again = _run(db, source)
    assert (again.created, again.updated, again.deleted, again.skipped) == (0, 0, 0, total)

    remote.action("package_patch", {"id": made["id"], "notes": "新的说明"})
    third = _run(db, source)
    assert (third.created, third.updated, third.deleted) == (0, 1, 0)
    assert _local(db, source, str(made["id"])).notes == "新的说明"


def test_dcat_jsonld_endpoint(db: Session, remote: RemotePortal, target: DepartmentOut) -> None:
    _remote_dataset(remote, "路灯")
    source = _source(db, target, f"{remote.url}/catalog.jsonld?page_size=1000", backend="dcat")
    job = _run(db, source)
    assert (job.status, job.created) == ("finished", remote.count())


# --- A remote that misbehaves ------------------------------------------------------------------------


def _package(pid: str, name: str, **more: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": pid,
        "name": name,
        "title": name,
        "metadata_modified": "2026-01-01T00:00:00",
        "resources": [],
    }
    return {**base, **more}


def _search(*packages: dict[str, object], count: int | None = None) -> str:
    result = {"count": len(packages) if count is None else count, "results": list(packages)}
    return json.dumps({"help": "", "success": True, "result": result})


SEARCH = "/api/3/action/package_search"


@pytest.mark.parametrize(
    ("status", "ctype", "body", "reason"),
    [
        (200, "text/html; charset=utf-8", "<html><body>维护中</body></html>", "HTML 而不是 JSON"),
        (500, "text/plain", "boom", "HTTP 500"),
        (200, "application/json", "{not json", "不是有效的 JSON"),
        (200, "application/json", '{"result": []}', "不是 CKAN 的格式"),
        (
            403,
            "application/json",
            '{"success": false, "error": {"__type": "Authorization Error"}}',
            "Authorization",
        ),
    ],
)
def test_unusable_listing_fails_the_job_with_a_reason(
    db: Session, faults: FaultServer, target: DepartmentOut, status: int, ctype: str, body: str, reason: str
) -> None:
    faults.route(SEARCH, status, ctype, body)
    job = _run(db, _source(db, target, faults.url))
    assert job.status == "failed" and reason in job.error, job.error
    assert job.created == job.failed == 0


def test_timeout_fails_the_job_and_releases_the_lock(
    db: Session, faults: FaultServer, target: DepartmentOut
) -> None:
    faults.route(SEARCH, 200, "application/json", _search(), delay=2.0)
    source = _source(db, target, faults.url)
    job = _run(db, source, timeout=0.3)
    assert job.status == "failed" and "超时" in job.error
    faults.route(SEARCH, 200, "application/json", _search())
    assert _run(db, source).status == "finished"  # the lock was released


def test_broken_turtle_fails_the_job(db: Session, faults: FaultServer, target: DepartmentOut) -> None:
    faults.route(
        "/catalog.ttl", 200, "text/turtle", "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n<a> dcat:x "
    )
    job = _run(db, _source(db, target, f"{faults.url}/catalog.ttl", backend="dcat"))
    assert job.status == "failed" and "无法解析 DCAT" in job.error


def test_bad_items_are_logged_and_the_rest_imported(
    db: Session, faults: FaultServer, target: DepartmentOut
) -> None:
    good = _package("r-1", "good-one", tags=[{"name": "a,b"}])
    bad_name = _package("r-2", "坏名字")
    bad_url = _package("r-3", "bad-url", resources=[{"url": "javascript:alert(1)", "format": "csv"}])
    faults.route(SEARCH, 200, "application/json", _search(good, bad_name, bad_url))
    source = _source(db, target, faults.url)
    job = _run(db, source)
    assert (job.status, job.created, job.failed) == ("partial", 2, 1)
    log = {i.remote_id: i for i in harvest_job_get(db, actor=SYSTEM, job_id=job.id).items}
    assert log["r-1"].action == "created" and log["r-2"].action == "created"
    assert log["r-2"].dataset_name.startswith(
        source
    )  # a name the portal does not take gets the source prefix
    assert log["r-3"].action == "failed" and "resources" in log["r-3"].message


def test_a_failed_page_withdraws_nothing(db: Session, faults: FaultServer, target: DepartmentOut) -> None:
    faults.route(SEARCH, 200, "application/json", _search(_package("r-1", "one"), _package("r-2", "two")))
    source = _source(db, target, faults.url)
    assert _run(db, source).created == 2
    # Now the first page answers, the second fails: the list is incomplete, so nothing may be withdrawn.
    faults.route(SEARCH, 200, "application/json", _search(_package("r-1", "one"), count=150))
    faults.route(SEARCH, 500, "text/html", "<h1>500</h1>", when="start=1")
    job = _run(db, source)
    assert job.status == "failed" and job.deleted == 0 and "HTTP 500" in job.error
    assert db.scalar(select(Dataset).where(Dataset.name == "two")).state == DatasetState.ACTIVE  # type: ignore[union-attr]


def test_later_runs_list_ids_and_read_only_what_changed(
    db: Session, faults: FaultServer, target: DepartmentOut
) -> None:
    one, two = _package("r-1", "one"), _package("r-2", "two")
    faults.route(SEARCH, 200, "application/json", _search(one, two))
    source = _source(db, target, faults.url)
    assert _run(db, source).created == 2
    # Like a real CKAN: with `fl` the list has ids and times only; the `fq` pass misses the change
    # (clocks), so the harvester reads the changed record with package_show.
    # Solr's form of the same times ("Z", milliseconds) must still compare equal.
    brief = [
        {"id": p["id"], "name": p["name"], "metadata_modified": "2026-01-01T00:00:00.000Z"}
        for p in (one, two)
    ]
    brief[0]["metadata_modified"] = "2026-02-01T00:00:00Z"
    faults.route(SEARCH, 200, "application/json", _search(*brief), when="fl=")
    faults.route(SEARCH, 200, "application/json", _search(), when="fq=metadata_modified")
    changed = {**one, "title": "第一（新）", "metadata_modified": "2026-02-01T00:00:00"}
    show = json.dumps({"help": "", "success": True, "result": changed})
    faults.route("/api/3/action/package_show", 200, "application/json", show, when="id=r-1")
    job = _run(db, source)
    assert (job.status, job.updated, job.skipped, job.failed) == ("finished", 1, 1, 0)
    assert _local(db, source, "r-1").title == "第一（新）"
    # A record that cannot be read is one failed item, not a failed job.
    brief[1]["metadata_modified"] = "2026-03-01T00:00:00"
    faults.route(SEARCH, 200, "application/json", _search(*brief), when="fl=")
    faults.route("/api/3/action/package_show", 200, "text/html", "<html>login</html>", when="id=r-2")
    job = _run(db, source)
    assert (job.status, job.updated, job.skipped, job.failed) == ("partial", 0, 1, 1)
    failed = harvest_job_get(db, actor=SYSTEM, job_id=job.id, action="failed").items
    assert [(i.remote_id, "HTML" in i.message) for i in failed] == [("r-2", True)]
