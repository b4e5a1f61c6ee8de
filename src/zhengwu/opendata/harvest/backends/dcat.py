"""The DCAT backend: a DCAT (DCAT-AP) endpoint in Turtle or JSON-LD, paged by hydra links.

Gather reads the endpoint, parses every page with rdflib and follows ``hydra:nextPage`` (hydra's older
paging, what ckanext-dcat and this portal's ``/catalog.ttl`` write) or ``hydra:next`` (the newer
``PartialCollectionView``) until there is none; a page that repeats ends the walk. Every
``dcat:Dataset`` becomes one record: a plain dictionary of what the portal needs (title, description,
keywords, publisher, periodicity, coverage, distributions), so the record hashes the same whatever the
serialisation's order. The remote id is ``dct:identifier``, or the dataset's IRI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from urllib.parse import urljoin, urlparse

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF
from rdflib.term import Node

from zhengwu.opendata.harvest.backends.base import (
    MAX_PAGES,
    Backend,
    Converted,
    RemoteError,
    RemoteRef,
    http_get,
    register_backend,
)

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
_FREQUENCIES = {
    "UPDATE_CONT": "realtime",
    "CONT": "realtime",
    "DAILY": "daily",
    "WEEKLY": "weekly",
    "MONTHLY": "monthly",
    "QUARTERLY": "quarterly",
    "ANNUAL_2": "semiannual",
    "ANNUAL": "yearly",
    "IRREG": "irregular",
}
_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}
_SLUG = re.compile(r"^[a-z0-9_-]{2,100}$")


def _format_of(content_type: str, url: str) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in _FORMATS:
        return _FORMATS[ctype]
    path = urlparse(url).path.lower()
    if path.endswith((".jsonld", ".json")):
        return "json-ld"
    if path.endswith((".rdf", ".xml")):
        return "xml"
    if "html" in ctype:
        raise RemoteError(f"DCAT 端点返回的是 HTML 而不是 RDF（Content-Type: {ctype}）")
    return "turtle"


def _text(g: Graph, node: Node, prop: URIRef) -> str:
    """The value of ``prop``, preferring Chinese, then untagged, then any language."""
    values = [o for o in g.objects(node, prop) if isinstance(o, Literal)]
    for wanted in ("zh", None):
        for v in values:
            lang = (v.language or "").lower().split("-")[0] or None
            if lang == wanted:
                return str(v).strip()
    return str(values[0]).strip() if values else ""


def _last_segment(node: Node | None) -> str:
    if node is None:
        return ""
    return str(node).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _one(g: Graph, node: Node, prop: URIRef) -> Node | None:
    return next(iter(g.objects(node, prop)), None)


@register_backend
class DcatBackend(Backend):
    """A DCAT catalogue (Turtle, JSON-LD, RDF/XML) paged with hydra."""

    name = "dcat"
    title_zh = "DCAT 目录"

    def _page(self, url: str) -> Graph:
        response = http_get(self.client, url)
        if response.status_code >= 400:
            raise RemoteError(f"远端返回 HTTP {response.status_code}：{url}")
        fmt = _format_of(response.headers.get("content-type", ""), url)
        g = Graph()
        try:
            g.parse(data=response.content, format=fmt, publicID=url)
        except Exception as exc:  # rdflib raises many parser-specific types; all mean "not valid RDF"
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise RemoteError(f"无法解析 DCAT（{fmt}）：{url}：{detail}") from None
        return g

    def gather(self, since: dt.datetime | None = None) -> list[RemoteRef]:
        """Every ``dcat:Dataset`` on every page, following hydra's next links (DCAT has no "since")."""
        del since
        refs: dict[str, RemoteRef] = {}
        url: str | None = self.url
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None or url in seen:
                return list(refs.values())
            seen.add(url)
            g = self._page(url)
            for node in g.subjects(RDF.type, DCAT.Dataset):
                record = self._record(g, node)
                refs[record["identifier"]] = RemoteRef(
                    remote_id=record["identifier"],
                    modified=record["modified"],
                    name=record["slug"],
                    url=record["landing_page"] or str(node),
                    content=record,
                )
            url = self._next(g, url)
            self.progress()
        raise RemoteError(f"DCAT 分页超过 {MAX_PAGES} 页仍未结束")

    @staticmethod
    def _next(g: Graph, current: str) -> str | None:
        for prop in (HYDRA.nextPage, HYDRA.next):
            for target in g.objects(None, prop):
                return urljoin(current, str(target))
        return None

    def _record(self, g: Graph, node: Node) -> dict[str, Any]:
        identifier = _text(g, node, DCTERMS.identifier) or str(node)
        landing = _one(g, node, DCAT.landingPage)
        slug = _last_segment(landing).lower()
        if not _SLUG.match(slug):
            slug = "dcat-" + hashlib.sha256(identifier.encode()).hexdigest()[:16]
        publisher = _one(g, node, DCTERMS.publisher)
        temporal = _one(g, node, DCTERMS.temporal)
        distributions = []
        for dist in g.objects(node, DCAT.distribution):
            access = _one(g, dist, DCAT.downloadURL) or _one(g, dist, DCAT.accessURL)
            size = _one(g, dist, DCAT.byteSize)
            distributions.append(
                {
                    "title": _text(g, dist, DCTERMS.title),
                    "description": _text(g, dist, DCTERMS.description),
                    "url": str(access) if access is not None else "",
                    "format": _last_segment(_one(g, dist, DCTERMS.format)).upper(),
                    "size": int(size) if isinstance(size, Literal) and str(size).isdigit() else None,
                }
            )
        distributions.sort(key=lambda d: (d["url"], d["title"]))
        return {
            "identifier": identifier,
            "iri": str(node),
            "slug": slug,
            "title": _text(g, node, DCTERMS.title),
            "description": _text(g, node, DCTERMS.description),
            "modified": _text(g, node, DCTERMS.modified),
            "landing_page": str(landing) if landing is not None else "",
            "keywords": sorted({str(k).strip() for k in g.objects(node, DCAT.keyword) if str(k).strip()}),
            "publisher": (_text(g, publisher, FOAF.name) or _last_segment(publisher)) if publisher else "",
            "publisher_id": _last_segment(publisher),
            "frequency": _last_segment(_one(g, node, DCTERMS.accrualPeriodicity)),
            "spatial": _last_segment(_one(g, node, DCTERMS.spatial)),
            "temporal_start": _text(g, temporal, DCAT.startDate) if temporal is not None else "",
            "temporal_end": _text(g, temporal, DCAT.endDate) if temporal is not None else "",
            "distributions": distributions,
        }

    def fetch(self, ref: RemoteRef) -> dict[str, Any]:
        """Never needed: the catalogue pages carry every record whole."""
        raise RemoteError(f"DCAT 记录 {ref.remote_id} 不在目录页中")

    def convert(self, content: dict[str, Any]) -> Converted:
        """A DCAT record as the portal's payload."""
        if not content.get("title"):
            raise RemoteError("DCAT 数据集缺少 dct:title")
        resources = []
        for dist in content.get("distributions") or []:
            url = str(dist.get("url") or "")
            if url and not re.match(r"^(https?|ftp)://", url, re.IGNORECASE):
                url = ""
            resources.append(
                {
                    "name": str(dist.get("title") or "")[:300],
                    "description": str(dist.get("description") or "")[:10_000],
                    "url": url[:1000],
                    "format": str(dist.get("format") or "")[:32],
                    "size": dist.get("size"),
                }
            )
        spatial = str(content.get("spatial") or "")
        payload: dict[str, Any] = {
            "name": content["slug"],
            "title": str(content["title"])[:300],
            "notes": str(content.get("description") or ""),
            "url": str(content.get("landing_page") or "")[:500],
            "tags": [{"name": re.sub(r"[,\n\r\t\x00]", " ", k)[:100]} for k in content.get("keywords") or []],
            "resources": resources,
            "update_frequency": _FREQUENCIES.get(str(content.get("frequency") or ""), "irregular"),
            "temporal_start": (content.get("temporal_start") or "")[:10] or None,
            "temporal_end": (content.get("temporal_end") or "")[:10] or None,
            "spatial": spatial if re.fullmatch(r"\d{6}", spatial) else None,
            "extras": [{"key": "dcat_identifier", "value": str(content["identifier"])[:10_000]}],
        }
        return Converted(
            payload=payload,
            remote_url=str(content.get("landing_page") or content.get("iri") or ""),
            remote_org=str(content.get("publisher_id") or content.get("publisher") or ""),
        )
