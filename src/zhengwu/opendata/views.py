"""Pages of the open data portal (数据开放): search with facets and the dataset page with its provenance.

Public pages (no sign-in), working without JavaScript: the search form and every facet are GET links.
The dataset page shows where the data comes from in the catalog (entry, version), what the publication
did with each data element, the distributions, and how to call the API (curl and Python).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from zhengwu.catalog.models import UpdateFrequency, label_zh
from zhengwu.opendata.directory import organization_get, portal_figures
from zhengwu.opendata.harvest.services import dataset_origin
from zhengwu.opendata.licenses import LICENSES_BY_ID
from zhengwu.opendata.models import TREATMENT_LABELS_ZH, Treatment
from zhengwu.opendata.preview import resource_preview
from zhengwu.opendata.services import dataset_get, dataset_search, department_by_ref
from zhengwu.opendata.showcase.services import dataset_showcases, showcase_count
from zhengwu.opendata.stats.recorder import record_view
from zhengwu.opendata.stats.services import dataset_usage
from zhengwu.opendata.stats.views import usage_chart
from zhengwu.web.deps import CurrentActor, DbSession
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("数据开放", "/opendata", order=15)]

PAGE_SIZE = 20
FACETS = {
    "organization": "发布机构",
    "groups": "主题",
    "tags": "标签",
    "res_format": "格式",
    "open_type": "开放属性",
}
OPEN_TYPES_ZH = {"open": "无条件开放", "conditional": "有条件开放"}

Multi = Annotated[list[str] | None, Query()]


def _fq(selected: dict[str, list[str]]) -> str:
    parts = []
    for name, values in selected.items():
        quoted = [f'"{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for v in values]
        if quoted:
            parts.append(f"{name}:({' OR '.join(quoted)})")
    return " ".join(parts)


@router.get("/opendata", response_class=HTMLResponse)
def portal_search_page(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    q: str = Query("", max_length=100),
    page: int = Query(1, ge=1, le=500),
    organization: Multi = None,
    groups: Multi = None,
    tags: Multi = None,
    res_format: Multi = None,
    open_type: Multi = None,
) -> HTMLResponse:
    """数据开放 search page."""
    selected = {
        "organization": organization or [],
        "groups": groups or [],
        "tags": tags or [],
        "res_format": res_format or [],
        "open_type": open_type or [],
    }
    result = dataset_search(
        db,
        actor=actor,
        q=q,
        fq=_fq(selected),
        rows=PAGE_SIZE,
        start=(page - 1) * PAGE_SIZE,
        facet_fields=list(FACETS),
        facet_limit=10,
    )

    def link(name: str | None = None, value: str | None = None, to_page: int = 1) -> str:
        params: list[tuple[str, str]] = [("q", q)] if q else []
        for key, values in selected.items():
            vals = list(values)
            if key == name and value is not None:
                vals = [v for v in vals if v != value] if value in vals else [*vals, value]
            params += [(key, v) for v in vals]
        if to_page > 1:
            params.append(("page", str(to_page)))
        return "/opendata" + ("?" + urlencode(params) if params else "")

    pages = max(1, -(-result["count"] // PAGE_SIZE))
    return render(
        request,
        "opendata/search.html",
        {
            "title": "数据开放",
            "q": q,
            "result": result,
            "facets": FACETS,
            "selected": selected,
            "link": link,
            "page": page,
            "pages": pages,
            "open_types": OPEN_TYPES_ZH,
            "figures": portal_figures(db, actor=actor),
            "showcases": showcase_count(db),
        },
    )


@router.get("/opendata/publishers/{ref}", response_class=HTMLResponse)
def portal_publisher_page(
    request: Request,
    ref: str,
    db: DbSession,
    actor: CurrentActor,
    page: int = Query(1, ge=1, le=500),
) -> HTMLResponse:
    """A publisher's page: its figures, topics and formats, and its open datasets."""
    org = organization_get(db, actor=actor, ref=ref)
    result = dataset_search(
        db,
        actor=actor,
        fq=_fq({"organization": [org["name"]]}),
        rows=PAGE_SIZE,
        start=(page - 1) * PAGE_SIZE,
        facet_fields=["groups", "res_format", "open_type"],
        facet_limit=10,
    )
    dept_id = department_by_ref(db, org["name"]).id
    return render(
        request,
        "opendata/publisher.html",
        {
            "title": org["title"],
            "org": org,
            "result": result,
            "figures": portal_figures(db, actor=actor, organization_id=dept_id),
            "page": page,
            "pages": max(1, -(-result["count"] // PAGE_SIZE)),
            "open_types": OPEN_TYPES_ZH,
        },
    )


@router.get("/opendata/datasets/{name}", response_class=HTMLResponse)
def portal_dataset_page(request: Request, name: str, db: DbSession, actor: CurrentActor) -> HTMLResponse:
    """The page of one dataset: metadata, provenance, element treatments, distributions, API examples."""
    pkg: dict[str, Any] = dataset_get(db, actor=actor, ref=name)
    base = str(request.base_url).rstrip("/")
    freq = pkg.get("update_frequency") or "irregular"
    previews = [p for r in pkg["resources"] if (p := resource_preview(db, actor=actor, resource=r))]
    # Counted in memory; the page shows the counts written so far (at most one flush interval behind).
    record_view(request, pkg["id"])
    usage = dataset_usage(db, actor=actor, ref=pkg["id"], days=30, breakdown=False)
    return render(
        request,
        "opendata/dataset.html",
        {
            "title": pkg["title"],
            "pkg": pkg,
            "license": LICENSES_BY_ID.get(pkg.get("license_id") or ""),
            "frequency": label_zh(UpdateFrequency(freq))
            if freq in {f.value for f in UpdateFrequency}
            else freq,
            "open_type": OPEN_TYPES_ZH.get(pkg.get("open_type") or "", pkg.get("open_type")),
            "treatment_labels": {str(k): v for k, v in TREATMENT_LABELS_ZH.items()},
            "withheld": str(Treatment.WITHHOLD),
            "base": base,
            "previews": previews,
            "harvest_origin": dataset_origin(db, dataset_ref=pkg["id"]),
            "usage": usage,
            "usage_chart": usage_chart(usage.series, "最近 30 天每日浏览、下载与接口调用"),
            "showcases": dataset_showcases(db, actor=actor, dataset=pkg["id"]),
        },
    )
