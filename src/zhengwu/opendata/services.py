"""Use cases of open datasets and their distributions: read, search, create, update, patch, delete.

Every function checks authorization first: reading public datasets is open to everyone; private and
deleted ones only to the publisher's data administrators and platform administrators; writing needs a
data administrator of the publisher (``require_department_admin``). Writes are audited and keep the
search index in step in the same transaction. Results are CKAN dictionaries (plain data).

Publication from the catalog (the sensitivity check) lives in ``publication.py``; publishers, topics,
tags and licences in ``directory.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.datastore.services import datastore_delete, datastore_set_open
from zhengwu.opendata.harvest.models import HarvestRecord
from zhengwu.opendata.licenses import DEFAULT_LICENSE_ID, LICENSES_BY_ID
from zhengwu.opendata.models import (
    Dataset,
    DatasetGroup,
    DatasetState,
    DatasetTag,
    Distribution,
    Group,
)
from zhengwu.opendata.packages import org_id_of, org_name, org_name_of, package_dict, resource_dict
from zhengwu.opendata.schemas import DatasetIn, DistributionIn
from zhengwu.opendata.search import (
    FACET_FIELDS,
    IndexEntry,
    SearchOutcome,
    SearchPlan,
    Visibility,
    facet_term,
    index_names,
    index_remove,
    index_write,
    parse_fq,
    parse_sort,
    split_q,
    text_clauses,
)
from zhengwu.opendata.search_memory import search_run

MAX_LIST = 1000


# --- Loading and rights ------------------------------------------------------------------------------


def pydantic_errors(exc: PydanticError) -> ValidationError:
    """A pydantic failure as a zhengwu ValidationError with one entry per field."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "__all__"
        errors.append({"field": loc, "reason": str(err.get("msg", "invalid")).removeprefix("Value error, ")})
    first = errors[0]
    return ValidationError(
        f"参数 {first['field']} 无效：{first['reason']}",
        message_en=f"invalid {first['field']}: {first['reason']}",
        code="opendata.invalid",
        field=first["field"],
        errors=errors,
    )


def department_by_ref(db: Session, ref: str) -> Department:
    """A publisher by its CKAN name, CKAN id or code."""
    ref = (ref or "").strip()
    for dept_id, code in db.execute(select(Department.id, Department.code)):
        if ref in (org_name_of(code, dept_id), org_id_of(code), code):
            dept = db.get(Department, dept_id)
            assert dept is not None
            return dept
    raise NotFound(
        "发布机构不存在", message_en="Organization not found", code="opendata.org_not_found", field="id"
    )


def can_manage(actor: Actor, organization_id: int) -> bool:
    """May ``actor`` see the private and deleted datasets of (and write for) this publisher?"""
    if actor.has(Role.PLATFORM_ADMIN):
        return True
    return actor.has(Role.DATA_ADMIN) and actor.department_id == organization_id


def dataset_by_ref(db: Session, ref: str) -> Dataset:
    """A dataset by its CKAN id or name (not yet checked for visibility)."""
    ref = (ref or "").strip()
    if not ref:
        raise ValidationError("缺少 id", message_en="Missing value", code="opendata.missing", field="id")
    row = db.scalar(select(Dataset).where((Dataset.uuid == ref) | (Dataset.name == ref)))
    if row is None:
        raise NotFound("数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id")
    return row


def is_visible(actor: Actor, dataset: Dataset) -> bool:
    """May ``actor`` see the dataset's metadata? (Conditional datasets: yes, their data needs a key.)"""
    if dataset.private or dataset.state != DatasetState.ACTIVE:
        return can_manage(actor, dataset.organization_id)
    return True


def _load_visible(db: Session, actor: Actor, ref: str) -> Dataset:
    dataset = dataset_by_ref(db, ref)
    if not is_visible(actor, dataset):
        # Neither existence nor name of a private dataset leaks to those who may not see it.
        raise NotFound("数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id")
    return dataset


def _groups_of(db: Session, dataset: Dataset) -> list[Group]:
    return list(
        db.scalars(
            select(Group)
            .join(DatasetGroup, DatasetGroup.group_id == Group.id)
            .where(DatasetGroup.dataset_id == dataset.id)
            .order_by(Group.name)
        )
    )


def catalog_url(dataset: Dataset) -> str | None:
    """The page of the catalog entry a dataset was published from."""
    return f"/catalog/resources/{dataset.catalog_code}" if dataset.catalog_code else None


def dataset_dict(db: Session, dataset: Dataset) -> dict[str, Any]:
    """The CKAN dictionary of a dataset (no authorization: callers checked visibility)."""
    department = db.get(Department, dataset.organization_id)
    assert department is not None  # FK RESTRICT
    return package_dict(
        dataset,
        department,
        _groups_of(db, dataset),
        catalog_url=catalog_url(dataset),
        datastore_ids=datastore_ids(db, [d.uuid for d in dataset.distributions]),
    )


# --- The datastore tables of distributions -----------------------------------------------------------


def datastore_ids(db: Session, resource_ids: list[str]) -> frozenset[str]:
    """Which of these distributions have a table in the datastore (CKAN's ``datastore_active``)."""
    if not resource_ids:
        return frozenset()
    return frozenset(
        db.scalars(select(DatastoreTable.resource_id).where(DatastoreTable.resource_id.in_(resource_ids)))
    )


def is_public(dataset: Dataset) -> bool:
    """Active, not private and not conditional: its tables may be read by everyone and by
    ``datastore_search_sql``. A conditional dataset's tables stay closed: its data goes out only with
    a key (``opendata/access``)."""
    return dataset.state == DatasetState.ACTIVE and not dataset.private and dataset.open_type != "conditional"


def dataset_is_public(db: Session, *, ref: str) -> bool:
    """Is the dataset ``ref`` active and public (no authorization: a yes/no about a known dataset)?"""
    return is_public(dataset_by_ref(db, ref))


def dataset_manage_check(db: Session, *, actor: Actor, ref: str) -> None:
    """PermissionDenied (or NotFound) unless ``actor`` may write the dataset ``ref``."""
    _load_for_write(db, actor, ref)


def datastore_sync_open(db: Session, *, actor: Actor, dataset: Dataset) -> None:
    """Open the tables of a public dataset, close those of a private or deleted one.

    ``datastore_search_sql`` sees open tables only, so this runs whenever visibility may change
    (publication, update, patch, delete). ``actor`` is the dataset's manager (checked by the caller).
    """
    wanted = is_public(dataset)
    ids = [d.uuid for d in dataset.distributions]
    if not ids:
        return
    rows = db.scalars(
        select(DatastoreTable).where(DatastoreTable.resource_id.in_(ids), DatastoreTable.is_open != wanted)
    ).all()
    for row in rows:
        datastore_set_open(db, actor=actor, resource_id=row.resource_id, is_open=wanted)


def index_entry(db: Session, dataset: Dataset) -> IndexEntry:
    """What the search index holds of a dataset."""
    department = db.get(Department, dataset.organization_id)
    assert department is not None
    groups = _groups_of(db, dataset)
    package = package_dict(
        dataset,
        department,
        groups,
        catalog_url=catalog_url(dataset),
        datastore_ids=datastore_ids(db, [d.uuid for d in dataset.distributions]),
    )
    facets = {
        "organization": [org_name(department)],
        "groups": [g.name for g in groups],
        "tags": [t.name for t in dataset.tags],
        "res_format": sorted({d.format for d in dataset.distributions if d.format}),
        "license_id": [dataset.license_id],
        "open_type": [dataset.open_type],
        "update_frequency": [dataset.update_frequency],
        "spatial": [dataset.spatial_region_code],
    }
    return IndexEntry(
        dataset_id=dataset.id,
        name=dataset.name,
        title=dataset.title,
        package=package,
        metadata_created=dataset.metadata_created,
        metadata_modified=dataset.metadata_modified,
        text_fields=[
            dataset.title,
            dataset.name.replace("-", " "),
            department.name,
            *facets["tags"],
            *(g.title for g in groups),
        ],
        long_fields=[dataset.notes, *(d.name for d in dataset.distributions)],
        facets=facets,
        public=not dataset.private,
    )


def reindex(db: Session, dataset: Dataset) -> None:
    """Bring the search index in step with one dataset (deleted ones leave the index)."""
    db.flush()
    if dataset.state == DatasetState.ACTIVE:
        index_write(db, [index_entry(db, dataset)])
    else:
        index_remove(db, [dataset.id])


def dataset_index_rebuild(db: Session, *, actor: Actor) -> int:
    """Rebuild the whole search index from the datasets (platform administrators, CLI)."""
    if not actor.has(Role.PLATFORM_ADMIN):
        raise PermissionDenied("需要平台管理员", message_en="platform administrators only")
    ids = list(
        db.scalars(select(Dataset.id).where(Dataset.state == DatasetState.ACTIVE).order_by(Dataset.id))
    )
    index_remove(db, list(db.scalars(select(Dataset.id))))
    done = 0
    for start in range(0, len(ids), 500):
        rows = db.scalars(select(Dataset).where(Dataset.id.in_(ids[start : start + 500]))).all()
        done += index_write(db, [index_entry(db, d) for d in rows])
    return done


# --- Reading -----------------------------------------------------------------------------------------


def dataset_get(db: Session, *, actor: Actor, ref: str) -> dict[str, Any]:
    """``package_show``: one dataset by id or name."""
    return dataset_dict(db, _load_visible(db, actor, ref))


def dataset_list(db: Session, *, actor: Actor, limit: int | None = None, offset: int = 0) -> list[str]:
    """``package_list``: names of public active datasets, in name order."""
    del actor  # public list: everybody sees the same
    limit = MAX_LIST if limit is None else limit
    if limit < 0 or offset < 0:
        raise ValidationError("limit/offset 不能为负", message_en="Must be a natural number", field="limit")
    return index_names(db, limit=min(limit, MAX_LIST), offset=offset)


def dataset_search_warm(db: Session) -> int:
    """Load the in-memory search index and every facet's values (what the first ``package_search`` of
    a process would otherwise wait for: seconds at 100,000 datasets); the number of public datasets."""
    result = dataset_search(db, actor=Actor.anonymous(), rows=1, facet_fields=sorted(FACET_FIELDS))
    return int(result["count"])


def dataset_search(
    db: Session,
    *,
    actor: Actor,
    q: str = "",
    fq: str = "",
    rows: int = 10,
    start: int = 0,
    sort: str = "",
    facet_fields: list[str] | None = None,
    facet_limit: int = 50,
    facet_mincount: int = 1,
    include_private: bool = False,
) -> dict[str, Any]:
    """``package_search``: CKAN's result (count, results, facets, search_facets, sort)."""
    if rows < 0 or start < 0:
        raise ValidationError("rows/start 不能为负", message_en="Must be a natural number", field="rows")
    free, fielded = split_q(q)
    plan = SearchPlan(
        rows=min(rows, 1000), start=start, facet_limit=facet_limit, facet_mincount=facet_mincount
    )
    clauses, plan.title_needle = text_clauses(free)
    plan.clauses += clauses
    for source, name in ((fielded, "q"), (fq, "fq")):
        if source:
            more, ranges = parse_fq(source, name)
            plan.clauses += more
            plan.ranges += ranges
    plan.order = parse_sort(sort)
    for name in facet_fields or []:
        if name not in FACET_FIELDS:
            raise ValidationError(
                f"不支持的分面字段 {name}",
                message_en=f"unknown facet field {name}",
                code="opendata.facet",
                field="facet.field",
            )
    plan.facet_fields = list(dict.fromkeys(facet_fields or []))
    vis = Visibility()
    if include_private and actor.is_authenticated:
        if actor.has(Role.PLATFORM_ADMIN):
            vis = Visibility(all_private=True)
        elif actor.has(Role.DATA_ADMIN) and actor.department_id is not None:
            dept = db.get(Department, actor.department_id)
            if dept is not None:
                vis = Visibility(org_terms=(facet_term("organization", org_name(dept)),))
    outcome = search_run(db, plan, vis)
    titles = _facet_titles(db, outcome)
    search_facets = {
        name: {
            "title": name,
            "items": [
                {"name": value, "display_name": titles.get((name, value), value), "count": count}
                for value, count in values
            ],
        }
        for name, values in outcome.facets.items()
    }
    return {
        "count": outcome.count,
        "results": outcome.packages,
        "facets": {name: dict(values) for name, values in outcome.facets.items()},
        "search_facets": search_facets,
        "sort": sort or "score desc, metadata_modified desc",
    }


def _facet_titles(db: Session, outcome: SearchOutcome) -> dict[tuple[str, str], str]:
    # The search may have read the departments and groups with its page (one round trip less).
    facets = outcome.facets
    titles: dict[tuple[str, str], str] = {}
    if facets.get("organization"):
        wanted = {v for v, _ in facets["organization"]}
        departments = outcome.departments
        if departments is None:
            departments = [
                (int(i), str(c), str(n))
                for i, c, n in db.execute(select(Department.id, Department.code, Department.name))
            ]
        for dept_id, code, name in departments:
            key = org_name_of(code, dept_id)
            if key in wanted:
                titles[("organization", key)] = name
    if facets.get("groups"):
        names = [v for v, _ in facets["groups"]]
        if outcome.groups is not None:
            titles.update((("groups", n), outcome.groups[n]) for n in names if n in outcome.groups)
        else:
            for g in db.scalars(select(Group).where(Group.name.in_(names))):
                titles[("groups", g.name)] = g.title
    if facets.get("license_id"):
        for value, _ in facets["license_id"]:
            lic = LICENSES_BY_ID.get(value)
            if lic:
                titles[("license_id", value)] = lic.title_zh
    return titles


# --- Writing -----------------------------------------------------------------------------------------


def _owner_for_write(db: Session, actor: Actor, owner_org: str | None) -> Department:
    require_authenticated(actor)
    if owner_org:
        dept = department_by_ref(db, owner_org)
    elif actor.department_id is not None:
        dept = db.get(Department, actor.department_id) or department_by_ref(db, "")
    else:
        raise ValidationError(
            "缺少发布机构",
            message_en="An organization must be provided",
            code="opendata.owner",
            field="owner_org",
        )
    require_department_admin(actor, dept.id)
    return dept


def _resolve_groups(db: Session, refs: list[Any]) -> list[Group]:
    out: list[Group] = []
    for ref in refs:
        key = ref.name or ref.id or ""
        group = db.scalar(select(Group).where((Group.name == key) | (Group.uuid == key)))
        if group is None:
            raise ValidationError(
                f"主题 {key} 不存在",
                message_en=f"Group {key} not found",
                code="opendata.group",
                field="groups",
            )
        out.append(group)
    return out


def _distribution(dist_in: DistributionIn, position: int) -> Distribution:
    return Distribution(
        uuid=str(uuid.uuid4()),
        position=position,
        name=dist_in.name,
        description=dist_in.description,
        url=dist_in.url,
        format=dist_in.format,
        mimetype=dist_in.mimetype or "",
        size=dist_in.size,
        created=utcnow(),
        last_modified=utcnow(),
    )


def apply_dataset(db: Session, dataset: Dataset, data: DatasetIn, groups: list[Group]) -> None:
    """Write the content of ``data`` onto ``dataset`` (every field, tags, topics, distributions)."""
    if data.license_id and data.license_id not in LICENSES_BY_ID:
        raise ValidationError(
            f"许可协议 {data.license_id} 不存在",
            message_en=f"License {data.license_id} is not known",
            code="opendata.license",
            field="license_id",
        )
    dataset.name = data.name
    dataset.title = data.title or data.name
    dataset.notes = data.notes
    dataset.license_id = data.license_id or DEFAULT_LICENSE_ID
    dataset.version = data.version
    dataset.url = data.url
    dataset.maintainer = data.maintainer
    dataset.maintainer_email = data.maintainer_email
    dataset.private = data.private
    dataset.open_type = data.open_type
    dataset.open_conditions = data.open_conditions
    dataset.update_frequency = data.update_frequency
    dataset.temporal_start = data.temporal_start
    dataset.temporal_end = data.temporal_end
    dataset.spatial_region_code = data.spatial or ""
    dataset.extras = {e.key: e.value for e in data.extras}
    dataset.tags = [DatasetTag(name=name) for name in dict.fromkeys(t.name for t in data.tags)]
    kept = {d.uuid: d for d in dataset.distributions}
    new_dists: list[Distribution] = []
    for i, dist_in in enumerate(data.resources):
        old = kept.get(dist_in.id or "")
        if old is not None:
            _update_distribution(old, dist_in, i)
            new_dists.append(old)
        else:
            new_dists.append(_distribution(dist_in, i))
    dataset.distributions = new_dists
    dataset.metadata_modified = utcnow()
    db.flush()
    db.query(DatasetGroup).filter(DatasetGroup.dataset_id == dataset.id).delete()
    for group in {g.id: g for g in groups}.values():
        db.add(DatasetGroup(dataset_id=dataset.id, group_id=group.id))


def _update_distribution(dist: Distribution, data: DistributionIn, position: int) -> None:
    dist.position = position
    dist.name = data.name
    dist.description = data.description
    dist.url = data.url
    dist.format = data.format
    dist.mimetype = data.mimetype or ""
    dist.size = data.size
    dist.last_modified = utcnow()


def _name_taken(db: Session, name: str, exclude_id: int | None = None) -> None:
    stmt = select(func.count()).select_from(Dataset).where(Dataset.name == name)
    if exclude_id is not None:
        stmt = stmt.where(Dataset.id != exclude_id)
    if db.scalar(stmt):
        raise Conflict(
            "该名称已被使用",
            message_en="That URL is already in use.",
            code="opendata.name_taken",
            field="name",
        )


def _validate(payload: dict[str, Any]) -> DatasetIn:
    try:
        return DatasetIn.model_validate(payload)
    except PydanticError as exc:
        raise pydantic_errors(exc) from None


def dataset_create(db: Session, *, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    """``package_create``: a new dataset of the caller's (or the named) publisher."""
    dept = _owner_for_write(db, actor, payload.get("owner_org"))
    data = _validate(payload)
    groups = _resolve_groups(db, data.groups)
    _name_taken(db, data.name)
    now = utcnow()
    dataset = Dataset(
        uuid=str(uuid.uuid4()),
        name=data.name,
        title=data.title or data.name,
        organization_id=dept.id,
        state=DatasetState.ACTIVE,
        created_by=actor.user_id,
        metadata_created=now,
        metadata_modified=now,
    )
    try:
        # A savepoint: a name taken by a concurrent request between the check and the insert becomes
        # the same Conflict, and leaves the caller's transaction usable.
        with db.begin_nested():
            db.add(dataset)
            apply_dataset(db, dataset, data, groups)
    except IntegrityError:
        raise Conflict(
            "该名称已被使用",
            message_en="That URL is already in use.",
            code="opendata.name_taken",
            field="name",
        ) from None
    reindex(db, dataset)
    audit_record(
        db,
        actor=actor,
        action="opendata.dataset.create",
        target_type="opendata_dataset",
        target_id=dataset.uuid,
        details={"name": dataset.name, "organization": org_name(dept), "private": dataset.private},
    )
    return dataset_dict(db, dataset)


def _load_for_write(db: Session, actor: Actor, ref: str) -> Dataset:
    require_authenticated(actor)
    dataset = dataset_by_ref(db, ref)
    if not can_manage(actor, dataset.organization_id):
        if not is_visible(actor, dataset):
            raise NotFound(
                "数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id"
            )
        require_department_admin(actor, dataset.organization_id)
    _refuse_harvested(db, dataset)
    return dataset


def _refuse_harvested(db: Session, dataset: Dataset) -> None:
    # A harvested dataset is a copy: the next harvest would overwrite a local edit, so none is allowed.
    source = db.scalar(select(HarvestRecord.source_id).where(HarvestRecord.dataset_id == dataset.id))
    if source is not None:
        raise Conflict(
            "该数据集由级联采集自其他门户，本地只读；请在来源门户修改",
            message_en="Dataset is harvested from another portal and is read-only here; "
            "change it at its source",
            code="opendata.harvested_read_only",
            field="id",
        )


def dataset_update(
    db: Session, *, actor: Actor, ref: str, payload: dict[str, Any], patch: bool = False
) -> dict[str, Any]:
    """``package_update`` (every field replaced) or ``package_patch`` (only the fields given)."""
    dataset = _load_for_write(db, actor, ref)
    if patch:
        current = dataset_dict(db, dataset)
        current["groups"] = [{"name": g["name"]} for g in current["groups"]]
        merged = {**current, **payload}
    else:
        merged = {"name": dataset.name, **payload}
    if merged.get("owner_org"):
        new_dept = department_by_ref(db, str(merged["owner_org"]))
        if new_dept.id != dataset.organization_id:
            require_department_admin(actor, new_dept.id)
            dataset.organization_id = new_dept.id
    data = _validate(merged)
    groups = _resolve_groups(db, data.groups)
    _name_taken(db, data.name, exclude_id=dataset.id)
    apply_dataset(db, dataset, data, groups)
    if dataset.state == DatasetState.DELETED and payload.get("state") == "active":
        dataset.state = DatasetState.ACTIVE
    reindex(db, dataset)
    datastore_sync_open(db, actor=actor, dataset=dataset)
    audit_record(
        db,
        actor=actor,
        action="opendata.dataset.patch" if patch else "opendata.dataset.update",
        target_type="opendata_dataset",
        target_id=dataset.uuid,
        details={"name": dataset.name, "fields": sorted(payload)},
    )
    return dataset_dict(db, dataset)


def dataset_delete(db: Session, *, actor: Actor, ref: str) -> None:
    """``package_delete``: the dataset's state becomes ``deleted`` and it leaves search."""
    dataset = _load_for_write(db, actor, ref)
    dataset.state = DatasetState.DELETED
    dataset.metadata_modified = utcnow()
    reindex(db, dataset)
    datastore_sync_open(db, actor=actor, dataset=dataset)
    audit_record(
        db,
        actor=actor,
        action="opendata.dataset.delete",
        target_type="opendata_dataset",
        target_id=dataset.uuid,
        details={"name": dataset.name},
    )


# --- Distributions (CKAN resources) ------------------------------------------------------------------


def _distribution_by_ref(db: Session, ref: str) -> Distribution:
    dist = db.scalar(select(Distribution).where(Distribution.uuid == (ref or "").strip()))
    if dist is None:
        raise NotFound(
            "资源不存在", message_en="Resource was not found.", code="opendata.resource", field="id"
        )
    return dist


def distribution_by_uuid(db: Session, ref: str) -> Distribution:
    """A distribution by its CKAN id (not checked for visibility)."""
    return _distribution_by_ref(db, ref)


def resource_out(db: Session, dist: Distribution) -> dict[str, Any]:
    """The CKAN resource dict of a distribution, with ``datastore_active``."""
    return resource_dict(dist, dist.dataset.uuid, datastore_active=bool(datastore_ids(db, [dist.uuid])))


def distribution_get(db: Session, *, actor: Actor, ref: str) -> dict[str, Any]:
    """``resource_show``."""
    dist = _distribution_by_ref(db, ref)
    if not is_visible(actor, dist.dataset):
        raise NotFound(
            "资源不存在", message_en="Resource was not found.", code="opendata.resource", field="id"
        )
    return resource_out(db, dist)


def distribution_check_readable(db: Session, *, actor: Actor, ref: str) -> None:
    """NotFound unless the resource exists and its dataset is visible to ``actor``, as
    :func:`distribution_get` decides, in one read of three columns (the datastore's hot path needs no
    resource dictionary)."""
    row = db.execute(
        select(Dataset.private, Dataset.state, Dataset.organization_id)
        .join(Distribution, Distribution.dataset_id == Dataset.id)
        .where(Distribution.uuid == (ref or "").strip())
    ).first()
    hidden = row is not None and (row.private or row.state != DatasetState.ACTIVE)
    if row is None or (hidden and not can_manage(actor, row.organization_id)):
        raise NotFound(
            "资源不存在", message_en="Resource was not found.", code="opendata.resource", field="id"
        )


def _dist_in(payload: dict[str, Any]) -> DistributionIn:
    try:
        return DistributionIn.model_validate(payload)
    except PydanticError as exc:
        raise pydantic_errors(exc) from None


def _touch(db: Session, actor: Actor, dataset: Dataset, action: str, dist: Distribution) -> None:
    dataset.metadata_modified = utcnow()
    reindex(db, dataset)
    audit_record(
        db,
        actor=actor,
        action=f"opendata.resource.{action}",
        target_type="opendata_resource",
        target_id=dist.uuid,
        details={"dataset": dataset.name, "url": dist.url},
    )


def distribution_create(db: Session, *, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    """``resource_create``: a new distribution of ``package_id``."""
    package_id = payload.get("package_id")
    if not package_id:
        raise ValidationError(
            "缺少 package_id", message_en="Missing value", code="opendata.missing", field="package_id"
        )
    dataset = _load_for_write(db, actor, str(package_id))
    data = _dist_in(payload)
    dist = _distribution(data, len(dataset.distributions))
    dataset.distributions.append(dist)
    _touch(db, actor, dataset, "create", dist)
    return resource_dict(dist, dataset.uuid)


def distribution_update(
    db: Session, *, actor: Actor, ref: str, payload: dict[str, Any], patch: bool = False
) -> dict[str, Any]:
    """``resource_update`` / ``resource_patch``."""
    dist = _distribution_by_ref(db, ref)
    dataset = _load_for_write(db, actor, dist.dataset.uuid)
    merged = {**resource_dict(dist, dataset.uuid), **payload} if patch else payload
    _update_distribution(dist, _dist_in(merged), dist.position)
    _touch(db, actor, dataset, "update", dist)
    return resource_dict(dist, dataset.uuid)


def distribution_delete(db: Session, *, actor: Actor, ref: str) -> None:
    """``resource_delete``."""
    dist = _distribution_by_ref(db, ref)
    dataset = _load_for_write(db, actor, dist.dataset.uuid)
    if datastore_ids(db, [dist.uuid]):
        # CKAN drops a resource's datastore table with the resource.
        datastore_delete(db, actor=actor, resource_id=dist.uuid)
    dataset.distributions.remove(dist)
    for i, d in enumerate(dataset.distributions):
        d.position = i
    _touch(db, actor, dataset, "delete", dist)
