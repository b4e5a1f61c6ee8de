"""The published catalog as DCAT (W3C Data Catalog Vocabulary) with rdflib: Turtle and JSON-LD.

One ``dcat:Catalog``; one ``dcat:Dataset`` per published resource, identified by its resource page URL,
with ``dct:title`` and ``dct:description`` in Chinese, ``dct:identifier`` (the resource code),
``dct:publisher`` (a ``foaf:Organization`` named after the department), ``dcat:keyword``,
``dct:accrualPeriodicity`` (the EU frequency authority list, as DCAT-AP expects), ``dcat:theme`` (a
``skos:Concept`` of the topic tree), ``dct:issued``/``dct:modified`` and ``dct:relation`` to related
resources. What DCAT has no term for (share and open type, delivery, conditions and basis,
classification, source system, data elements) uses the zhengwu vocabulary, namespace
``https://w3id.org/zhengwu/ns/catalog#`` (prefix ``zw``). Every node that is referenced is typed, as the
DCAT-AP SHACL shapes require.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS

from zhengwu.catalog.transfer.schemas import ExportEntry

ZW = Namespace("https://w3id.org/zhengwu/ns/catalog#")
FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
# rdflib's DCAT namespace is DCAT 2 and closed; dcat:version is DCAT 3.
DCAT_VERSION = URIRef("http://www.w3.org/ns/dcat#version")

# 更新周期 → EU frequency authority table (continuously updated, daily, ..., semiannual, irregular).
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
_CONCEPTS: dict[str, dict[str, tuple[str, str]]] = {
    "share_type": {
        "unconditional": ("UnconditionalShare", "无条件共享"),
        "conditional": ("ConditionalShare", "有条件共享"),
        "none": ("NotShared", "不予共享"),
    },
    "open_type": {
        "open": ("Open", "无条件开放"),
        "conditional": ("ConditionalOpen", "有条件开放"),
        "closed": ("Closed", "不予开放"),
    },
    "delivery": {
        "api": ("ApiDelivery", "接口"),
        "table": ("TableDelivery", "库表"),
        "file": ("FileDelivery", "文件"),
    },
    "category": {
        "base": ("BaseResource", "基础信息资源"),
        "thematic": ("ThematicResource", "主题信息资源"),
        "departmental": ("DepartmentalResource", "部门信息资源"),
    },
}
_CONCEPT_CLASS = {
    "share_type": "ShareType",
    "open_type": "OpenType",
    "delivery": "Delivery",
    "category": "Category",
}
_PROPERTY = {
    "share_type": "shareType",
    "open_type": "openType",
    "delivery": "delivery",
    "category": "category",
}


def _zh(text: str) -> Literal:
    return Literal(text, lang="zh")


def _when(value: dt.datetime) -> Literal:
    return Literal(value.astimezone(dt.UTC).isoformat(), datatype=XSD.dateTime)


def _vocabulary(g: Graph) -> None:
    """The zhengwu classes and the concepts of its code lists, each typed and labelled."""
    for key, values in _CONCEPTS.items():
        cls = ZW[_CONCEPT_CLASS[key]]
        g.add((cls, RDF.type, RDFS.Class))
        for local, label in values.values():
            g.add((ZW[local], RDF.type, cls))
            g.add((ZW[local], RDF.type, SKOS.Concept))
            g.add((ZW[local], SKOS.prefLabel, _zh(label)))
    g.add((ZW.DataElement, RDF.type, RDFS.Class))


def catalog_graph(entries: Iterable[ExportEntry], *, base_url: str) -> Graph:
    """The DCAT graph of ``entries`` (published snapshots), URLs under ``base_url``."""
    base = base_url.rstrip("/")
    g = Graph()
    for prefix, ns in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("skos", SKOS),
        ("zw", ZW),
        ("freq", FREQUENCY),
    ):
        g.bind(prefix, ns)
    catalog = URIRef(f"{base}/catalog")
    platform = URIRef(f"{base}/#platform")
    scheme = URIRef(f"{base}/catalog/topics")
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, _zh("政务信息资源目录")))
    g.add((catalog, DCTERMS.description, _zh("各部门编目并经审核发布的政务信息资源。")))
    g.add((catalog, DCTERMS.publisher, platform))
    g.add((catalog, DCAT.themeTaxonomy, scheme))
    g.add((platform, RDF.type, FOAF.Organization))
    g.add((platform, FOAF.name, _zh("政务信息资源共享平台")))
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    g.add((scheme, DCTERMS.title, _zh("主题分类")))
    _vocabulary(g)
    for entry in entries:
        _dataset(g, entry, base=base, catalog=catalog, scheme=scheme)
    return g


def _dataset(g: Graph, entry: ExportEntry, *, base: str, catalog: URIRef, scheme: URIRef) -> None:
    snap = entry.snapshot
    ds = URIRef(f"{base}/catalog/resources/{quote(entry.code, safe='')}")
    g.add((catalog, DCAT.dataset, ds))
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.identifier, Literal(entry.code)))
    g.add((ds, DCTERMS.title, _zh(str(snap.get("name") or ""))))
    if snap.get("summary"):
        g.add((ds, DCTERMS.description, _zh(str(snap["summary"]))))
    if entry.version:
        g.add((ds, DCAT_VERSION, Literal(str(entry.version))))
    provider_code = str(snap.get("provider_code") or "")
    publisher = URIRef(f"{base}/departments/{quote(provider_code, safe='')}")
    g.add((ds, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Organization))
    g.add((publisher, FOAF.name, _zh(str(snap.get("provider_name") or provider_code))))
    g.add((publisher, DCTERMS.identifier, Literal(provider_code)))
    for keyword in snap.get("keywords") or []:
        g.add((ds, DCAT.keyword, _zh(str(keyword))))
    frequency = FREQUENCY_CODES.get(str(snap.get("update_frequency") or ""))
    if frequency:
        g.add((ds, DCTERMS.accrualPeriodicity, FREQUENCY[frequency]))
        g.add((FREQUENCY[frequency], RDF.type, DCTERMS.Frequency))
    if snap.get("topic_code"):
        theme = URIRef(f"{scheme}/{quote(str(snap['topic_code']), safe='')}")
        g.add((ds, DCAT.theme, theme))
        g.add((theme, RDF.type, SKOS.Concept))
        g.add((theme, SKOS.inScheme, scheme))
        g.add((theme, SKOS.notation, Literal(str(snap["topic_code"]))))
        g.add((theme, SKOS.prefLabel, _zh(str(snap.get("topic_name") or snap["topic_code"]))))
    if entry.first_published_at:
        g.add((ds, DCTERMS.issued, _when(entry.first_published_at)))
    if entry.published_at:
        g.add((ds, DCTERMS.modified, _when(entry.published_at)))
    for key, concepts in _CONCEPTS.items():
        concept = concepts.get(str(snap.get(key) or ""))
        if concept:
            g.add((ds, ZW[_PROPERTY[key]], ZW[concept[0]]))
    for key, prop in (
        ("share_conditions", "shareConditions"),
        ("share_basis", "shareBasis"),
        ("open_conditions", "openConditions"),
        ("source_system", "sourceSystem"),
    ):
        if snap.get(key):
            g.add((ds, ZW[prop], _zh(str(snap[key]))))
    if snap.get("classification"):
        g.add((ds, ZW.classification, Literal(str(snap["classification"]))))
    for related in snap.get("related_codes") or []:
        other = URIRef(f"{base}/catalog/resources/{quote(str(related), safe='')}")
        g.add((ds, DCTERMS.relation, other))
        g.add((other, RDF.type, DCAT.Dataset))
    for element in snap.get("elements") or []:
        node = URIRef(f"{ds}#{quote(str(element.get('name_en') or ''), safe='')}")
        g.add((ds, ZW.dataElement, node))
        g.add((node, RDF.type, ZW.DataElement))
        g.add((node, RDFS.label, _zh(str(element.get("name") or ""))))
        g.add((node, ZW.nameEn, Literal(str(element.get("name_en") or ""))))
        g.add((node, ZW.dataType, Literal(str(element.get("data_type") or ""))))
        if element.get("identifies_person"):
            g.add((node, ZW.identifiesPerson, Literal(True)))
