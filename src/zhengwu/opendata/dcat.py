"""The whole portal as DCAT-AP 3 (rdflib): Turtle and JSON-LD, paged with a hydra PagedCollection.

One ``dcat:Catalog`` per page listing that page's datasets (as ckanext-dcat and DCAT-AP's paging
guidance do): ``hydra:PagedCollection`` with ``hydra:totalItems``, ``hydra:itemsPerPage`` and links to
the first, last, previous and next pages. Datasets come from the search index's ready CKAN
dictionaries, so a page costs one indexed range read. Every referenced node is typed (``foaf:Agent``,
``dct:LicenseDocument``, ``dct:Frequency``, ``dct:Location``, ``dct:PeriodOfTime``,
``dct:MediaTypeOrExtent``, ``skos:Concept``), which the DCAT-AP SHACL shapes require.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.opendata.licenses import LICENSES_BY_ID
from zhengwu.opendata.models import SearchDoc, SearchTerm
from zhengwu.opendata.search import PUBLIC_TERM

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ZWOD = Namespace("https://w3id.org/zhengwu/ns/opendata#")
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
FREQUENCY_CODES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "semiannual": "ANNUAL_2",
    "yearly": "ANNUAL",
    "irregular": "IRREG",
}
FORMATS = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "GEOJSON": "application/geo+json",
    "PDF": "application/pdf",
    "XML": "application/xml",
    "ZIP": "application/zip",
}


def _zh(text: str) -> Literal:
    return Literal(text, lang="zh")


def _time(value: str | None) -> Literal | None:
    if not value:
        return None
    # Fractions of a second kept (xsd:dateTime allows them): a harvester that compares dct:modified must
    # see an edit made within the same second as the previous state.
    return Literal(value, datatype=XSD.dateTime)


def _abs(base: str, url: str) -> URIRef:
    if url.startswith(("http://", "https://", "ftp://")):
        return URIRef(url)
    return URIRef(base.rstrip("/") + "/" + quote(url.lstrip("/"), safe="/?=&%:"))


def _add_dataset(g: Graph, base: str, catalog: URIRef, pkg: dict[str, Any]) -> None:
    # The dataset's IRI follows its id (stable under renaming); its landing page is the page by name.
    ds = URIRef(f"{base}/opendata/datasets/{pkg['id']}#dataset")
    landing = URIRef(f"{base}/opendata/datasets/{quote(pkg['name'])}")
    g.add((catalog, DCAT.dataset, ds))
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.title, _zh(pkg["title"])))
    g.add((ds, DCTERMS.description, _zh(pkg.get("notes") or pkg["title"])))
    g.add((ds, DCTERMS.identifier, Literal(pkg["id"])))
    g.add((ds, DCAT.landingPage, landing))
    g.add((landing, RDF.type, FOAF.Document))
    for key, prop in (("metadata_created", DCTERMS.issued), ("metadata_modified", DCTERMS.modified)):
        value = _time(pkg.get(key))
        if value is not None:
            g.add((ds, prop, value))
    org = pkg["organization"]
    agent = URIRef(f"{base}/opendata/organizations/{quote(org['name'])}")
    g.add((ds, DCTERMS.publisher, agent))
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, _zh(org["title"])))
    for tag in pkg.get("tags", []):
        g.add((ds, DCAT.keyword, _zh(tag["name"])))
    for group in pkg.get("groups", []):
        theme = URIRef(f"{base}/opendata/groups/{quote(group['name'])}")
        g.add((ds, DCAT.theme, theme))
        g.add((theme, RDF.type, SKOS.Concept))
        g.add((theme, SKOS.prefLabel, _zh(group["title"])))
    freq = FREQUENCY_CODES.get(pkg.get("update_frequency") or "")
    if freq:
        node = FREQUENCY[freq]
        g.add((ds, DCTERMS.accrualPeriodicity, node))
        g.add((node, RDF.type, DCTERMS.Frequency))
    if pkg.get("spatial"):
        loc = URIRef(f"{base}/regions/{pkg['spatial']}")
        g.add((ds, DCTERMS.spatial, loc))
        g.add((loc, RDF.type, DCTERMS.Location))
    if pkg.get("temporal_start") or pkg.get("temporal_end"):
        period = URIRef(str(ds) + "#temporal")
        g.add((ds, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if pkg.get("temporal_start"):
            g.add((period, DCAT.startDate, Literal(pkg["temporal_start"], datatype=XSD.date)))
        if pkg.get("temporal_end"):
            g.add((period, DCAT.endDate, Literal(pkg["temporal_end"], datatype=XSD.date)))
    prov = pkg.get("provenance")
    if prov and prov.get("catalog_url"):
        source = _abs(base, prov["catalog_url"])
        g.add((ds, ZWOD.catalogEntry, source))
        g.add((ds, ZWOD.catalogVersion, Literal(prov.get("catalog_version"), datatype=XSD.integer)))
    g.add((ds, ZWOD.openType, Literal(pkg.get("open_type", "open"))))
    lic = LICENSES_BY_ID.get(pkg.get("license_id") or "")
    for res in pkg.get("resources", []):
        dist = URIRef(f"{base}/opendata/resources/{res['id']}")
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        access = _abs(base, res.get("url") or f"/opendata/datasets/{pkg['name']}")
        g.add((dist, DCAT.accessURL, access))
        g.add((access, RDF.type, RDFS.Resource))
        if res.get("name"):
            g.add((dist, DCTERMS.title, _zh(res["name"])))
        if res.get("description"):
            g.add((dist, DCTERMS.description, _zh(res["description"])))
        fmt = (res.get("format") or "").upper()
        if fmt:
            node = URIRef(f"http://publications.europa.eu/resource/authority/file-type/{quote(fmt)}")
            g.add((dist, DCTERMS.format, node))
            g.add((node, RDF.type, DCTERMS.MediaTypeOrExtent))
        if fmt in FORMATS:
            media = URIRef(f"https://www.iana.org/assignments/media-types/{FORMATS[fmt]}")
            g.add((dist, DCAT.mediaType, media))
            g.add((media, RDF.type, DCTERMS.MediaType))
        if lic is not None and lic.url:
            node = URIRef(lic.url)
            g.add((dist, DCTERMS.license, node))
            g.add((node, RDF.type, DCTERMS.LicenseDocument))
        if res.get("size") is not None:
            g.add((dist, DCAT.byteSize, Literal(res["size"], datatype=XSD.nonNegativeInteger)))


def catalog_graph(
    db: Session, *, actor: Actor, base_url: str, page: int = 1, page_size: int = PAGE_SIZE
) -> Graph:
    """One page of the portal's public datasets as a DCAT-AP 3 graph (anyone may read it)."""
    del actor  # the public catalog
    page = max(page, 1)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    base = base_url.rstrip("/")
    public = (SearchTerm.dataset_id == SearchDoc.dataset_id) & (SearchTerm.term == PUBLIC_TERM)
    total = db.scalar(select(func.count()).select_from(SearchDoc).join(SearchTerm, public)) or 0
    rows = db.scalars(
        select(SearchDoc.package_json)
        .join(SearchTerm, public)
        .order_by(SearchDoc.dataset_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    g = Graph()
    g.bind("dcat", DCAT)
    g.bind("dct", DCTERMS)
    g.bind("foaf", FOAF)
    g.bind("skos", SKOS)
    g.bind("hydra", HYDRA)
    g.bind("zwod", ZWOD)
    catalog = URIRef(f"{base}/catalog")
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, _zh("公共数据开放网站")))
    g.add((catalog, DCTERMS.description, _zh("政务信息资源目录中向社会开放的公共数据集。")))
    homepage = URIRef(f"{base}/opendata")
    g.add((catalog, FOAF.homepage, homepage))
    g.add((homepage, RDF.type, FOAF.Document))
    g.add(
        (
            catalog,
            DCTERMS.modified,
            Literal(dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None), datatype=XSD.dateTime),
        )
    )
    operator = URIRef(f"{base}/opendata/operator")
    g.add((catalog, DCTERMS.publisher, operator))
    g.add((operator, RDF.type, FOAF.Agent))
    g.add((operator, FOAF.name, _zh("公共数据开放网站运营单位")))
    for raw in rows:
        _add_dataset(g, base, catalog, json.loads(raw))
    last = max(1, -(-total // page_size))
    # Links keep a non-default page size: a harvester following them must not skip or repeat datasets.
    sized = f"{base}/catalog.ttl?" + (f"page_size={page_size}&" if page_size != PAGE_SIZE else "")
    paging = URIRef(f"{sized}page={page}")
    g.add((paging, RDF.type, HYDRA.PagedCollection))
    g.add((paging, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    g.add((paging, HYDRA.itemsPerPage, Literal(page_size, datatype=XSD.integer)))
    g.add((paging, HYDRA.firstPage, URIRef(f"{sized}page=1")))
    g.add((paging, HYDRA.lastPage, URIRef(f"{sized}page={last}")))
    if page > 1:
        g.add((paging, HYDRA.previousPage, URIRef(f"{sized}page={page - 1}")))
    if page < last:
        g.add((paging, HYDRA.nextPage, URIRef(f"{sized}page={page + 1}")))
    return g
